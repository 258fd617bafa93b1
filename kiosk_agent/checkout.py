"""The checkout state machine: one shopper's cart from first scan to printed receipt.

States and events are explicit. :data:`TRANSITIONS` says, for each event, the
states it is allowed in and where it goes; an event in any other state is
refused with a :class:`Refusal` (reason in Chinese and English) and changes
NOTHING: every check runs before the first mutation, and journal writes happen
before the state moves.

::

    idle ──scan──> scanning ──request_payment──> awaiting_payment ──payment_started──> paying
      │  └attach_member─> member_attached ─┘        ^   │ cancel/timeout -> idle       │
      │                                             └───┴── payment_failed/unknown ────┤
      │                                                                   payment_succeeded
      │                     completed <──print_done── printing <──print_started── paid <┘
      │ maintenance_on/off (idle, completed, parked)       park (挂单) -> parked -> idle

Pricing is the pure engine ``contract.pricing.price_cart(book, lines, ctx)``,
re-run on every cart change so the display always shows what the shopper pays.
Payment goes through an injected object with ``async charge(order_no,
out_trade_no, provider, amount, currency, auth_code, *, member_id=None) -> outcome``
(the cart's member, for stored value); the payment code is passed through and never
stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, cast

from contract import variable_measure
from contract.numbers import MAX_ATTEMPT
from contract.pricebook import Coupon, PriceBook, Product
from contract.pricing import (
    AppliedDiscount,
    CartLine,
    Member,
    PricedCart,
    PricedLine,
    PricingContext,
    price_cart,
)
from contract.tenders import TenderMethod
from contract.wire.base import utcnow
from contract.wire.events import (
    ORDER_VOIDED,
    CouponProofData,
    MemberProofData,
    OrderCompletedData,
    TenderData,
)

from .journal import CommittedSale, Journal, OrderAlreadyCommitted, ParkedOrder, PaymentAttempt
from .orders import build_order, out_trade_no

log = logging.getLogger(__name__)

# Largest quantity of one line a shopper can set at a kiosk; beyond this a
# mis-typed quantity is more likely than a real purchase (staff till instead).
MAX_LINE_QTY = 99
# Most lines one kiosk cart holds (receipt length, display paging).
MAX_LINES = 100
# Most coupons on one cart (the sale event carries at most 10 coupon codes).
MAX_COUPONS = 5


class State(StrEnum):
    IDLE = "idle"
    SCANNING = "scanning"
    MEMBER_ATTACHED = "member_attached"
    AWAITING_PAYMENT = "awaiting_payment"
    PAYING = "paying"
    PAID = "paid"
    PRINTING = "printing"
    COMPLETED = "completed"
    PARKED = "parked"
    MAINTENANCE = "maintenance"


class Ev(StrEnum):
    """Checkout events (each one is a method of :class:`Checkout` of the same name)."""

    SCAN_PRODUCT = "scan_product"
    ATTACH_MEMBER = "attach_member"
    SET_QUANTITY = "set_quantity"
    REMOVE_LINE = "remove_line"
    STAFF_APPROVE = "staff_approve"
    ADD_COUPON = "add_coupon"
    USE_POINTS = "use_points"
    REQUEST_PAYMENT = "request_payment"
    PAYMENT_STARTED = "payment_started"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_UNKNOWN = "payment_unknown"
    PRINT_STARTED = "print_started"
    PRINT_DONE = "print_done"
    CANCEL = "cancel"
    TIMEOUT = "timeout"
    PARK = "park"
    MAINTENANCE_ON = "maintenance_on"
    MAINTENANCE_OFF = "maintenance_off"


S = State
_CART = (S.SCANNING, S.MEMBER_ATTACHED)

#: event -> {state it is allowed in: state it normally leads to}. Handlers may
#: pick another target only where noted (remove_line emptying the cart; pay() and
#: recover_from_error() going from awaiting_payment to paid with payment_succeeded
#: when the order was meanwhile committed from an earlier attempt found paid).
TRANSITIONS: dict[Ev, dict[State, State]] = {
    Ev.SCAN_PRODUCT: {
        S.IDLE: S.SCANNING, S.SCANNING: S.SCANNING, S.MEMBER_ATTACHED: S.MEMBER_ATTACHED,
        S.COMPLETED: S.SCANNING, S.PARKED: S.SCANNING,
    },
    Ev.ATTACH_MEMBER: {
        S.IDLE: S.MEMBER_ATTACHED, S.SCANNING: S.MEMBER_ATTACHED,
        S.AWAITING_PAYMENT: S.AWAITING_PAYMENT, S.COMPLETED: S.MEMBER_ATTACHED,
    },
    # From awaiting_payment an edit goes back to the cart (member_attached with a member);
    # kiosk_agent.cart_edits asks for a staff badge there and checks no payment is open.
    Ev.SET_QUANTITY: {S.SCANNING: S.SCANNING, S.MEMBER_ATTACHED: S.MEMBER_ATTACHED,
                      S.AWAITING_PAYMENT: S.SCANNING},
    # An emptied cart goes back to idle (scanning) or stays member_attached.
    Ev.REMOVE_LINE: {S.SCANNING: S.SCANNING, S.MEMBER_ATTACHED: S.MEMBER_ATTACHED,
                     S.AWAITING_PAYMENT: S.SCANNING},
    Ev.STAFF_APPROVE: {
        S.SCANNING: S.SCANNING, S.MEMBER_ATTACHED: S.MEMBER_ATTACHED,
        S.AWAITING_PAYMENT: S.AWAITING_PAYMENT,
    },
    # A coupon or points change the price: from the payment screen back to the cart.
    Ev.ADD_COUPON: {S.SCANNING: S.SCANNING, S.MEMBER_ATTACHED: S.MEMBER_ATTACHED,
                    S.AWAITING_PAYMENT: S.MEMBER_ATTACHED},
    Ev.USE_POINTS: {S.SCANNING: S.SCANNING, S.MEMBER_ATTACHED: S.MEMBER_ATTACHED,
                    S.AWAITING_PAYMENT: S.MEMBER_ATTACHED},
    Ev.REQUEST_PAYMENT: {S.SCANNING: S.AWAITING_PAYMENT, S.MEMBER_ATTACHED: S.AWAITING_PAYMENT},
    Ev.PAYMENT_STARTED: {S.AWAITING_PAYMENT: S.PAYING},
    Ev.PAYMENT_SUCCEEDED: {S.PAYING: S.PAID},
    Ev.PAYMENT_FAILED: {S.PAYING: S.AWAITING_PAYMENT},
    Ev.PAYMENT_UNKNOWN: {S.PAYING: S.AWAITING_PAYMENT},
    Ev.PRINT_STARTED: {S.PAID: S.PRINTING},
    Ev.PRINT_DONE: {S.PRINTING: S.COMPLETED},
    Ev.CANCEL: {
        S.SCANNING: S.IDLE, S.MEMBER_ATTACHED: S.IDLE, S.AWAITING_PAYMENT: S.IDLE,
        S.COMPLETED: S.IDLE, S.PARKED: S.IDLE,
    },
    Ev.TIMEOUT: {
        S.SCANNING: S.IDLE, S.MEMBER_ATTACHED: S.IDLE, S.AWAITING_PAYMENT: S.IDLE,
        S.COMPLETED: S.IDLE, S.PARKED: S.IDLE,
    },
    Ev.PARK: {S.SCANNING: S.PARKED, S.MEMBER_ATTACHED: S.PARKED, S.AWAITING_PAYMENT: S.PARKED},
    Ev.MAINTENANCE_ON: {S.IDLE: S.MAINTENANCE, S.COMPLETED: S.MAINTENANCE, S.PARKED: S.MAINTENANCE},
    Ev.MAINTENANCE_OFF: {S.MAINTENANCE: S.IDLE},
}

# Why an event is refused in a state, for the shopper/staff (zh, en).
_STATE_REASON: dict[State, tuple[str, str]] = {
    S.IDLE: ("请先扫描商品", "scan a product first"),
    S.SCANNING: ("正在购物中", "a sale is in progress"),
    S.MEMBER_ATTACHED: ("正在购物中", "a sale is in progress"),
    S.AWAITING_PAYMENT: ("正在等待付款", "waiting for payment"),
    S.PAYING: ("正在支付，请稍候", "payment in progress, please wait"),
    S.PAID: ("已付款，正在打印小票", "paid, the receipt is printing"),
    S.PRINTING: ("正在打印小票", "the receipt is printing"),
    S.COMPLETED: ("交易已完成", "the sale is complete"),
    S.PARKED: ("订单已挂单，请到人工收银台付款", "the order is parked; pay at a staffed till"),
    S.MAINTENANCE: ("设备维护中，暂停服务", "the kiosk is in maintenance"),
}


class CheckoutError(Exception):
    """Base of checkout errors."""


class Refusal(CheckoutError):
    """An event that is not allowed now; nothing changed.

    Attributes:
        event: the refused event; state: the state it was refused in;
        code: a stable machine-readable reason; zh / en: text for people.
    """

    def __init__(self, event: str, state: State, code: str, zh: str, en: str) -> None:
        super().__init__(f"{event} refused in {state}: {en}")
        self.event = event
        self.state = state
        self.code = code
        self.zh = zh
        self.en = en

    def message(self, language: str = "zh") -> str:
        return self.zh if language == "zh" else self.en


#: ``price_cart(book, lines, ctx)`` (``contract.pricing.price_cart`` or a stand-in).
Pricer = Callable[[PriceBook, list[CartLine], PricingContext], PricedCart]


class ChargeOutcome(Protocol):
    """What a charge comes back with (``kiosk_agent.payments.PaymentOutcome``).

    ``offline`` (a sale paid from the kiosk's offline allowance) is read when present.
    """

    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def provider_ref(self) -> str | None: ...

    @property
    def masked(self) -> str | None: ...


class PaymentGateway(Protocol):
    """What the checkout needs from payments (the real one is ``kiosk_agent.payments``)."""

    async def charge(
        self, order_no: str, out_trade_no: str, provider: str, amount: int, currency: str,
        auth_code: str, *, member_id: str | None = None,
        member_proof: MemberProofData | None = None,
    ) -> ChargeOutcome:
        """Charge a payment code (stored value: the member's balance, shown by the signed
        member code ``member_proof``); the outcome has ``status`` (paid|failed|unknown)
        and optionally ``provider_ref``, ``reason``, ``masked``."""
        ...


@dataclass
class CartItem:
    """One cart line as scanned: the product and how much of it."""

    product: Product
    qty: int = 1
    weight_g: int | None = None
    barcode: str | None = None
    #: the price a scale label printed (price-embedded variable-measure EAN-13), fen
    label_amount: int | None = None


@dataclass
class CheckoutSnapshot:
    """What the display and the control API show (copy; safe to keep)."""

    state: State
    lines: list[PricedLine]
    subtotal: int
    discount_total: int
    total: int
    currency: str
    member_id: str | None
    needs_staff: bool
    order_no: str | None
    park_no: str | None
    message_zh: str
    message_en: str
    applied: list[AppliedDiscount] = field(default_factory=list)


@dataclass
class PaymentResult:
    """What :meth:`Checkout.pay` did: the attempt's final status and the sale if paid."""

    status: str
    out_trade_no: str
    reason: str | None = None
    sale: CommittedSale | None = None


class Checkout:
    """One kiosk's checkout. Every event is a method; see :data:`TRANSITIONS`.

    Args:
        journal: where sales, attempts and parked orders go.
        book: the current ``catalog.PriceBook`` (swap with :meth:`set_price_book`).
        payments: the payment gateway (``charge``), used by :meth:`pay`.
        pricer: ``price_cart(book, lines, ctx)``; defaults to ``pricing.price_cart``.
        language: receipt language recorded on the order.
        clock: monotonic clock (tests replace it).
    """

    def __init__(
        self,
        journal: Journal,
        book: PriceBook | None,
        payments: PaymentGateway | None = None,
        *,
        pricer: Pricer | None = None,
        language: str = "zh",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.journal = journal
        self.book = book
        self.payments = payments
        self._pricer = pricer
        self.language = language
        self._clock = clock
        self.state = State.IDLE
        self.items: list[CartItem] = []
        self.member: Member | None = None
        # The member code and snapshot behind ``member`` (sent with the sale; the cloud
        # verifies it again): ``contract.wire.events.MemberProofData`` or ``None``.
        self.member_proof: MemberProofData | None = None
        self.coupons: tuple[Coupon, ...] = ()
        # The coupon codes behind ``coupons`` (``CouponProofData``), sent with the sale.
        self.coupon_proofs: tuple[CouponProofData, ...] = ()
        self.redeem_points = 0
        self.staff_approved_by: str | None = None
        self.priced: PricedCart | None = None
        self.order_no: str | None = None
        self.attempt_no = 0
        self.attempt: PaymentAttempt | None = None
        self.sale: CommittedSale | None = None
        self.parked: ParkedOrder | None = None
        self.last_activity = clock()
        self.listeners: list[Callable[[Checkout, Ev], None]] = []
        self._cart_started_at = utcnow()

    # -- plumbing ----------------------------------------------------------------

    def allowed(self, event: Ev | str) -> bool:
        return self.state in TRANSITIONS[Ev(event)]

    def _check(self, event: Ev) -> State:
        target = TRANSITIONS[event].get(self.state)
        if target is None:
            zh, en = _STATE_REASON[self.state]
            raise Refusal(event, self.state, f"invalid_in_{self.state}", zh, en)
        return target

    def _refuse(self, event: Ev, code: str, zh: str, en: str) -> Refusal:
        return Refusal(event, self.state, code, zh, en)

    def _move(self, event: Ev, target: State) -> None:
        if target != self.state:
            log.debug("checkout %s: %s -> %s", event, self.state, target)
        self.state = target
        self.last_activity = self._clock()
        for listener in list(self.listeners):
            try:
                listener(self, event)
            except Exception:  # a broken display must not break a sale
                log.exception("checkout listener failed on %s", event)

    def _clear_cart(self) -> None:
        self.items = []
        self.member = None
        self.member_proof = None
        self.coupons = ()
        self.coupon_proofs = ()
        self.redeem_points = 0
        self.staff_approved_by = None
        self.priced = None
        self.order_no = None
        self.attempt_no = 0
        self.attempt = None
        self._cart_started_at = utcnow()

    def _fresh_if_done(self) -> None:
        """Starting a new cart after a completed or parked one."""
        if self.state in (S.COMPLETED, S.PARKED):
            self._clear_cart()
            self.sale = None
            self.parked = None

    def _price(self, items: list[CartItem], member: Member | None, event: Ev,
               coupons: tuple[Coupon, ...] | None = None, redeem_points: int | None = None
               ) -> PricedCart:
        pricer = self._pricer or price_cart
        lines = [CartLine(i.product.product_id, i.qty, i.weight_g, i.label_amount)
                 for i in items]
        ctx = PricingContext(
            member=member, coupons=tuple(self.coupons if coupons is None else coupons),
            redeem_points=self.redeem_points if redeem_points is None else redeem_points,
            now=utcnow(),
        )
        try:
            if self.book is None:
                raise CheckoutError("no price book yet")
            return pricer(self.book, lines, ctx)
        except Exception as err:
            raise self._refuse(
                event, "pricing_failed", "无法计算价格，请联系店员", f"cannot price the cart: {err}"
            ) from err

    def _member_id(self) -> str | None:
        return self.member.member_id if self.member is not None else None

    def _book_version(self) -> str | None:
        return self.book.version if self.book is not None else None

    @property
    def needs_staff(self) -> bool:
        """An age-restricted product is in the cart and no staff member has checked."""
        return self.staff_approved_by is None and any(
            i.product.age_restricted for i in self.items
        )

    def set_price_book(self, book: PriceBook) -> None:
        """Use a new price book from the next cart on (a cart keeps its prices)."""
        self.book = book

    def snapshot(self) -> CheckoutSnapshot:
        priced = self.priced
        zh, en = _STATE_REASON[self.state]
        return CheckoutSnapshot(
            state=self.state,
            lines=list(priced.lines) if priced is not None else [],
            subtotal=priced.subtotal if priced is not None else 0,
            discount_total=priced.discount_total if priced is not None else 0,
            total=priced.total if priced is not None else 0,
            currency=self.book.currency if self.book is not None else "CNY",
            member_id=self._member_id(),
            needs_staff=self.needs_staff,
            order_no=self.order_no,
            park_no=self.parked.park_no if self.parked else None,
            message_zh=zh,
            message_en=en,
            applied=list(priced.applied) if priced is not None else [],
        )

    # -- cart events ---------------------------------------------------------------

    def scan_product(self, code: str, weight_g: int | None = None) -> CartItem:
        """A product barcode was scanned; the same product again adds one more."""
        ev = Ev.SCAN_PRODUCT
        target = self._check(ev)
        assert self.book is not None  # the agent refuses scans until a book is loaded
        product = self.book.by_barcode(code)
        label_amount = None
        if product is None:
            # A scale's variable-measure label (prefix 2, the chain's layouts in the book).
            found = variable_measure.lookup(self.book, code)
            if found is not None:
                product, label = found
                if label.value == "weight":
                    weight_g = label.amount
                else:
                    weight_g, label_amount = None, label.amount
        if product is None or not product.active:
            raise self._refuse(ev, "unknown_product", "未找到该商品，请联系店员",
                               f"unknown product {code}")
        weighed = product.weighed
        if weighed and label_amount is None and (weight_g is None or weight_g <= 0):
            raise self._refuse(ev, "weight_required", "称重商品请先称重", "weigh this item first")
        if not weighed and weight_g is not None:
            raise self._refuse(ev, "not_weighed", "该商品不按重量销售",
                               "this item is not sold by weight")
        fresh = self.state in (S.COMPLETED, S.PARKED)
        items = [] if fresh else [CartItem(i.product, i.qty, i.weight_g, i.barcode,
                                           i.label_amount) for i in self.items]
        member = None if fresh else self.member
        if not weighed and items and items[-1].product.product_id == product.product_id:
            if items[-1].qty >= MAX_LINE_QTY:
                raise self._refuse(ev, "qty_limit", "数量已达上限", "quantity limit reached")
            items[-1].qty += 1
        else:
            if len(items) >= MAX_LINES:
                raise self._refuse(ev, "cart_full", "购物车已满", "the cart is full")
            items.append(CartItem(product, 1, weight_g, code, label_amount))
        priced = self._price(items, member, ev)
        self._fresh_if_done()
        self.items, self.priced = items, priced
        self._move(ev, target)
        return items[-1]

    def attach_member(self, member: Member, proof: MemberProofData | None = None) -> None:
        """A member code was scanned (``pricing.Member``); prices are recomputed.

        ``proof`` is the verified code and its snapshot (``MemberProofData``), carried
        by the sale so that the cloud checks it again."""
        ev = Ev.ATTACH_MEMBER
        target = self._check(ev)
        if self.member is not None and self.state not in (S.COMPLETED,):
            raise self._refuse(ev, "member_already", "已识别会员", "a member is already attached")
        fresh = self.state == S.COMPLETED
        items = [] if fresh else self.items
        priced = self._price(items, member, ev) if items else None
        self._fresh_if_done()
        self.member, self.priced = member, priced
        self.member_proof = proof
        self._move(ev, target)

    def set_quantity(self, line_no: int, qty: int) -> None:
        """Change the quantity of line ``line_no`` (1-based); 0 is refused (use remove)."""
        ev = Ev.SET_QUANTITY
        target = self._check(ev)
        if not 1 <= line_no <= len(self.items):
            raise self._refuse(ev, "no_such_line", "没有这一行", f"no line {line_no}")
        item = self.items[line_no - 1]
        if item.product.weighed:
            raise self._refuse(ev, "weighed_qty", "称重商品不能修改数量",
                               "a weighed item has no quantity to change")
        if not 1 <= qty <= MAX_LINE_QTY:
            raise self._refuse(ev, "bad_qty", f"数量须在 1-{MAX_LINE_QTY} 之间",
                               f"quantity must be 1-{MAX_LINE_QTY}")
        items = [CartItem(i.product, i.qty, i.weight_g, i.barcode, i.label_amount)
                 for i in self.items]
        items[line_no - 1].qty = qty
        priced = self._price(items, self.member, ev)
        self.items, self.priced = items, priced
        self._move(ev, self._back_to_cart(target))

    def remove_line(self, line_no: int) -> None:
        """Take line ``line_no`` (1-based) out of the cart."""
        ev = Ev.REMOVE_LINE
        target = self._check(ev)
        if not 1 <= line_no <= len(self.items):
            raise self._refuse(ev, "no_such_line", "没有这一行", f"no line {line_no}")
        if self.state == S.AWAITING_PAYMENT and len(self.items) == 1:
            # An order number may be reserved: emptying it is a void of the cart (cancel).
            raise self._refuse(ev, "last_line", "这是最后一件商品，请取消整单",
                               "this is the last item: void the whole cart instead")
        items = [i for n, i in enumerate(self.items, start=1) if n != line_no]
        priced = self._price(items, self.member, ev) if items else None
        if not items and self.state == S.SCANNING:
            target = S.IDLE
        self.items, self.priced = items, priced
        if not items:
            self.staff_approved_by = None
        self._move(ev, self._back_to_cart(target))

    async def order_number(self) -> str:
        """This cart's order number, reserved now if it has none (a coupon is locked to it;
        leaving the cart voids it, which releases the coupon)."""
        if self.order_no is None:
            self.order_no = await self.journal.reserve_order_no()
        return self.order_no

    def coupon_check(self) -> None:
        """Refuses (changing nothing) when a coupon cannot be added now."""
        ev = Ev.ADD_COUPON
        self._check(ev)
        if self.member is None:
            raise self._refuse(ev, "coupon_needs_member", "请先出示会员码，再出示优惠券",
                               "show your member code first, then the coupon")
        if len(self.coupons) >= MAX_COUPONS:
            raise self._refuse(ev, "coupon_limit", "优惠券数量已达上限", "too many coupons")

    def add_coupon(self, coupon: Coupon, proof: CouponProofData) -> PricedCart | None:
        """A coupon (``pricebook.Coupon`` with its code) held for this cart (locked online,
        or with an offline slot: ``proof`` is its ``CouponProofData``); prices are
        recomputed. Returns the priced cart; the coupon stays on the cart even when it
        does not apply yet (a threshold not reached)."""
        ev = Ev.ADD_COUPON
        self.coupon_check()
        target = self._back_to_cart(TRANSITIONS[ev][self.state])
        if any(c.key == coupon.key for c in self.coupons):
            raise self._refuse(ev, "coupon_already", "该优惠券已使用", "this coupon is already on")
        coupons = (*self.coupons, coupon)
        priced = self._price(self.items, self.member, ev, coupons=coupons) if self.items \
            else None
        self.coupons, self.priced = coupons, priced
        self.coupon_proofs = (*self.coupon_proofs, proof)
        self._move(ev, target)
        return priced

    def use_points(self) -> PricedCart:
        """The shopper chose to pay with points: as many as the member's signed snapshot
        holds and the rules allow (``PointsRules``); the priced cart."""
        ev = Ev.USE_POINTS
        target = self._check(ev)
        balance = self.member.points_balance if self.member is not None else 0
        if self.member is None:
            raise self._refuse(ev, "points_needs_member", "请先出示会员码",
                               "show your member code first")
        if balance <= 0:
            raise self._refuse(ev, "no_points", "积分不足", "no points to use")
        if not self.items:
            raise self._refuse(ev, "empty_cart", "购物车为空", "the cart is empty")
        priced = self._price(self.items, self.member, ev, redeem_points=balance)
        if priced.points_redeemed <= 0:
            raise self._refuse(ev, "points_not_usable", "本单不能使用积分",
                               "points cannot be used on this cart")
        self.redeem_points, self.priced = balance, priced
        self._move(ev, self._back_to_cart(target))
        return priced

    def _back_to_cart(self, target: State) -> State:
        """An edit made on the payment screen returns to the cart it came from."""
        if target == S.SCANNING and self.member is not None:
            return S.MEMBER_ATTACHED
        return target

    def staff_approve(self, staff_id: str) -> None:
        """Staff checked the shopper's age (a staff badge was scanned)."""
        ev = Ev.STAFF_APPROVE
        target = self._check(ev)
        if not staff_id:
            raise self._refuse(ev, "no_staff", "需要店员工牌", "a staff badge is required")
        self.staff_approved_by = staff_id
        self._move(ev, target)

    def request_payment(self) -> PricedCart:
        """The shopper pressed pay: the cart is priced and shown with 请出示付款码."""
        ev = Ev.REQUEST_PAYMENT
        target = self._check(ev)
        if not self.items:
            raise self._refuse(ev, "empty_cart", "购物车为空", "the cart is empty")
        if self.needs_staff:
            raise self._refuse(ev, "needs_staff", "含限购商品，请店员确认年龄",
                               "age-restricted item: staff must check age")
        priced = self._price(self.items, self.member, ev)
        if priced.total <= 0:
            raise self._refuse(ev, "zero_total", "应付金额为零，请联系店员",
                               "nothing to pay; ask staff")
        self.priced = priced
        self._move(ev, target)
        return priced

    # -- payment events ------------------------------------------------------------

    async def payment_started(self, provider: str) -> PaymentAttempt:
        """A payment code was shown: the attempt is persisted before any charge request."""
        ev = Ev.PAYMENT_STARTED
        target = self._check(ev)
        if self.needs_staff:
            raise self._refuse(ev, "needs_staff", "含限购商品，请店员确认年龄",
                               "age-restricted item: staff must check age")
        order_no = self.order_no or await self.journal.reserve_order_no()
        self.order_no = order_no  # reserved numbers stay with this cart (retries reuse it)
        attempt_no = self.attempt_no + 1
        if attempt_no > MAX_ATTEMPT:
            # Every attempt number must fit the provider's out_trade_no (never truncated).
            raise self._refuse(ev, "too_many_attempts", "支付尝试次数过多，请联系店员",
                               "too many payment attempts; ask staff")
        trade_no = out_trade_no(order_no, attempt_no)
        priced = self.priced
        assert priced is not None  # request_payment priced the cart (awaiting_payment)
        # The sale goes with the attempt: paid after a restart, it is committed from this.
        # pydantic checks the method against the tender registry (contract.tenders).
        draft = self._order(TenderData(method=cast(TenderMethod, provider),
                                       amount=priced.total,
                                       currency=priced.currency, out_trade_no=trade_no))
        attempt = await self.journal.begin_payment_attempt(
            order_no, trade_no, provider, priced.total, priced.currency, draft=draft,
        )
        self.attempt_no, self.attempt = attempt_no, attempt
        self._move(ev, target)
        return attempt

    async def payment_succeeded(
        self, provider_ref: str | None = None, masked: str | None = None, offline: bool = False
    ) -> CommittedSale:
        """The charge was paid: the sale, its events and its receipt job commit at once."""
        ev = Ev.PAYMENT_SUCCEEDED
        target = self._check(ev)
        attempt = self.attempt
        assert attempt is not None and self.order_no is not None
        tender = TenderData(
            method=cast(TenderMethod, attempt.provider), amount=attempt.amount,
            currency=attempt.currency,
            out_trade_no=attempt.out_trade_no, provider_ref=provider_ref, masked=masked,
            offline=offline,
        )
        try:
            sale = await self.journal.commit_sale(self._order(tender, offline))
        except OrderAlreadyCommitted:
            # An earlier attempt on this order was found paid meanwhile and its sale was
            # committed from its draft: this payment is the second one. Reported as an
            # orphan (the cloud refunds it); the committed sale is this checkout's.
            await self.journal.record_orphan_payment(attempt.out_trade_no, provider_ref)
            committed = await self.journal.committed_sale(self.order_no)
            assert committed is not None
            log.warning("order %s was already committed; payment %s is refunded by the cloud",
                        self.order_no, attempt.out_trade_no)
            sale = committed
        self.sale = sale
        self._move(ev, target)
        return sale

    async def committed_elsewhere(self) -> CommittedSale | None:
        """This cart's order, if it was committed outside this checkout.

        An attempt the checkout gave up on (still unknown after the kiosk's patience)
        may be settled paid later; its sale is then committed from the draft saved with
        it. A paid attempt whose sale is not committed yet is committed here.
        """
        if self.order_no is None:
            return None
        for a in await self.journal.payment_attempts(order_no=self.order_no, status="paid"):
            await self.journal.commit_paid_attempt(a.out_trade_no)
        return await self.journal.committed_sale(self.order_no)

    async def _adopt(self, sale: CommittedSale) -> None:
        """Take the committed sale as this cart's (awaiting_payment/paying -> paid)."""
        listed = {t.out_trade_no for t in sale.order.tenders}
        for a in await self.journal.payment_attempts(order_no=sale.order_no):
            if a.out_trade_no in listed:
                self.attempt = a
        self.sale = sale
        log.warning("order %s was committed from an earlier attempt found paid; "
                    "no new charge", sale.order_no)
        self._move(Ev.PAYMENT_SUCCEEDED, S.PAID)

    def _order(self, tender: TenderData, offline: bool = False) -> OrderCompletedData:
        """The cart as the order ``tender`` pays for (``OrderCompletedData``)."""
        assert self.order_no is not None and self.priced is not None
        return build_order(
            self.priced, tenders=[tender], order_no=self.order_no,
            created_at=self._cart_started_at, member_id=self._member_id(),
            member=self.member_proof,
            coupons=list(self.priced.coupons),
            coupon_proofs=list(self.coupon_proofs),
            catalog_version=self._book_version(), offline=offline,
            language=self.language,
        )

    async def payment_failed(self, reason: str, status: str = "failed") -> PaymentAttempt:
        """The charge was declined (or ``status="reversed"``: taken back by the cloud);
        nothing is held and the shopper may show another code (new attempt)."""
        ev = Ev.PAYMENT_FAILED
        target = self._check(ev)
        assert self.attempt is not None
        self.attempt = await self.journal.set_payment_attempt_status(
            self.attempt.out_trade_no, status, reason=reason
        )
        self._move(ev, target)
        return self.attempt

    async def payment_unknown(self, reason: str) -> PaymentAttempt:
        """No clear outcome: the cloud settles it (query, then reverse); never charged twice."""
        ev = Ev.PAYMENT_UNKNOWN
        target = self._check(ev)
        assert self.attempt is not None
        self.attempt = await self.journal.set_payment_attempt_status(
            self.attempt.out_trade_no, "unknown", reason=reason
        )
        self._move(ev, target)
        return self.attempt

    async def before_new_attempt(self) -> PaymentResult | None:
        """What must hold before another payment attempt on this cart (any method).

        Returns the paid result when an earlier attempt was found paid meanwhile (its sale
        is adopted: the shopper is never charged again), else None.

        Raises:
            Refusal: an earlier attempt's outcome is still unknown (正在确认支付).
        """
        if self.state == S.AWAITING_PAYMENT and self.order_no is not None:
            committed = await self.committed_elsewhere()
            if committed is not None:  # paid already: never charge the shopper again
                await self._adopt(committed)
                otn = self.attempt.out_trade_no if self.attempt is not None else ""
                return PaymentResult("paid", otn, "already_paid", committed)
            # An earlier attempt whose outcome is still unknown may yet be paid: no second
            # code is charged until it settles (paid: the sale is adopted; failed: retry).
            unsettled = [a for a in await self.journal.payment_attempts(order_no=self.order_no)
                         if a.status in ("pending", "unknown")]
            if unsettled:
                raise self._refuse(Ev.PAYMENT_STARTED, "payment_confirming",
                                   "正在确认支付，请稍候，请勿重复付款",
                                   "still confirming the last payment; please wait, "
                                   "do not pay again")
        return None

    async def pay(self, provider: str, auth_code: str) -> PaymentResult:
        """Run one payment attempt end to end through the injected gateway.

        ``auth_code`` is handed to the gateway and forgotten; it is never logged
        or stored. Any exception from the gateway counts as an unknown outcome.
        """
        if self.payments is None:
            raise CheckoutError("no payment gateway configured")
        already = await self.before_new_attempt()
        if already is not None:
            return already
        attempt = await self.payment_started(provider)
        try:
            outcome = await self.payments.charge(
                attempt.order_no, attempt.out_trade_no, provider, attempt.amount,
                attempt.currency, auth_code, member_id=self._member_id(),
                member_proof=self.member_proof,
            )
            status, reason = str(outcome.status), outcome.reason
        except Exception as err:  # a lost reply is not a decline
            # Only the type: the message of a foreign exception may quote the payment code.
            log.warning("payment %s: no outcome (%s)", attempt.out_trade_no, type(err).__name__)
            status, reason, outcome = "unknown", type(err).__name__, None
        finally:
            del auth_code
        return await self.payment_outcome(attempt, status, reason, outcome)

    async def payment_outcome(self, attempt: PaymentAttempt, status: str, reason: str | None,
                              outcome: ChargeOutcome | None = None) -> PaymentResult:
        """The gateway's outcome of ``attempt`` (paying): paid, failed/reversed or unknown."""
        if status == "paid":
            sale = await self.payment_succeeded(
                provider_ref=outcome.provider_ref if outcome is not None else None,
                masked=outcome.masked if outcome is not None else None,
                offline=bool(getattr(outcome, "offline", False)),  # optional (see ChargeOutcome)
            )
            return PaymentResult("paid", attempt.out_trade_no, None, sale)
        if status in ("failed", "reversed"):
            # Reversed: settled with nothing held, like a decline (not "unknown").
            await self.payment_failed(reason or ("declined" if status == "failed" else status),
                                      status)
            return PaymentResult(status, attempt.out_trade_no, reason)
        await self.payment_unknown(reason or f"outcome {status}")
        return PaymentResult("unknown", attempt.out_trade_no, reason)

    # -- after payment -------------------------------------------------------------

    def print_started(self) -> None:
        ev = Ev.PRINT_STARTED
        self._move(ev, self._check(ev))

    def print_done(self) -> None:
        """The receipt printed (or was queued for when the printer is back)."""
        ev = Ev.PRINT_DONE
        self._move(ev, self._check(ev))

    # -- leaving the sale ----------------------------------------------------------

    async def _void(self, ev: Ev, reason: str) -> None:
        if self.order_no is not None:
            if await self.journal.committed_sale(self.order_no) is not None:
                # Committed from an earlier attempt found paid: the sale stands.
                log.warning("order %s left at the kiosk was committed (paid); not voided",
                            self.order_no)
                return
            # A reserved order number (a payment was tried) is closed visibly.
            await self.journal.append_events(
                [(ORDER_VOIDED, {"order_no": self.order_no, "reason": reason,
                                 "attempts": self.attempt_no})]
            )

    async def cancel(self, reason: str = "cancelled by shopper") -> None:
        """Void the cart (or leave a completed/parked screen)."""
        ev = Ev.CANCEL
        target = self._check(ev)
        if self.state in _CART or self.state == S.AWAITING_PAYMENT:
            await self._void(ev, reason)
        self._clear_cart()
        self.sale = None
        self.parked = None
        self._move(ev, target)

    async def timeout(self) -> None:
        """The abandoned-cart timer fired: void the cart, back to idle."""
        ev = Ev.TIMEOUT
        target = self._check(ev)
        if self.state in _CART or self.state == S.AWAITING_PAYMENT:
            await self._void(ev, "abandoned cart")
        self._clear_cart()
        self.sale = None
        self.parked = None
        self._move(ev, target)

    async def recover_from_error(self, reason: str) -> None:
        """After an unexpected error inside an event: back to a state the shopper can
        use, losing nothing. A payment in flight becomes unknown (the cloud settles it;
        a restart would do the same); a committed sale goes on to its receipt."""
        if self.state == S.PAYING:
            attempt = self.attempt
            try:
                if attempt is not None:
                    (now,) = [a for a in await self.journal.payment_attempts(
                        order_no=attempt.order_no) if a.out_trade_no == attempt.out_trade_no]
                    if now.status == "pending":
                        now = await self.journal.set_payment_attempt_status(
                            attempt.out_trade_no, "unknown", reason=reason)
                    self.attempt = now
                committed = await self.committed_elsewhere()
            except Exception:  # the journal itself may be what failed
                log.exception("checkout recovery could not read the journal")
                committed = None
            if committed is not None:
                self.sale = committed
                self._move(Ev.PAYMENT_SUCCEEDED, S.PAID)
            else:
                self._move(Ev.PAYMENT_UNKNOWN, S.AWAITING_PAYMENT)
        elif self.state in (S.PAID, S.PRINTING):
            # The sale and its receipt job are committed; the spooler prints it.
            self._move(Ev.PRINT_DONE, S.COMPLETED)

    def idle_for(self) -> float:
        """Seconds since the last event (the agent's abandoned-cart timer reads this)."""
        return self._clock() - self.last_activity

    async def park(self) -> ParkedOrder:
        """挂单: save the cart for payment at a staffed till; returns the park number."""
        ev = Ev.PARK
        target = self._check(ev)
        if not self.items:
            raise self._refuse(ev, "empty_cart", "购物车为空", "the cart is empty")
        priced = self.priced
        assert priced is not None  # a cart with lines is priced
        cart = {
            "lines": [
                {"product_id": i.product.product_id, "barcode": i.barcode, "qty": i.qty,
                 "weight_g": i.weight_g, "name_zh": i.product.name_zh}
                for i in self.items
            ],
            "member_id": self._member_id(),
            "catalog_version": self._book_version(),
            "total": priced.total,
            "order_no": self.order_no,
        }
        parked = await self.journal.park_order(cart, priced.total, priced.currency)
        self._clear_cart()
        self.parked = parked
        self._move(ev, target)
        return parked

    def maintenance_on(self) -> None:
        ev = Ev.MAINTENANCE_ON
        target = self._check(ev)
        self._clear_cart()
        self.sale = None
        self.parked = None
        self._move(ev, target)

    def maintenance_off(self) -> None:
        ev = Ev.MAINTENANCE_OFF
        self._move(ev, self._check(ev))
