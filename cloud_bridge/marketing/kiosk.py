"""Coupons at the kiosk: coupon codes, online locks, offline slots, reconciliation on ingest.

* The mini-program shows a claimed coupon as a signed, short-lived coupon code
  (:mod:`contract.coupon_codes`, the chain's member key): :func:`issue_coupon_code`.
* Every price book carries the chain's and the store's active templates as coupon
  definitions (:func:`with_coupon_definitions`), so an offline kiosk prices a coupon with
  the same terms as the cloud (:func:`contract.coupon_codes.priced_instance`).
* Online, the kiosk locks the coupon to its order by ``coupon.reserve``
  (:mod:`.rpc_handlers`); the ``order.voided`` of a cancelled cart releases it.
* Offline, the kiosk spends one of its slots (:func:`reserve_pool`, shipped in its signed
  shadow by :func:`pool_shadow`).
* When ``order.completed`` is ingested (:func:`reconcile_sales`, in the ingest's
  transaction) each applied coupon is used exactly once: a locked coupon of this order,
  or (offline) an unused one with a slot of this kiosk that was not spent before. What
  does not hold is flagged (alert ``coupon_sale_refused``); the sale stands (the goods
  left), the coupon is not used twice.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject
from contract.coupon_codes import (
    COUPON_CODE_MAX_AGE_S,
    COUPON_KIND,
    COUPON_POOL_SIZE,
    COUPON_SLOT_MAX_AGE_S,
    SLOT_KIND,
    CouponClaim,
    parse_coupon_role,
)
from contract.numbers import NumberError, cloud_order_no
from contract.pricebook import Coupon as PricedCoupon
from contract.tokens import ANY_STORE, Token, TokenError, TokenVerifier, issue_token

from ..db import rows_changed
from ..errors import Conflict
from ..models import Alert
from ..models import now as utcnow
from .models import Coupon, CouponSlot, CouponTemplate
from .service import EXPIRED, LOCKED, UNUSED, USED

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from contract.pricebook import PriceBook
    from contract.wire.events import CouponProofData, Event, OrderCompletedData

    from ..orders import CompletedSale

log = logging.getLogger(__name__)

ALERT_KIND = "coupon_sale_refused"
DEFINITION_PREFIX = "tpl"
# A pool slot with less life left than this is not counted as the kiosk's: a new one is
# reserved beside it (the old one stays good until it expires).
SLOT_MIN_LIFE_S = 24 * 3600


def definition_id(template_id: int) -> str:
    """The price book's coupon id for a template."""
    return f"{DEFINITION_PREFIX}{template_id}"


def definition_of(t: CouponTemplate) -> PricedCoupon:
    """The template as a price-book coupon definition (a claimed coupon adds its code and
    end: :func:`contract.coupon_codes.priced_instance`)."""
    return PricedCoupon.model_validate({
        "coupon_id": definition_id(t.id), "kind": t.kind, "value": t.value, "cap": t.cap,
        "threshold": t.threshold, "categories": tuple(t.categories),
        "exclude_categories": tuple(t.exclude_categories), "stackable": t.stackable,
        "member_only": True, "label_zh": t.name_zh, "label_en": t.name_en})


async def with_coupon_definitions(session: AsyncSession, store: str, book: PriceBook
                                  ) -> PriceBook:
    """``book`` carrying the active coupon templates of the chain and of ``store``."""
    at = utcnow()
    rows = (await session.scalars(select(CouponTemplate).where(
        CouponTemplate.status == "active",
        or_(CouponTemplate.store.is_(None), CouponTemplate.store == store),
        or_(CouponTemplate.valid_until.is_(None), CouponTemplate.valid_until > at))
        .order_by(CouponTemplate.id))).all()
    kept = [c for c in book.coupons if not c.coupon_id.startswith(DEFINITION_PREFIX)]
    coupons = (*kept, *(definition_of(t) for t in rows))
    if coupons == tuple(book.coupons):
        return book
    # A new model, not model_copy: the book caches its canonical bytes and indexes.
    return type(book).model_validate({**book.model_dump(), "coupons": coupons})


