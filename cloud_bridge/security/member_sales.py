"""The cloud re-checks every member sale a kiosk sends (``order.completed``).

A kiosk verifies a member code offline and prices with the level in its snapshot; it
may take the member's stored value while offline within that snapshot. A kiosk is
not trusted for any of it (a stolen SD card, a modified agent, a replayed or edited
event), so when a sale names a member the bridge checks, with the chain's member
public key, that:

* the sale carries the code it was sold with (``member.code``), the code's signature
  and key are the chain's, it is a member code and it names the sale's ``member_id``;
* the code was good at some moment of the sale: issued no later than the sale ended
  (clock skew allowed), not expired (capped at ``MEMBER_CODE_MAX_AGE_S`` after issue)
  before the cart started, and the sale does not end in the future;
* the snapshot the kiosk sold with (level, points, stored value) is the one signed in
  the code;
* the sale stayed within it: points redeemed <= the snapshot's points, stored value
  taken offline <= the snapshot's stored value and <= the hard per-sale bound.

An online stored-value charge (``payment.charge``) must carry the member's code too
(:meth:`MemberSaleCheck.charge_problem`): a kiosk's credentials alone cannot spend any
member's balance.

A sale that fails is still stored (the goods left and any money taken is real), but
without its member: no points, no growth, no stored-value debit of the named member
(the sale's stored-value tender stays unpaid for staff to chase). An ERROR line with
the reason and an alert ``member_sale_refused`` (store, kiosk, order, claimed member,
reason, the member prices and stored value involved) tell staff.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.jsontypes import JsonObject
from contract.member_codes import MAX_OFFLINE_SALE_FEN, MEMBER_CODE_MAX_AGE_S, MEMBER_KIND
from contract.member_codes import parse_snapshot as _parse_snapshot
from contract.tokens import CLOCK_SKEW_S, Token, TokenError, TokenVerifier
from contract.wire.events import OrderCompletedData

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from sqlalchemy.ext.asyncio import AsyncSession

    from cloud_bridge.config import BridgeConfig

log = logging.getLogger(__name__)

ALERT_KIND = "member_sale_refused"
# An online stored-value charge: the member's code was shown at most this long ago (a
# cart filled slowly; the kiosk drops an abandoned cart well before).
CART_WINDOW_S = 30 * 60
#: discounts only a member gets (``contract.pricing``): refused sales name them in the alert
MEMBER_DISCOUNT_KINDS = frozenset({"member_price"})


@dataclass(frozen=True, slots=True)
class MemberSaleProblem:
    """Why a sale's member part is refused: a stable word and a sentence for staff."""

    reason: str
    detail: str


class MemberSaleCheck:
    """Checks the member part of kiosk sales with the chain's member public key(s)."""

    def __init__(self, keys: list[Ed25519PublicKey]) -> None:
        self.verifier = TokenVerifier(keys, max_lifetime_s=MEMBER_CODE_MAX_AGE_S)

    @classmethod
    def from_config(cls, config: BridgeConfig) -> MemberSaleCheck | None:
        """The check with the bridge's member key, or ``None`` (logged) when it has none."""
        from ..errors import Unavailable
        from ..members.member_code import signing_key

        try:
            key = signing_key(config)
        except Unavailable as err:
            log.warning("member sales are not re-checked: %s (no member code can verify "
                        "at a kiosk either)", err)
            return None
        return cls([key.public_key()])

    def problem(self, d: OrderCompletedData, now: float | None = None
                ) -> MemberSaleProblem | None:
        """Why the member part of sale ``d`` is refused, or ``None`` when it holds."""
        if d.member_id is None:
            return None
        proof = d.member
        if proof is None:
            return MemberSaleProblem("no_member_code",
                                     "the sale names a member but carries no member code")
        started, ended = d.created_at.timestamp(), d.completed_at.timestamp()
        t = time.time() if now is None else now
        if ended > t + CLOCK_SKEW_S:
            return MemberSaleProblem("sale_in_future", "the sale ends after it arrived")
        tok = self.code_of(proof.code, d.member_id, started, ended)
        if isinstance(tok, MemberSaleProblem):
            return tok
        snap = _parse_snapshot(tok.role)
        if snap is None:
            return MemberSaleProblem("malformed", "member code without a snapshot")
        if (proof.level, proof.points, proof.stored_value) != (
                snap.level, snap.points, snap.stored_value):
            return MemberSaleProblem(
                "snapshot_mismatch",
                f"sold with {proof.level}/{proof.points}/{proof.stored_value}, "
                f"the code says {snap.role()}")
        if d.points_redeemed > snap.points:
            return MemberSaleProblem(
                "over_points", f"{d.points_redeemed} points redeemed, the member had {snap.points}")
        offline = sum(t.amount for t in d.tenders if t.method == "stored_value" and t.offline)
        if offline > snap.stored_value:
            return MemberSaleProblem(
                "over_balance",
                f"{offline} fen stored value taken offline, the member had {snap.stored_value}")
        if offline > MAX_OFFLINE_SALE_FEN:
            return MemberSaleProblem(
                "over_offline_cap",
                f"{offline} fen stored value taken offline, the bound is {MAX_OFFLINE_SALE_FEN}")
        return None

    def code_of(self, code: str, member_id: str, started: float,
                ended: float) -> Token | MemberSaleProblem:
        """The verified token of ``member_id``'s ``code`` when it was good at some moment
        from ``started`` to ``ended`` (epoch s), else the :class:`MemberSaleProblem`."""
        # As of the end (issued by then), else as of the moment it was shown (its issue
        # time, or the start when issued earlier): a code shown early in a long cart
        # expires before the payment.
        tok = self._verify_at(code, ended)
        if isinstance(tok, MemberSaleProblem) and tok.reason == "stale":
            # The signature held (it is checked before the expiry): the claims are the chain's.
            issued = TokenVerifier._parse(code)[0]["iat"]
            tok = self._verify_at(code, min(max(float(issued), started), ended))
        if isinstance(tok, MemberSaleProblem):
            return tok
        if tok.subject != member_id:
            return MemberSaleProblem("member_mismatch",
                                     f"member code of {tok.subject}, not of {member_id}")
        return tok

    def charge_problem(self, code: str | None, member_id: str | None,
                       now: float | None = None) -> MemberSaleProblem | None:
        """Why an online stored-value charge of ``member_id`` is refused: the member code
        the kiosk attached the member with must be the member's and good within the last
        :data:`CART_WINDOW_S` (a cart being filled), or ``None``."""
        if not member_id or not code:
            return MemberSaleProblem("no_member_code", "stored value needs the member's code")
        t = time.time() if now is None else now
        tok = self.code_of(code, member_id, t - CART_WINDOW_S, t)
        return tok if isinstance(tok, MemberSaleProblem) else None

    def _verify_at(self, code: str, at: float) -> Token | MemberSaleProblem:
        """The token verified as of ``at`` (a moment of the sale), or the problem."""
        try:
            return self.verifier.verify(code, kind=MEMBER_KIND, now=at)
        except TokenError as err:
            if err.reason == "expired":
                return MemberSaleProblem("stale", "member code expired before the sale")
            if err.reason == "not_yet_valid":
                return MemberSaleProblem("not_yet_valid", "member code issued after the sale")
            return MemberSaleProblem(err.reason, f"member code refused: {err.reason}")


