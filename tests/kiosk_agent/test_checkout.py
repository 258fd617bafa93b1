"""Checkout state machine: every state x event pair, and the sale paths end to end."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest

from contract.pricebook import Coupon, PriceBook
from contract.pricing import Member
from contract.wire import Event, decode
from contract.wire.events import CouponProofData, MemberProofData
from kiosk_agent.checkout import TRANSITIONS, Checkout, Ev, Refusal, State
from kiosk_agent.journal import Journal
from kiosk_agent.payments import KioskPayments
from tests.kiosk_agent.sales import FakePayments, Outcome, files_containing, make_book

PAYMENT_CODE = "134567890123456789"  # a WeChat-shaped payment code (test value)
DEMO_BOOK = Path(__file__).resolve().parents[2] / "config/pricebook.example.json"


@pytest.fixture
def book() -> PriceBook:
    """The small test price book (water, chips, age-restricted beer, weighed apples)."""
    return make_book()


@pytest.fixture
def checkout(journal: Journal, book: PriceBook) -> Checkout:
    """A checkout on the test journal and book with a fake gateway that pays."""
    return Checkout(journal, book, FakePayments())


async def drive_to(co: Checkout, state: State) -> None:
    """Bring a fresh checkout into ``state`` through valid events only."""
    if state == State.IDLE:
        return
    if state == State.MAINTENANCE:
        co.maintenance_on()
        return
    co.scan_product("SKU-WATER")
    if state == State.SCANNING:
        return
    if state == State.MEMBER_ATTACHED:
        co.attach_member(Member("m1"))
        return
    if state == State.PARKED:
        await co.park()
        return
    co.request_payment()
    if state == State.AWAITING_PAYMENT:
        return
    await co.payment_started("wechat")
    if state == State.PAYING:
        return
    await co.payment_succeeded("wx-ref")
    if state == State.PAID:
        return
    co.print_started()
    if state == State.PRINTING:
        return
    co.print_done()
    assert state == State.COMPLETED


async def fire(co: Checkout, ev: Ev) -> None:
    """Send ``ev`` with ordinary arguments."""
    actions = {
        Ev.SCAN_PRODUCT: lambda: co.scan_product("SKU-WATER"),
        Ev.ATTACH_MEMBER: lambda: co.attach_member(Member("m2")),
        Ev.SET_QUANTITY: lambda: co.set_quantity(1, 3),
        Ev.REMOVE_LINE: lambda: co.remove_line(1),
        Ev.STAFF_APPROVE: lambda: co.staff_approve("S1"),
        Ev.ADD_COUPON: lambda: co.add_coupon(
            Coupon(coupon_id="tpl1", code="c1", kind="fixed", value=50),
            CouponProofData(coupon_id="c1", code="S1.x.y")),
        Ev.USE_POINTS: lambda: co.use_points(),  # the members here hold no points: refused
        Ev.REQUEST_PAYMENT: lambda: co.request_payment(),
        Ev.PAYMENT_STARTED: lambda: co.payment_started("wechat"),
        Ev.PAYMENT_SUCCEEDED: lambda: co.payment_succeeded("wx-ref"),
        Ev.PAYMENT_FAILED: lambda: co.payment_failed("declined"),
        Ev.PAYMENT_UNKNOWN: lambda: co.payment_unknown("timeout"),
        Ev.PRINT_STARTED: lambda: co.print_started(),
        Ev.PRINT_DONE: lambda: co.print_done(),
        Ev.CANCEL: lambda: co.cancel(),
        Ev.TIMEOUT: lambda: co.timeout(),
        Ev.PARK: lambda: co.park(),
        Ev.MAINTENANCE_ON: lambda: co.maintenance_on(),
        Ev.MAINTENANCE_OFF: lambda: co.maintenance_off(),
    }
    result = actions[ev]()
    if hasattr(result, "__await__"):
        await result


async def observe(co: Checkout) -> tuple:
    """Everything a refusal must leave unchanged, including the journal's contents."""
    return (
        co.state,
        [(i.product.product_id, i.qty, i.weight_g) for i in co.items],
        co.member, co.order_no, co.attempt_no, co.attempt, co.staff_approved_by,
        co.sale, co.parked, co.priced,
        await co.journal.export_records(),
    )


S, E = State, Ev

