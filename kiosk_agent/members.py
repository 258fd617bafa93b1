"""Member codes at the kiosk: verified offline with the chain's public key.

The mini-program shows a :mod:`contract.tokens` token of kind ``member`` signed by the
bridge's member-code key (``GET /api/v1/mp/member/code``). The kiosk holds the public
half (credential ``member_pubkey``, in every bundle of ``cloud-bridge kiosk add``) and
accepts a code only when the signature is good, it is no older than
:data:`MEMBER_CODE_MAX_AGE_S` (a screenshot replayed later is refused whatever ``exp``
says) and it names a member. The code's ``r`` claim carries the level and a snapshot of
points and stored value (``gold/1200/5000``: level, points, fen) so an offline kiosk prices with
the member's level and never lets more points be redeemed than the member had.

The older HMAC format ``M1.<id>.<exp>.<mac>`` (a key shared with every kiosk) is
accepted only while a kiosk has no ``member_pubkey`` yet (deployments being migrated,
the demo); once the public key is installed an ``M1`` code is refused.
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass
from typing import Any

from common.config import load_secret
from contract.signing import KeyMaterialError, load_public_key
from contract.tokens import TokenError, TokenVerifier

log = logging.getLogger(__name__)

MEMBER_PUBKEY_CREDENTIAL = "member_pubkey"
MEMBER_KIND = "member"
# The bridge issues codes for 180 s; the kiosk caps their age at the same value so a
# longer ``exp`` (a bug or a stolen key's token) buys nothing.
MEMBER_CODE_MAX_AGE_S = 180
_SNAPSHOT_RE = re.compile(r"^([a-z0-9_]{1,16})/([0-9]{1,12})/([0-9]{1,12})$")

# Why a member code is refused, for the shopper (zh, en).
REASONS: dict[str, tuple[str, str]] = {
    "expired": ("会员码已过期，请刷新后再试", "member code expired; refresh it and try again"),
    "no_key": ("本机暂不支持会员码，请联系店员", "member codes not set up here; ask staff"),
    "legacy": ("会员码版本过旧，请更新小程序", "old member code; update the mini-program"),
}
INVALID = ("会员码无效", "member code not valid")

_VERIFIERS: weakref.WeakKeyDictionary[Any, MemberCodes] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class MemberSnapshot:
    """A verified member code: who, which level, and what they had when it was shown."""

    member_id: str
    level: str
    points: int
    stored_value: int
    expires_at: int


class MemberCodeError(Exception):
    """A member code the kiosk does not accept; ``reason`` is a stable word."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MemberCodes:
    """Verifies member codes with the chain's public key(s)."""

    def __init__(self, keys: list[Any] | None = None,
                 legacy_key: str | bytes | None = None) -> None:
        if keys is None:
            keys = _keys_from_credentials()
        self.verifier = (TokenVerifier(keys, max_lifetime_s=MEMBER_CODE_MAX_AGE_S)
                         if keys else None)
        self.legacy_key = legacy_key

    def verify(self, text: str, now: float | None = None) -> MemberSnapshot:
        """The member of a scanned code; raises :class:`MemberCodeError` when refused."""
        if text.startswith("M1."):
            return self._legacy(text, now)
        if self.verifier is None:
            raise MemberCodeError("no_key")
        try:
            tok = self.verifier.verify(text, kind=MEMBER_KIND, now=now)
        except TokenError as err:
            raise MemberCodeError(err.reason) from None
        m = _SNAPSHOT_RE.match(tok.role or "")
        if m is None:
            raise MemberCodeError("malformed")
        return MemberSnapshot(tok.subject, m.group(1), int(m.group(2)), int(m.group(3)),
                              tok.effective_expires_at)

    def _legacy(self, text: str, now: float | None) -> MemberSnapshot:
        from contract.codes import verify_member_code

        if self.verifier is not None:
            raise MemberCodeError("legacy")  # the signed format is deployed: no HMAC codes
        code = verify_member_code(text, self.legacy_key, now)
        if code is None:
            raise MemberCodeError("expired_or_forged")
        return MemberSnapshot(code.member_id, "regular", 0, 0, code.expires_at)


def _keys_from_credentials() -> list[Any]:
    blob = load_secret(MEMBER_PUBKEY_CREDENTIAL)
    if not blob:
        return []
    try:
        return [load_public_key(blob)]
    except KeyMaterialError as err:
        log.error("%s credential unreadable (%s): signed member codes will be refused",
                  MEMBER_PUBKEY_CREDENTIAL, err)
        return []


def member_codes_for(agent: Any) -> MemberCodes:
    """The verifier of a running agent (built once: the credential is read once)."""
    found = _VERIFIERS.get(agent)
    if found is None:
        from .config import member_code_key

        found = _VERIFIERS[agent] = MemberCodes(legacy_key=member_code_key())
    return found


def pricing_member(snap: MemberSnapshot) -> Any:
    """The :class:`contract.pricing.Member` a checkout prices with."""
    from contract import pricing

    return pricing.Member(member_id=snap.member_id, level=snap.level,
                          points_balance=snap.points)