@dataclass(frozen=True, slots=True)
class CodeUse:
    """One sale that used a (verified) member code."""

    token_id: str
    member_id: str
    store: str
    kiosk: str
    order_no: str


def token_id(code: str) -> str | None:
    """The token id (``jti``) of a code whose signature was verified already."""
    jti = TokenVerifier._parse(code)[0].get("jti")
    return jti if isinstance(jti, str) and 0 < len(jti) <= 64 else None


async def replays(session: AsyncSession, uses: list[CodeUse]) -> dict[str, MemberSaleProblem]:
    """Record the first use of each code; the uses (by order number) whose code was first
    used at another kiosk: a code shown to one kiosk and replayed at another. The same
    kiosk may use a code twice (one member, two carts within its minutes)."""
    from sqlalchemy import select

    from ..db import bulk_insert
    from ..models import now as utcnow
    from .models import MemberCodeUse

    if not uses:
        return {}
    ids = sorted({u.token_id for u in uses})
    first = {r.token_id: r for r in (await session.scalars(
        select(MemberCodeUse).where(MemberCodeUse.token_id.in_(ids)))).all()}
    seen: dict[str, tuple[str, str, str]] = {t: (r.store, r.kiosk, r.order_no)
                                             for t, r in first.items()}
    out: dict[str, MemberSaleProblem] = {}
    rows: list[JsonObject] = []
    for u in uses:
        where = seen.get(u.token_id)
        if where is None:
            seen[u.token_id] = (u.store, u.kiosk, u.order_no)
            rows.append({"token_id": u.token_id, "member_id": u.member_id, "store": u.store,
                         "kiosk": u.kiosk, "order_no": u.order_no, "used_at": utcnow()})
        elif where[:2] != (u.store, u.kiosk):
            out[u.order_no] = MemberSaleProblem(
                "replayed", f"member code first used at {where[0]}/{where[1]} "
                            f"for {where[2]}")
    if rows:
        stmt, params = bulk_insert(session, MemberCodeUse, rows)
        await session.execute(stmt.on_conflict_do_nothing(
            index_elements=[MemberCodeUse.token_id]), params)
    return out


def alert_detail(d: OrderCompletedData, problem: MemberSaleProblem) -> JsonObject:
    """What staff need to chase a refused member sale (no code text: it is a bearer token)."""
    return {
        "member_id": d.member_id, "reason": problem.reason, "detail": problem.detail,
        "member_discount_fen": sum(x.amount for x in d.discounts
                                   if x.kind in MEMBER_DISCOUNT_KINDS),
        "points_redeemed": d.points_redeemed,
        "stored_value_fen": sum(t.amount for t in d.tenders if t.method == "stored_value"),
        "offline": d.offline,
    }