# The expected behaviour, written here and not read from the code's TRANSITIONS, so that
# a wrong entry in the code fails a test: per state, the events it accepts and where each
# leads (``drive_to`` brings every state about with one line, SKU-WATER, in the cart).
# Every event not listed for a state is refused and changes nothing.
EXPECTED: dict[State, dict[Ev, State]] = {
    S.IDLE: {
        E.SCAN_PRODUCT: S.SCANNING,
        E.ATTACH_MEMBER: S.MEMBER_ATTACHED,  # scan the member code before the goods
        E.MAINTENANCE_ON: S.MAINTENANCE,
    },
    S.SCANNING: {
        E.SCAN_PRODUCT: S.SCANNING,
        E.ATTACH_MEMBER: S.MEMBER_ATTACHED,
        E.SET_QUANTITY: S.SCANNING,
        E.REMOVE_LINE: S.IDLE,  # the only line removed: an empty cart is idle again
        E.STAFF_APPROVE: S.SCANNING,
        E.REQUEST_PAYMENT: S.AWAITING_PAYMENT,
        E.CANCEL: S.IDLE,
        E.TIMEOUT: S.IDLE,
        E.PARK: S.PARKED,
    },
    S.MEMBER_ATTACHED: {
        # ATTACH_MEMBER is refused: one member per sale.
        E.SCAN_PRODUCT: S.MEMBER_ATTACHED,
        E.ADD_COUPON: S.MEMBER_ATTACHED,  # a coupon needs a member (refused elsewhere)
        E.SET_QUANTITY: S.MEMBER_ATTACHED,
        E.REMOVE_LINE: S.MEMBER_ATTACHED,  # an emptied cart keeps its member
        E.STAFF_APPROVE: S.MEMBER_ATTACHED,
        E.REQUEST_PAYMENT: S.AWAITING_PAYMENT,
        E.CANCEL: S.IDLE,
        E.TIMEOUT: S.IDLE,
        E.PARK: S.PARKED,
    },
    S.AWAITING_PAYMENT: {
        E.ATTACH_MEMBER: S.AWAITING_PAYMENT,  # a member shown at the pay screen still counts
        E.STAFF_APPROVE: S.AWAITING_PAYMENT,
        # An edit goes back to the cart (kiosk_agent.cart_edits asks a badge for voids);
        # removing the only line is refused (a void of the cart: cancel).
        E.SET_QUANTITY: S.SCANNING,
        E.PAYMENT_STARTED: S.PAYING,
        E.CANCEL: S.IDLE,
        E.TIMEOUT: S.IDLE,
        E.PARK: S.PARKED,
    },
    S.PAYING: {  # nothing interrupts a payment in flight, not even cancel
        E.PAYMENT_SUCCEEDED: S.PAID,
        E.PAYMENT_FAILED: S.AWAITING_PAYMENT,
        E.PAYMENT_UNKNOWN: S.AWAITING_PAYMENT,
    },
    S.PAID: {E.PRINT_STARTED: S.PRINTING},  # paid goods are never cancelled at the kiosk
    S.PRINTING: {E.PRINT_DONE: S.COMPLETED},
    S.COMPLETED: {
        E.SCAN_PRODUCT: S.SCANNING,  # the next shopper starts right away
        E.ATTACH_MEMBER: S.MEMBER_ATTACHED,
        E.CANCEL: S.IDLE,
        E.TIMEOUT: S.IDLE,
        E.MAINTENANCE_ON: S.MAINTENANCE,
    },
    S.PARKED: {
        E.SCAN_PRODUCT: S.SCANNING,
        E.CANCEL: S.IDLE,
        E.TIMEOUT: S.IDLE,
        E.MAINTENANCE_ON: S.MAINTENANCE,
    },
    S.MAINTENANCE: {E.MAINTENANCE_OFF: S.IDLE},
}


def expected_target(state: State, ev: Ev) -> State | None:
    return EXPECTED[state].get(ev)


@pytest.mark.parametrize(("state", "ev"), list(itertools.product(State, Ev)))
async def test_every_state_event_pair(checkout: Checkout, state: State, ev: Ev):
    await drive_to(checkout, state)
    assert checkout.state == state
    target = expected_target(state, ev)
    if target is None:
        before = await observe(checkout)
        with pytest.raises(Refusal) as info:
            await fire(checkout, ev)
        assert info.value.state == state and info.value.event == ev
        assert info.value.zh and info.value.en and info.value.code
        assert await observe(checkout) == before
    else:
        await fire(checkout, ev)
        assert checkout.state == target


def test_the_expected_table_covers_every_state():
    assert set(EXPECTED) == set(State)


def test_every_event_and_state_is_in_the_table():
    assert set(TRANSITIONS) == set(Ev)
    reachable = {s for targets in TRANSITIONS.values() for s in targets.values()}
    assert reachable | {State.IDLE} == set(State)


