"""Coupons at the kiosk: the shopper shows a coupon QR from the mini-program's wallet.

The QR is a signed coupon code (:mod:`contract.coupon_codes`, the chain's member key, so
the kiosk verifies it with the ``member_pubkey`` it already has). It must be good now,
for this store, and held by the member on the cart (the member code comes first).

* **Online** the coupon is locked to this cart's order by ``coupon.reserve``
  (:mod:`cloud_bridge.marketing.rpc_handlers`); the reply carries the terms the pricing
  engine applies. A refusal (used, another member's, forged) is shown to the shopper.
  Leaving the cart voids its order number, and the cloud releases the lock.
* **Offline** (the link is down) the kiosk spends one slot of its pool (pre-reserved by
  the bridge for this kiosk, signed, shipped in the kiosk's shadow) and prices the
  coupon with the definition in its price book. A slot is spent when it is taken, even
  if the cart is then cancelled: never the same slot for two coupons. The cloud
  reconciles the slot and the coupon when the sale arrives (and flags a coupon spent at
  two kiosks).

The pool and the slots spent are kept in ``coupon_pool.json`` next to the journal.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from contract.coupon_codes import (
    COUPON_CODE_MAX_AGE_S,
    COUPON_KIND,
    COUPON_SLOT_MAX_AGE_S,
    SLOT_KIND,
    CouponClaim,
    parse_coupon_role,
    priced_instance,
)
from contract.pricebook import Coupon
from contract.tokens import TokenError, TokenVerifier
from contract.wire import rpc as wire_rpc
from contract.wire.events import CouponProofData

from .checkout import Refusal, State
from .link import LinkDown, RpcFailed, RpcTimeout

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from .agent import Agent

log = logging.getLogger(__name__)

# Long enough for the bridge to take a row lock under load, short enough that a shopper
# waits for one beep; past it the kiosk goes the offline way (a slot).
COUPON_RPC_TIMEOUT_S = 5.0

# Why a coupon is refused, for the shopper (zh, en), by reason word.
REASONS: dict[str, tuple[str, str]] = {
    "expired": ("优惠券二维码已过期，请刷新后再试", "coupon code expired; refresh it and try again"),
    "not_yours": ("该优惠券不属于当前会员", "this coupon belongs to another member"),
    "unavailable": ("该优惠券已使用或已失效", "this coupon is used or no longer valid"),
    "no_slot": ("网络中断，暂不能使用优惠券", "offline: coupons cannot be used right now"),
    "unknown_offline": ("网络中断，暂不能使用该优惠券", "offline: this coupon cannot be used now"),
    "wrong_store": ("该优惠券不能在本店使用", "this coupon is not valid in this store"),
    "no_key": ("本机暂不支持优惠券，请联系店员", "coupons not set up here; ask staff"),
}
INVALID = ("优惠券无效", "coupon not valid")


class KioskCoupons:
    """This kiosk's coupon verifier and offline slot pool.

    Args:
        keys: the chain's member public keys (the ``member_pubkey`` credential).
        store, kiosk: this kiosk's ids (a slot is good at its own kiosk only).
        state: the pool file.
    """

    def __init__(self, keys: list[Ed25519PublicKey], store: str, kiosk: str, state: Path) -> None:
        self.codes = TokenVerifier(keys, max_lifetime_s=COUPON_CODE_MAX_AGE_S) if keys else None
        self.slots = TokenVerifier(keys, max_lifetime_s=COUPON_SLOT_MAX_AGE_S) if keys else None
        self.store, self.kiosk = store, kiosk
        self.state = state
        self.pool: list[str] = []
        self.spent: set[str] = set()
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.state.read_text(encoding="utf-8"))
            self.pool = [str(t) for t in data.get("pool", [])]
            self.spent = {str(t) for t in data.get("spent", [])}
        except FileNotFoundError:
            return
        except (OSError, ValueError, AttributeError) as err:
            log.error("coupon pool %s unreadable (%s): no offline coupons until the next "
                      "pool arrives", self.state, err)

    def _save(self) -> None:
        body = json.dumps({"pool": self.pool, "spent": sorted(self.spent)}).encode()
        fd, tmp = tempfile.mkstemp(dir=self.state.parent, prefix=".coupon_pool.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def set_pool(self, tokens: list[str]) -> None:
        """A new pool from the shadow; slots spent here stay spent (the cloud may not
        have the sale yet and still lists them)."""
        self.pool = list(tokens)
        self.spent &= {self._slot_id(t) or "" for t in tokens}
        self._save()
        log.info("coupon pool: %d slot(s) usable offline", self.slots_left())

    def _slot_id(self, token: str, now: float | None = None) -> str | None:
        if self.slots is None:
            return None
        try:
            tok = self.slots.verify(token, kind=SLOT_KIND, store=self.store, now=now)
        except TokenError:
            return None
        return tok.token_id if tok.subject == self.kiosk else None

    def slots_left(self, now: float | None = None) -> int:
        """Slots good now and not spent."""
        return sum(1 for t in self.pool
                   if (sid := self._slot_id(t, now)) is not None and sid not in self.spent)

    def take_slot(self, now: float | None = None) -> str | None:
        """Spend one slot (persisted before it is used), or ``None`` when none is left."""
        for t in self.pool:
            sid = self._slot_id(t, now)
            if sid is not None and sid not in self.spent:
                self.spent.add(sid)
                self._save()
                return t
        return None

    def verify(self, text: str, now: float | None = None) -> tuple[str, CouponClaim]:
        """The coupon id and claim of a shown code; raises ``ValueError(reason)``."""
        if self.codes is None:
            raise ValueError("no_key")
        try:
            tok = self.codes.verify(text, kind=COUPON_KIND, store=self.store, now=now)
        except TokenError as err:
            raise ValueError(err.reason) from None
        claim = parse_coupon_role(tok.role)
        if claim is None:
            raise ValueError("malformed")
        return tok.subject, claim


def kiosk_coupons(agent: Agent) -> KioskCoupons:
    """The agent's coupons (made on first use: the credential is read once)."""
    found = agent.runtime.coupons
    if found is None:
        from .members import _keys_from_credentials

        cfg = agent.config
        state = Path(cfg.journal.path).with_name("coupon_pool.json")
        found = agent.runtime.coupons = KioskCoupons(
            _keys_from_credentials(), cfg.kiosk.store_id, cfg.kiosk.kiosk_id, state)
    return found


