"""Staff badges at the kiosk: only a valid signed badge approves anything.

A badge is a :mod:`contract.tokens` token of kind ``staff`` signed with the chain's
badge key (``cloud-bridge staff badge``). The kiosk holds the public half (credential
``badge_pubkey``) and accepts a badge only when the signature is good, the badge is
for this store (or the whole chain), it is not expired (its own expiry, capped at
``[staff] badge_max_days`` after issue) and it is not on the revocation list that came
with the current price book. Anything else, including the old printable
``STAFF:<id>`` text, is refused with the reason in Chinese and English.

Every accepted badge is recorded: the approval and a ``staff.approved`` event to the
cloud in one journal transaction (who, which badge, what, when, which order).
"""

from __future__ import annotations

import logging
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from common.config import load_secret
from contract.signing import KeyMaterialError, load_public_key
from contract.tokens import RevocationList, Token, TokenError, TokenVerifier
from contract.wire.staff import StaffApprovalData

from .checkout import Checkout, Refusal, State

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from contract.pricebook import PriceBook

    from .agent import Agent

log = logging.getLogger(__name__)

# One verifier per running agent, built on the first badge (reads the credential once).
_VERIFIERS: weakref.WeakKeyDictionary[Agent, StaffBadges] = weakref.WeakKeyDictionary()

BADGE_PUBKEY_CREDENTIAL = "badge_pubkey"
BADGE_KIND = "staff"

# Why a badge is refused, for the staff member holding it (zh, en).
_REASONS: dict[str, tuple[str, str]] = {
    "unsigned": ("工牌无效：请使用新版签名工牌", "badge not accepted: use a signed badge"),
    "no_key": ("本机未配置工牌验证，请联系总部", "badge check not configured; call support"),
    "expired": ("工牌已过期，请重新领取", "badge expired; get a new one"),
    "revoked": ("工牌已注销", "badge revoked"),
    "wrong_store": ("工牌不属于本店", "badge is for another store"),
}
_INVALID = ("工牌无效", "badge not valid")


class StaffBadges:
    """Verifies badges for one kiosk (store) with the chain's public key(s)."""

    def __init__(self, store_id: str, max_days: int, keys: list[Ed25519PublicKey] | None = None) -> None:
        self.store_id = store_id
        if keys is None:
            keys = _keys_from_credentials()
        self.verifier = (TokenVerifier(keys, max_lifetime_s=max_days * 86_400)
                         if keys else None)

    def verify(self, text: str, book: PriceBook | None = None, now: float | None = None) -> Token:
        """The badge's claims; raises :class:`TokenError` (``reason``) when not acceptable."""
        if not text.startswith("S1."):
            raise TokenError("unsigned")
        if self.verifier is None:
            raise TokenError("no_key")
        revs = book.staff_revocations if book is not None else None
        self.verifier.revocations = (RevocationList.from_json(revs.model_dump(mode="json"))
                                     if revs is not None else RevocationList())
        return self.verifier.verify(text, kind=BADGE_KIND, store=self.store_id, now=now)


def _keys_from_credentials() -> list[Ed25519PublicKey]:
    blob = load_secret(BADGE_PUBKEY_CREDENTIAL)
    if not blob:
        log.warning("no %s credential: every staff badge will be refused",
                    BADGE_PUBKEY_CREDENTIAL)
        return []
    try:
        return [load_public_key(blob)]
    except KeyMaterialError as err:
        log.error("%s credential unreadable (%s): every staff badge will be refused",
                  BADGE_PUBKEY_CREDENTIAL, err)
        return []


def badge_refusal(event: str, state: State, reason: str) -> Refusal:
    """The refusal shown for a badge refused for ``reason``."""
    zh, en = _REASONS.get(reason, _INVALID)
    return Refusal(event, state, f"badge_{reason}", zh, en)


async def badge_scanned(agent: Agent, co: Checkout, text: str) -> None:
    """A staff badge was scanned: verify it, act on it, record the approval.

    At an idle kiosk (or one in maintenance) a badge toggles maintenance when
    ``[staff] badge_maintenance`` is on; otherwise it approves the age check of the cart.

    Raises:
        Refusal: the badge is not acceptable, or the checkout refuses the action.
    """
    badges = _VERIFIERS.get(agent)
    if badges is None:
        cfg = agent.config
        badges = _VERIFIERS[agent] = StaffBadges(cfg.kiosk.store_id, cfg.staff.badge_max_days)
    try:
        # The newest book the kiosk holds: its revocation list, even mid-cart.
        token = badges.verify(text, agent.book or co.book)
    except TokenError as err:
        log.warning("staff badge refused: %s", err.reason)
        raise badge_refusal("staff_approve", co.state, err.reason) from None
    maintenance = agent.config.staff.badge_maintenance
    if maintenance and co.state == State.IDLE:
        co.maintenance_on()
        action = "maintenance_on"
    elif maintenance and co.state == State.MAINTENANCE:
        co.maintenance_off()
        action = "maintenance_off"
    else:
        co.staff_approve(token.subject)
        action = "age_check"
    approval = StaffApprovalData(
        staff_id=token.subject, badge_id=token.token_id, role=token.role, action=action,
        order_no=co.order_no, at=datetime.now(UTC))
    await agent.journal.record_staff_approval(approval)
    log.info("staff %s approved %s with badge %s", token.subject, action, token.token_id)