async def test_unknown_product_refused_and_nothing_changes(checkout: Checkout):
    checkout.scan_product("SKU-WATER")
    before = await observe(checkout)
    with pytest.raises(Refusal) as info:
        checkout.scan_product("NOPE-123")
    assert info.value.code == "unknown_product" and "未找到" in info.value.zh
    assert await observe(checkout) == before


async def test_same_product_twice_adds_quantity(checkout: Checkout):
    checkout.scan_product("SKU-WATER")
    checkout.scan_product("SKU-WATER")
    checkout.scan_product("SKU-CHIPS")
    assert [(i.product.product_id, i.qty) for i in checkout.items] == [("P1", 2), ("P2", 1)]
    assert checkout.priced.total == 2 * 200 + 650
    checkout.set_quantity(2, 3)
    assert checkout.priced.total == 400 + 3 * 650
    with pytest.raises(Refusal, match="quantity"):
        checkout.set_quantity(2, 0)
    with pytest.raises(Refusal):
        checkout.set_quantity(9, 1)


async def test_weighed_item_needs_a_weight(checkout: Checkout):
    with pytest.raises(Refusal) as info:
        checkout.scan_product("SKU-APPLE")
    assert info.value.code == "weight_required" and checkout.state == State.IDLE
    checkout.scan_product("SKU-APPLE", weight_g=500)
    assert checkout.priced.total == 600
    with pytest.raises(Refusal):
        checkout.scan_product("SKU-WATER", weight_g=100)
    with pytest.raises(Refusal):
        checkout.set_quantity(1, 2)


async def test_age_restricted_needs_staff_before_payment(checkout: Checkout):
    checkout.scan_product("SKU-BEER")
    assert checkout.needs_staff and checkout.snapshot().needs_staff
    with pytest.raises(Refusal) as info:
        checkout.request_payment()
    assert info.value.code == "needs_staff" and checkout.state == State.SCANNING
    checkout.staff_approve("S7")
    checkout.request_payment()
    assert checkout.state == State.AWAITING_PAYMENT


async def test_member_price_after_attach(checkout: Checkout):
    checkout.scan_product("SKU-CHIPS")
    assert checkout.priced.total == 650
    checkout.attach_member(Member("m1"))
    assert checkout.state == State.MEMBER_ATTACHED and checkout.priced.total == 600
    with pytest.raises(Refusal):
        checkout.attach_member(Member("m2"))


async def test_pay_commits_the_sale_and_never_stores_the_code(
    checkout: Checkout, journal: Journal, tmp_path: Path
):
    checkout.scan_product("SKU-WATER")
    checkout.scan_product("SKU-CHIPS")
    checkout.request_payment()
    result = await checkout.pay("wechat", PAYMENT_CODE)
    assert result.status == "paid" and checkout.state == State.PAID
    sale = result.sale
    assert sale.order.total == 850 and sale.order.tenders[0].out_trade_no == (
        sale.order_no + "-1"
    )
    assert sale.order.catalog_version == "test-1"
    rows = await journal.outbox_pending(10)
    assert [r.type for r in rows] == ["order.completed", "payment.settled"]
    assert decode(Event, rows[0].payload).data["order_no"] == sale.order_no
    assert [p.order_no for p in await journal.print_jobs_pending()] == [sale.order_no]
    checkout.print_started()
    checkout.print_done()
    assert checkout.state == State.COMPLETED
    await journal.close()
    assert files_containing(tmp_path, PAYMENT_CODE.encode()) == []


async def test_failed_then_retry_uses_a_new_attempt_same_order(journal: Journal, book):
    gateway = FakePayments(Outcome("failed", reason="insufficient balance"),
                           Outcome("paid", "wx-2"))
    co = Checkout(journal, book, gateway)
    co.scan_product("SKU-WATER")
    co.request_payment()
    first = await co.pay("wechat", PAYMENT_CODE)
    assert first.status == "failed" and co.state == State.AWAITING_PAYMENT
    second = await co.pay("alipay", "281234567890123456")
    assert second.status == "paid"
    (o1, t1, *_), (o2, t2, *_) = gateway.calls
    assert o1 == o2 and t1 == o1 + "-1" and t2 == o1 + "-2"
    statuses = {a.out_trade_no: a.status for a in await journal.payment_attempts()}
    assert statuses == {t1: "failed", t2: "paid"}


async def test_gateway_error_is_unknown_not_declined(journal: Journal, book):
    co = Checkout(journal, book, FakePayments(TimeoutError("rpc deadline")))
    co.scan_product("SKU-WATER")
    co.request_payment()
    result = await co.pay("wechat", PAYMENT_CODE)
    assert result.status == "unknown" and co.state == State.AWAITING_PAYMENT
    (attempt,) = await journal.payment_attempts(status="unknown")
    assert "TimeoutError" in attempt.reason