def _refusal(state: State, reason: str) -> Refusal:
    zh, en = REASONS.get(reason, INVALID)
    return Refusal("add_coupon", state, f"coupon_{reason}", zh, en)


async def coupon_at_kiosk(agent: Agent, text: str) -> None:
    """A coupon QR was scanned: verify it, hold it (online lock or offline slot), price it.

    Raises:
        Refusal: the coupon cannot be used now (nothing changed, nothing held).
    """
    co = agent.checkout
    assert co is not None
    co.coupon_check()  # a member first, a cart state that takes coupons
    coupons = kiosk_coupons(agent)
    try:
        coupon_id, claim = coupons.verify(text)
    except ValueError as err:
        log.info("coupon refused: %s", err)
        raise _refusal(co.state, str(err)) from None
    member_id = getattr(co.member, "member_id", None)
    if claim.owner != member_id:
        raise _refusal(co.state, "not_yours")
    if any(c.key == coupon_id for c in co.coupons):
        raise Refusal("add_coupon", co.state, "coupon_already", "该优惠券已使用",
                      "this coupon is already on")
    link = agent.runtime.link
    if link is not None and link.connected.is_set():
        order_no = await co.order_number()
        try:
            reply = await link.request(wire_rpc.COUPON_RESERVE, {
                "code": text, "order_no": order_no, "member_id": member_id,
            }, COUPON_RPC_TIMEOUT_S)
        except RpcFailed as err:
            log.info("coupon %s refused by the cloud: %s", coupon_id, err.code)
            raise _refusal(co.state, err.code.removeprefix("coupon_")) from None
        except (LinkDown, RpcTimeout) as err:
            log.warning("coupon %s: no lock from the cloud (%s); using an offline slot",
                        coupon_id, type(err).__name__)
        else:
            co.add_coupon(Coupon.model_validate(reply["coupon"]),
                          CouponProofData(coupon_id=coupon_id, code=text))
            return
    definition = next((c for c in getattr(agent.book, "coupons", ())
                       if c.coupon_id == claim.definition), None)
    if definition is None or claim.valid_until <= time.time():
        raise _refusal(co.state, "unknown_offline")
    slot = coupons.take_slot()
    if slot is None:
        raise _refusal(co.state, "no_slot")
    co.add_coupon(priced_instance(definition, coupon_id, claim),
                  CouponProofData(coupon_id=coupon_id, code=text, slot=slot))
    log.info("coupon %s used offline with a pool slot (%d left)", coupon_id,
             coupons.slots_left())