def issue_coupon_code(key: Ed25519PrivateKey, c: Coupon, t: CouponTemplate, *,
                      now: float | None = None) -> tuple[str, int]:
    """The coupon code of an unused coupon and when it expires (epoch s).

    Raises:
        Conflict: the coupon is not unused or has ended.
    """
    t_now = time.time() if now is None else now
    claim = CouponClaim(c.owner, definition_id(t.id), int(c.valid_until.timestamp()))
    ttl = min(COUPON_CODE_MAX_AGE_S, claim.valid_until - int(t_now))
    if c.status != UNUSED or ttl <= 0:
        raise Conflict(f"coupon {c.id} is {c.status if c.status != UNUSED else 'ended'}")
    code = issue_token(key, kind=COUPON_KIND, subject=c.id, store=t.store or ANY_STORE,
                       ttl_s=ttl, role=claim.role(), now=t_now)
    return code, int(t_now) + ttl


@dataclass(frozen=True, slots=True)
class CouponProblem:
    """Why a coupon of a sale (or a lock request) is refused: a stable word, a sentence."""

    reason: str
    detail: str


class CouponCodes:
    """Verifies coupon codes and coupon slots with the chain's member public key(s)."""

    def __init__(self, keys: list[Ed25519PublicKey]) -> None:
        self.codes = TokenVerifier(keys, max_lifetime_s=COUPON_CODE_MAX_AGE_S)
        self.slots = TokenVerifier(keys, max_lifetime_s=COUPON_SLOT_MAX_AGE_S)

    def verify(self, code: str, store: str, at: float | None = None
               ) -> tuple[Token, CouponClaim] | CouponProblem:
        """The code's token and claim when it is good at ``store`` at ``at``."""
        try:
            tok = self.codes.verify(code, kind=COUPON_KIND, store=store, now=at)
        except TokenError as err:
            return CouponProblem(f"code_{err.reason}", f"coupon code refused: {err.reason}")
        claim = parse_coupon_role(tok.role)
        if claim is None:
            return CouponProblem("code_malformed", "coupon code without its claim")
        return tok, claim

    def verify_during(self, code: str, store: str, started: float, ended: float
                      ) -> tuple[Token, CouponClaim] | CouponProblem:
        """As :meth:`verify`, good at some moment from ``started`` to ``ended``: as of the
        end, else as of when it was shown (a cart filled slowly)."""
        found = self.verify(code, store, ended)
        if isinstance(found, CouponProblem) and found.reason == "code_expired":
            issued = TokenVerifier._parse(code)[0].get("iat")
            if isinstance(issued, int):
                found = self.verify(code, store, min(max(float(issued), started), ended))
        return found

    def verify_slot(self, slot: str, store: str, kiosk: str, at: float
                    ) -> Token | CouponProblem:
        """The slot's token when it is ``store``/``kiosk``'s and good at ``at``."""
        try:
            tok = self.slots.verify(slot, kind=SLOT_KIND, store=store, now=at)
        except TokenError as err:
            return CouponProblem(f"slot_{err.reason}", f"coupon slot refused: {err.reason}")
        if tok.subject != kiosk or tok.store != store:
            return CouponProblem("slot_wrong_kiosk",
                                 f"slot of {tok.store}/{tok.subject}, used at {store}/{kiosk}")
        return tok


# ------------------------------------------------------------------ offline slot pool


async def reserve_pool(session: AsyncSession, store: str, kiosk: str, *,
                       size: int = COUPON_POOL_SIZE, now: float | None = None
                       ) -> list[CouponSlot]:
    """The kiosk's pool: its reserved slots with life left, topped up to ``size``."""
    t = int(time.time() if now is None else now)
    live = list((await session.scalars(select(CouponSlot).where(
        CouponSlot.store == store, CouponSlot.kiosk == kiosk, CouponSlot.status == "reserved",
        CouponSlot.expires_at > t + SLOT_MIN_LIFE_S).order_by(CouponSlot.issued_at,
                                                              CouponSlot.id))).all())
    for _ in range(max(0, size - len(live))):
        slot = CouponSlot(id="s" + secrets.token_hex(8), store=store, kiosk=kiosk,
                          status="reserved", issued_at=t,
                          expires_at=t + COUPON_SLOT_MAX_AGE_S)
        session.add(slot)
        live.append(slot)
    await session.flush()
    return sorted(live, key=lambda s: (s.issued_at, s.id))  # the same order every time


