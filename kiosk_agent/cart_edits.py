"""Cart edits at the kiosk: the shopper removes a line or changes a quantity; staff voids.

The shopper edits with the action cards (``KIOSK:REMOVE`` then the item to take out;
the same item scanned again adds one) or staff through the control API (``kiosk-tui``).
Raising a quantity is always free. Taking goods out is the classic way they leave a
self-checkout unpaid, so a **void** (a line removed or lowered, or the whole cart) needs
a signed staff badge:

* once the shopper has asked to pay (the payment screen, or any payment tried), every
  void, of a line or of the whole cart;
* before that, beyond ``[staff] free_voids`` voids in one cart.

A void that needs staff is refused with ``void_needs_staff`` and kept as the
**pending void**; the display asks for a badge; the next valid badge scanned (camera,
scanner) or given to the control API carries it out. No edit is made while a payment's
outcome is unknown. Every edit is journalled as a ``cart.edited`` event; a staff void
also as a ``staff.approved`` row and event (who, which badge, what, when).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from contract.tokens import Token, TokenError
from contract.wire.cart import CART_EDITED, CartEditAction, CartEditData
from contract.wire.staff import StaffApprovalData

from .checkout import MAX_LINE_QTY, Checkout, Refusal, State

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger(__name__)

# After KIOSK:REMOVE the next product scan takes one of that product out, for this long;
# long enough to find the item in the bag, short enough that a later scan adds again.
REMOVE_MODE_S = 30.0
# A void waiting for a badge is forgotten after this (staff walked over, or not).
PENDING_VOID_S = 120.0

NEEDS_STAFF = ("删除商品需店员确认，请稍候店员刷工牌", "removing items needs staff: "
               "a staff member will scan their badge")
_CART_STATES = (State.SCANNING, State.MEMBER_ATTACHED, State.AWAITING_PAYMENT)


@dataclass(frozen=True, slots=True)
class PendingVoid:
    """A void the shopper asked for that waits for a staff badge."""

    action: CartEditAction
    line_no: int
    qty: int
    asked_at: float


class CartEdits:
    """The edit rules of one agent's checkout (``agent.runtime.cart_edits``)."""

    def __init__(self, agent: Agent, clock: Callable[[], float] = time.monotonic) -> None:
        self.agent = agent
        self.clock = clock
        self.pending: PendingVoid | None = None
        self.remove_mode_until = 0.0
        self._cart_key: object = None
        self._shopper_voids = 0

    # -- rules -------------------------------------------------------------------------

    def _co(self) -> Checkout:
        co = self.agent.checkout
        if co is None:
            raise Refusal("cart_edit", State.IDLE, "not_running", "系统启动中", "starting up")
        key = getattr(co, "_cart_started_at", None)
        if key != self._cart_key:  # a new cart: its own count, nothing pending
            self._cart_key, self._shopper_voids, self.pending = key, 0, None
            self.remove_mode_until = 0.0
        return co

    def void_needs_staff(self, co: Checkout, whole_cart: bool = False) -> bool:
        """Whether a void now needs a staff badge (see the module docstring)."""
        if co.state == State.AWAITING_PAYMENT or co.attempt_no > 0:
            return True
        if whole_cart:
            return False
        return self._shopper_voids >= self.agent.config.staff.free_voids

    async def _no_open_payment(self, co: Checkout, event: str) -> None:
        if co.order_no is None:
            return
        open_ = [a for a in await co.journal.payment_attempts(order_no=co.order_no)
                 if a.status in ("pending", "unknown")]
        if open_:
            raise Refusal(event, co.state, "payment_confirming",
                          "正在确认支付，请稍候", "still confirming the last payment; please wait")

    # -- edits -------------------------------------------------------------------------

    async def set_quantity(self, line_no: int, qty: int, staff: Token | None = None) -> str:
        """Set a line's quantity; lowering it is a void. Returns ``done``/``pending``."""
        co = self._co()
        if co.state not in _CART_STATES:
            co.set_quantity(line_no, qty)  # refused with the state's reason
        if not 1 <= line_no <= len(co.items):
            raise Refusal("set_quantity", co.state, "no_such_line", "没有这一行",
                          f"no line {line_no}")
        if not 1 <= qty <= MAX_LINE_QTY:
            raise Refusal("set_quantity", co.state, "bad_qty", f"数量须在 1-{MAX_LINE_QTY} 之间",
                          f"quantity must be 1-{MAX_LINE_QTY} (0: remove the line)")
        if qty < co.items[line_no - 1].qty:
            return await self._void("set_quantity", line_no, qty, staff)
        await self._no_open_payment(co, "set_quantity")
        await self._apply("set_quantity", co, line_no, qty, staff)
        return "done"

    async def remove_line(self, line_no: int, staff: Token | None = None) -> str:
        """Take a line out (a void). Returns ``done``/``pending``."""
        co = self._co()
        if co.state not in _CART_STATES:
            co.remove_line(line_no)  # refused with the state's reason
        if not 1 <= line_no <= len(co.items):
            raise Refusal("remove_line", co.state, "no_such_line", "没有这一行",
                          f"no line {line_no}")
        return await self._void("remove_line", line_no, 0, staff)

    async def remove_one(self, barcode: str, staff: Token | None = None) -> str:
        """Remove mode: one of the scanned product comes out of the cart."""
        co = self._co()
        self.remove_mode_until = 0.0
        product = co.book.by_barcode(barcode) if co.book is not None else None
        pid = getattr(product, "product_id", None)
        for n in range(len(co.items), 0, -1):
            item = co.items[n - 1]
            if item.product.product_id == pid or item.barcode == barcode:
                if item.qty > 1:
                    return await self.set_quantity(n, item.qty - 1, staff)
                return await self.remove_line(n, staff)
        raise Refusal("remove_line", co.state, "not_in_cart", "购物车中没有该商品",
                      "this item is not in the cart")

    async def void_cart(self, staff: Token | None = None) -> str:
        """Void the whole cart (the shopper's cancel). Returns ``done``/``pending``."""
        co = self._co()
        if co.state not in _CART_STATES or not co.items:
            await co.cancel()  # leaving a completed/parked screen, or refused
            return "done"
        return await self._void("void_cart", 0, 0, staff)

    def start_remove_mode(self) -> None:
        """``KIOSK:REMOVE``: the next product scan takes one of it out."""
        co = self._co()
        if co.state not in _CART_STATES or not co.items:
            raise Refusal("remove_line", co.state, "empty_cart", "购物车为空", "the cart is empty")
        self.remove_mode_until = self.clock() + REMOVE_MODE_S

    def in_remove_mode(self) -> bool:
        return self.clock() < self.remove_mode_until

    async def approve_pending(self, staff: Token) -> bool:
        """A valid badge was scanned: carry out the pending void, if there is one."""
        self._co()
        pending = self.pending
        if pending is None or self.clock() - pending.asked_at > PENDING_VOID_S:
            self.pending = None
            return False
        self.pending = None
        if pending.action == "void_cart":
            await self.void_cart(staff)
        elif pending.action == "remove_line":
            await self.remove_line(pending.line_no, staff)
        else:
            await self.set_quantity(pending.line_no, pending.qty, staff)
        return True

    # -- internals -----------------------------------------------------------------------

    async def _void(self, action: CartEditAction, line_no: int, qty: int,
                    staff: Token | None) -> str:
        co = self._co()
        await self._no_open_payment(co, action)
        if staff is None and self.void_needs_staff(co, whole_cart=action == "void_cart"):
            if action == "remove_line" and co.state == State.AWAITING_PAYMENT \
                    and len(co.items) == 1:
                action = "void_cart"  # the last line: the whole cart
            self.pending = PendingVoid(action, line_no, qty, self.clock())
            await self._show(*NEEDS_STAFF)
            log.info("void (%s) waits for a staff badge", action)
            return "pending"
        await self._apply(action, co, line_no, qty, staff)
        if staff is None:
            self._shopper_voids += 1
        return "done"

    async def _apply(self, action: CartEditAction, co: Checkout, line_no: int, qty: int,
                     staff: Token | None) -> None:
        before_total = co.priced.total if co.priced is not None else 0
        order_no = co.order_no
        if action == "void_cart":
            pid, qty_before = None, len(co.items)
        else:
            pid, qty_before = co.items[line_no - 1].product.product_id, co.items[line_no - 1].qty
        if staff is not None:  # who approved, in the journal before the cart changes
            await self.agent.journal.record_staff_approval(StaffApprovalData(
                staff_id=staff.subject, badge_id=staff.token_id, role=staff.role,
                action="void_cart" if action == "void_cart" else "void_line",
                order_no=order_no, at=datetime.now(UTC),
                detail={"product_id": pid, "qty_before": qty_before, "qty_after": qty}))
        if action == "void_cart":
            await co.cancel("voided with staff approval" if staff else "cancelled by shopper")
        elif action == "remove_line" and co.state == State.AWAITING_PAYMENT \
                and len(co.items) == 1:
            await co.cancel("voided with staff approval")
        elif action == "remove_line":
            co.remove_line(line_no)
        else:
            co.set_quantity(line_no, qty)
        after_total = co.priced.total if co.priced is not None else 0
        edit = CartEditData(
            action=action, product_id=pid, qty_before=qty_before, qty_after=qty,
            amount_before=before_total, amount_after=after_total, order_no=order_no,
            staff_id=staff.subject if staff else None,
            badge_id=staff.token_id if staff else None, at=datetime.now(UTC))
        await self.agent.journal.append_events([(CART_EDITED, edit.model_dump(mode="json"))])
        log.info("cart edit %s (line %s -> %s) by %s", action, line_no, qty,
                 staff.subject if staff else "shopper")

    async def _show(self, zh: str, en: str) -> None:
        display = self.agent.runtime.display
        if display is None:
            return
        try:
            await display.display.show_text(zh, en)
        except Exception as err:  # a broken display must not break an edit
            log.warning("display prompt failed: %s", err)


def cart_edits(agent: Agent) -> CartEdits:
    """The agent's :class:`CartEdits` (made on first use)."""
    if agent.runtime.cart_edits is None:
        agent.runtime.cart_edits = CartEdits(agent)
    return agent.runtime.cart_edits


def verify_badge_text(agent: Agent, text: str) -> Token:
    """A badge typed or scanned into the control API, verified like a scanned one."""
    from .badges import StaffBadges, badge_refusal

    badges = agent.runtime.staff_badges
    if badges is None:
        cfg = agent.config
        badges = agent.runtime.staff_badges = StaffBadges(cfg.kiosk.store_id,
                                                          cfg.staff.badge_max_days)
    co = agent.checkout
    try:
        # The newest book the kiosk holds: its revocation list, even mid-cart.
        return badges.verify(text, agent.book or getattr(co, "book", None))
    except TokenError as err:
        raise badge_refusal("staff_approve", co.state if co else State.IDLE,
                            err.reason) from None
