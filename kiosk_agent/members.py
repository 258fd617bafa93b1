"""Member codes at the kiosk: verified offline with the chain's public key.

The mini-program shows a :mod:`contract.tokens` token of kind ``member`` signed by the
bridge's member-code key (``GET /api/v1/mp/member/code``). The kiosk holds the public
half (credential ``member_pubkey``, in every bundle of ``cloud-bridge kiosk add``) and
accepts a code only when the signature is good, it is no older than
:data:`MEMBER_CODE_MAX_AGE_S` (a screenshot replayed later is refused whatever ``exp``
says) and it names a member. The code's ``r`` claim carries the level and a snapshot of
points and stored value (``gold/1200/5000``: level, points, fen) so an offline kiosk prices with
the member's level and never lets more points be redeemed than the member had.

The older HMAC format ``M1.<id>.<exp>.<mac>`` (one key shared with every kiosk, so one
kiosk's SD card forges codes for any member) is refused with a logged reason. A kiosk
being migrated may accept it for a while only if it has no ``member_pubkey`` yet AND
``[members] legacy_hmac_until`` names a date not passed (the migration's deadline);
each such code is logged as a warning. Once the public key is installed an ``M1``
code is refused whatever the date.

The accepted code travels with the sale (``order.completed`` ``member``: the code and the
snapshot the kiosk sold with) so that the cloud verifies it again.
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from common.config import load_secret
from contract.member_codes import MEMBER_CODE_MAX_AGE_S, MEMBER_KIND, parse_snapshot
from contract.pricing import Member
from contract.signing import KeyMaterialError, load_public_key
from contract.tokens import TokenError, TokenVerifier
from contract.wire.events import MemberProofData

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from .agent import Agent

log = logging.getLogger(__name__)

MEMBER_PUBKEY_CREDENTIAL = "member_pubkey"
__all__ = ["MEMBER_CODE_MAX_AGE_S", "MEMBER_KIND", "MemberCodeError", "MemberCodes",
           "MemberSnapshot"]

# Why a member code is refused, for the shopper (zh, en).
REASONS: dict[str, tuple[str, str]] = {
    "expired": ("会员码已过期，请刷新后再试", "member code expired; refresh it and try again"),
    "no_key": ("本机暂不支持会员码，请联系店员", "member codes not set up here; ask staff"),
    "legacy": ("会员码版本过旧，请更新小程序", "old member code; update the mini-program"),
}
INVALID = ("会员码无效", "member code not valid")

_VERIFIERS: weakref.WeakKeyDictionary[Agent, MemberCodes] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class MemberSnapshot:
    """A verified member code: who, which level, and what they had when it was shown."""

    member_id: str
    level: str
    points: int
    stored_value: int
    expires_at: int
    #: the code as scanned (signed codes only): sent with the sale for the cloud's check
    code: str | None = None

    def proof(self) -> MemberProofData | None:
        """What the sale event carries for the cloud's re-check (``None``: legacy code)."""
        if self.code is None:
            return None
        return MemberProofData(code=self.code, level=self.level, points=self.points,
                               stored_value=self.stored_value)


class MemberCodeError(Exception):
    """A member code the kiosk does not accept; ``reason`` is a stable word."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MemberCodes:
    """Verifies member codes with the chain's public key(s).

    Args:
        keys: the chain's member public keys (default: the ``member_pubkey`` credential).
        legacy_key: the old HMAC key (``member_code_key``), used only during a migration.
        legacy_until: the last day (kiosk local date) HMAC codes are accepted on a kiosk
            without a public key; ``None``: never.
    """

    def __init__(self, keys: list[Ed25519PublicKey] | None = None,
                 legacy_key: str | bytes | None = None,
                 legacy_until: date | None = None) -> None:
        if keys is None:
            keys = _keys_from_credentials()
        self.verifier = (TokenVerifier(keys, max_lifetime_s=MEMBER_CODE_MAX_AGE_S)
                         if keys else None)
        self.legacy_key = legacy_key
        self.legacy_until = legacy_until

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
        snap = parse_snapshot(tok.role)
        if snap is None:
            raise MemberCodeError("malformed")
        return MemberSnapshot(tok.subject, snap.level, snap.points, snap.stored_value,
                              tok.effective_expires_at, code=text)

    def _legacy(self, text: str, now: float | None) -> MemberSnapshot:
        from contract.codes import verify_member_code

        if self.verifier is not None:  # the signed format is deployed: no HMAC codes
            log.warning("member code refused: old HMAC format (M1.); this kiosk accepts "
                        "only codes signed with the chain's member key")
            raise MemberCodeError("legacy")
        today = datetime.fromtimestamp(time.time() if now is None else now).date()
        if self.legacy_until is None or today > self.legacy_until:
            log.warning("member code refused: old HMAC format (M1.) and %s; install the "
                        "member_pubkey credential (cloud-bridge kiosk add writes it)",
                        "no [members] legacy_hmac_until" if self.legacy_until is None
                        else f"the migration ended on {self.legacy_until}")
            raise MemberCodeError("legacy")
        code = verify_member_code(text, self.legacy_key, now)
        if code is None:
            raise MemberCodeError("expired_or_forged")
        log.warning("old HMAC member code accepted for %s until the migration ends on %s "
                    "(no points or member prices are credited by the cloud for it)",
                    code.member_id, self.legacy_until)
        return MemberSnapshot(code.member_id, "regular", 0, 0, code.expires_at)


def _keys_from_credentials() -> list[Ed25519PublicKey]:
    blob = load_secret(MEMBER_PUBKEY_CREDENTIAL)
    if not blob:
        return []
    try:
        return [load_public_key(blob)]
    except KeyMaterialError as err:
        log.error("%s credential unreadable (%s): signed member codes will be refused",
                  MEMBER_PUBKEY_CREDENTIAL, err)
        return []


def member_codes_for(agent: Agent) -> MemberCodes:
    """The verifier of a running agent (built once: the credential is read once)."""
    found = _VERIFIERS.get(agent)
    if found is None:
        from .config import member_code_key

        found = _VERIFIERS[agent] = MemberCodes(
            legacy_key=member_code_key(),
            legacy_until=agent.config.members.legacy_hmac_until)
    return found


def pricing_member(snap: MemberSnapshot) -> Member:
    """The :class:`contract.pricing.Member` a checkout prices with."""
    return Member(member_id=snap.member_id, level=snap.level,
                          points_balance=snap.points)