async def test_abandoned_after_attempt_voids_the_order_number(checkout: Checkout, journal):
    checkout.scan_product("SKU-WATER")
    checkout.request_payment()
    await checkout.payment_started("wechat")
    await checkout.payment_failed("expired code")
    order_no = checkout.order_no
    await checkout.timeout()
    assert checkout.state == State.IDLE and checkout.items == [] and checkout.order_no is None
    rows = await journal.outbox_pending(10)
    voided = [decode(Event, r.payload).data for r in rows if r.type == "order.voided"]
    assert voided == [{"order_no": order_no, "reason": "abandoned cart", "attempts": 1}]


async def test_park_saves_cart_with_readable_number(checkout: Checkout, journal: Journal):
    checkout.scan_product("SKU-WATER")
    checkout.scan_product("SKU-CHIPS")
    parked = await checkout.park()
    assert checkout.state == State.PARKED and parked.park_no.startswith("P")
    assert checkout.snapshot().park_no == parked.park_no and checkout.items == []
    (stored,) = await journal.parked_orders()
    assert stored.total == 850 and [ln["product_id"] for ln in stored.data["lines"]] == [
        "P1", "P2"
    ]
    checkout.scan_product("SKU-WATER")  # the next shopper starts a fresh cart
    assert checkout.state == State.SCANNING and len(checkout.items) == 1
    assert checkout.parked is None


async def test_listeners_see_each_change(checkout: Checkout):
    seen = []
    checkout.listeners.append(lambda co, ev: seen.append((ev, co.state)))
    checkout.listeners.append(lambda co, ev: 1 / 0)  # a broken listener changes nothing
    checkout.scan_product("SKU-WATER")
    await checkout.cancel()
    assert seen == [(Ev.SCAN_PRODUCT, State.SCANNING), (Ev.CANCEL, State.IDLE)]
    snap = checkout.snapshot()
    assert snap.state == State.IDLE and snap.total == 0 and snap.lines == []


async def test_time_windowed_promotion_applies_at_the_kiosk(journal: Journal):
    """The demo book's flash sale (a validity window) prices the noodles at ¥3.50."""
    from contract.pricebook import load_price_book

    demo = load_price_book(DEMO_BOOK)
    co = Checkout(journal, demo, FakePayments())
    co.scan_product("6902261336277")
    assert co.priced.total == 350 and co.priced.lines[0].discount == 100


async def test_gateway_error_text_is_not_stored_it_may_hold_the_code(
    journal: Journal, book, tmp_path: Path
):
    # A gateway exception's message is not ours to trust: it may quote the payment code
    # (pydantic echoes a rejected input, an HTTP client may echo the request body).
    co = Checkout(journal, book, FakePayments(RuntimeError(f"refused body auth_code={PAYMENT_CODE}")))
    co.scan_product("SKU-WATER")
    co.request_payment()
    result = await co.pay("wechat", PAYMENT_CODE)
    assert result.status == "unknown"
    (attempt,) = await journal.payment_attempts(status="unknown")
    assert "RuntimeError" in attempt.reason and PAYMENT_CODE not in attempt.reason
    assert PAYMENT_CODE not in (result.reason or "")
    await journal.close()
    assert files_containing(tmp_path, PAYMENT_CODE.encode()) == []


async def test_pay_passes_the_member_to_the_gateway(journal: Journal, book):
    gateway = FakePayments(Outcome("failed", reason="declined"), Outcome("paid", "sv-1"))
    co = Checkout(journal, book, gateway)
    co.scan_product("SKU-WATER")
    co.request_payment()
    await co.pay("wechat", PAYMENT_CODE)  # no member yet
    co.attach_member(Member("m42"))
    await co.pay("stored_value", "")
    assert gateway.members == [None, "m42"]


async def test_stored_value_pays_with_the_real_gateway_and_no_adapter(journal: Journal, book):
    # Link down: KioskPayments takes offline stored value for a known member only, within
    # the stored value the member's signed code showed.
    link = SimpleNamespace(connected=asyncio.Event())
    co = Checkout(journal, book, KioskPayments(link, journal))
    co.scan_product("SKU-WATER")
    co.attach_member(Member("m42"), proof=MemberProofData(code="S1.a.b", level="regular",
                                                           points=0, stored_value=5000))
    co.request_payment()
    result = await co.pay("stored_value", "")
    assert result.status == "paid" and co.state == State.PAID
    assert result.sale.order.member_id == "m42"
    assert result.sale.order.tenders[0].method == "stored_value"
    assert result.sale.order.tenders[0].offline