def slot_tokens(key: Ed25519PrivateKey, slots: list[CouponSlot]) -> list[str]:
    """The signed tokens of ``slots`` (the same text each time: Ed25519 is deterministic)."""
    return [issue_token(key, kind=SLOT_KIND, subject=s.kiosk, store=s.store,
                        ttl_s=s.expires_at - s.issued_at, now=s.issued_at, token_id=s.id)
            for s in slots]


async def pool_shadow(session: AsyncSession, command_key: Ed25519PrivateKey,
                      member_key: Ed25519PrivateKey, store: str, kiosk: str
                      ) -> tuple[str, bytes]:
    """A new signed desired shadow of the kiosk carrying its slot pool, recorded as its
    desired state: ``(topic, payload)`` to publish retained (configuration unchanged)."""
    from cloud_bridge import fleet
    from cloud_bridge.models import Kiosk
    from contract.signing import sign_shadow
    from contract.wire.shadow import ShadowDesired
    from contract.wire.topics import KioskTopics

    k = await session.scalar(select(Kiosk).where(Kiosk.store == store, Kiosk.kiosk == kiosk))
    desired_version = (k.desired_version or 0) if k is not None else 0
    applied = (k.config_version or 0) if k is not None else 0
    config = dict((k.desired or {}) if k is not None else {})
    version = max(desired_version, applied) + 1
    tokens = slot_tokens(member_key, await reserve_pool(session, store, kiosk))
    await fleet.record_desired(session, store, kiosk, version, config)
    desired = sign_shadow(ShadowDesired(version=version, config=config, store=store,
                                        kiosk=kiosk, coupon_pool=tokens), command_key)
    return KioskTopics(store, kiosk).shadow_desired, desired.encode()


# ------------------------------------------------------------------ ingest


async def release_order(session: AsyncSession, order_no: str) -> int:
    """Coupons still locked to ``order_no`` (a cart voided, or not applied in the end)
    go back to their wallets, or expire; how many."""
    at = utcnow()
    rows = (await session.scalars(select(Coupon).where(Coupon.order_no == order_no,
                                                       Coupon.status == LOCKED))).all()
    for c in rows:
        c.status = UNUSED if c.valid_until > at else EXPIRED
        c.order_no, c.locked_at = None, None
    return len(rows)


async def release_voided(session: AsyncSession, voids: list[Event]) -> int:
    """The coupons locked to newly ingested ``order.voided`` orders are released."""
    released = 0
    for ev in voids:
        no = ev.data.get("order_no")
        if not isinstance(no, str):
            continue
        try:
            released += await release_order(session, cloud_order_no(ev.store, ev.kiosk, no))
        except NumberError:
            continue
    return released


async def reconcile_sales(session: AsyncSession, sales: list[CompletedSale],
                          codes: CouponCodes | None) -> list[Alert]:
    """Use each applied coupon of newly ingested sales once; alerts for what does not hold.

    Runs after the member screening: a sale whose member was refused has no member, so
    its coupons (every one a member's) are refused too.
    """
    alerts: list[Alert] = []
    for sale in sales:
        d, ev = sale.data, sale.event
        if not d.coupons and not d.coupon_proofs:
            continue
        order_no = cloud_order_no(ev.store, ev.kiosk, d.order_no)
        proofs = {p.coupon_id: p for p in d.coupon_proofs}
        for key in dict.fromkeys(d.coupons):
            p = proofs.get(key)
            if p is None:
                problem: CouponProblem | None = CouponProblem(
                    "no_coupon_code", "an applied coupon without its coupon code")
            elif codes is None:
                problem = CouponProblem("no_key", "the bridge has no member key to verify with")
            else:
                problem = await _use_one(session, codes, ev, d, order_no, p) \
                    or await _over_value(session, d, key)
            if problem is not None:
                log.error("order %s from %s/%s: coupon %s refused (%s): %s", order_no,
                          ev.store, ev.kiosk, key, problem.reason, problem.detail)
                alerts.append(Alert(kind=ALERT_KIND, store=ev.store, kiosk=ev.kiosk,
                                    order_no=order_no, detail=_detail(d, key, problem)))
        await release_order(session, order_no)  # locked but not applied in the end
    return alerts


async def _use_one(session: AsyncSession, codes: CouponCodes, ev: Event,
                   d: OrderCompletedData, order_no: str, p: CouponProofData
                   ) -> CouponProblem | None:
    found = codes.verify_during(p.code, ev.store, d.created_at.timestamp(),
                                d.completed_at.timestamp())
    if isinstance(found, CouponProblem):
        return found
    tok, claim = found
    if tok.subject != p.coupon_id:
        return CouponProblem("code_mismatch", f"code of coupon {tok.subject}, not {p.coupon_id}")
    if claim.owner != d.member_id:
        return CouponProblem("not_members_coupon",
                             f"coupon of {claim.owner}, the sale's member is {d.member_id}")
    at = utcnow()
    if p.slot is not None:
        problem = await _spend_slot(session, codes, ev, d, order_no, p.slot, p.coupon_id)
        if problem is not None:
            return problem
    # Locked to this order (online; or a lock whose reply the kiosk never saw, so it
    # spent a slot as well).
    if await rows_changed(session, update(Coupon).where(
            Coupon.id == p.coupon_id, Coupon.status == LOCKED,
            Coupon.order_no == order_no).values(status=USED, used_at=at)) == 1:
        return None
    # Offline (or a lock that did not reach the cloud): an unused coupon is used here.
    if await rows_changed(session, update(Coupon).where(
            Coupon.id == p.coupon_id, Coupon.owner == claim.owner, Coupon.status == UNUSED,
    ).values(status=USED, order_no=order_no, used_at=at)) == 1:
        return None
    c = await session.get(Coupon, p.coupon_id)
    if c is None:
        return CouponProblem("coupon_unknown", f"no coupon {p.coupon_id}")
    await session.refresh(c)
    if c.status == USED and c.order_no == order_no:
        return None  # the same sale reconciled before
    return CouponProblem("coupon_already_used" if c.status in (USED, LOCKED)
                         else f"coupon_{c.status}",
                         f"coupon {c.id} is {c.status}"
                         + (f" by order {c.order_no}" if c.order_no else ""))


async def _spend_slot(session: AsyncSession, codes: CouponCodes, ev: Event,
                      d: OrderCompletedData, order_no: str, slot: str, coupon_id: str
                      ) -> CouponProblem | None:
    tok = codes.verify_slot(slot, ev.store, ev.kiosk, d.completed_at.timestamp())
    if isinstance(tok, CouponProblem):
        return tok
    if await rows_changed(session, update(CouponSlot).where(
            CouponSlot.id == tok.token_id, CouponSlot.store == ev.store,
            CouponSlot.kiosk == ev.kiosk, CouponSlot.status == "reserved",
    ).values(status="used", order_no=order_no, coupon_id=coupon_id, used_at=utcnow())) == 1:
        return None
    row = await session.get(CouponSlot, tok.token_id)
    if row is None:
        return CouponProblem("slot_unknown", f"slot {tok.token_id} was never reserved")
    await session.refresh(row)
    if row.order_no == order_no and row.coupon_id == coupon_id:
        return None
    return CouponProblem("slot_used", f"slot {row.id} already spent by order {row.order_no}")


async def _over_value(session: AsyncSession, d: OrderCompletedData, key: str
                      ) -> CouponProblem | None:
    """A coupon discount above what its template can give (a kiosk is not trusted for the
    amount either): fixed at most its value, percentage at most its cap and its share of
    the goods."""
    c = await session.get(Coupon, key)
    t = await session.get(CouponTemplate, c.template_id) if c is not None else None
    if t is None:
        return None
    off = sum(x.amount for x in d.discounts if x.id == key)
    most = t.value if t.kind == "fixed" else d.subtotal * t.value // 10_000
    if t.kind != "fixed" and t.cap is not None:
        most = min(most, t.cap)
    if off > most:
        return CouponProblem("over_value", f"{off} fen off, the coupon gives at most {most}")
    return None


def _detail(d: OrderCompletedData, key: str, problem: CouponProblem) -> JsonObject:
    """What staff need to chase a refused coupon (no code text: it is a bearer token)."""
    return {"coupon_id": key, "member_id": d.member_id, "reason": problem.reason,
            "detail": problem.detail,
            "discount_fen": sum(x.amount for x in d.discounts if x.id == key),
            "offline": d.offline}
