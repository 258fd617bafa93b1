"""Checkout.pay against outcomes that are not a plain paid/failed: a reversed payment,
and an order committed behind the checkout's back from an earlier attempt found paid."""

from __future__ import annotations

import pytest

from contract.wire import Event, decode
from kiosk_agent.checkout import Checkout, Refusal, State
from kiosk_agent.journal import Journal
from tests.kiosk_agent.sales import FakePayments, Outcome, make_book

WECHAT = "134567890123456789"
ALIPAY = "281234567890123456"


@pytest.fixture
def book():
    """The small test price book."""
    return make_book()


async def orphan_events(journal: Journal) -> list[dict]:
    rows = await journal.outbox_pending(100)
    return [d for d in (decode(Event, r.payload).data for r in rows
                        if r.type == "payment.settled") if d.get("orphan")]


async def test_reversed_payment_asks_for_a_new_code_and_is_recorded_reversed(journal, book):
    gateway = FakePayments(Outcome("reversed", reason="USERPAYING timeout"), Outcome("paid"))
    co = Checkout(journal, book, gateway)
    co.scan_product("SKU-WATER")
    co.request_payment()
    first = await co.pay("wechat", WECHAT)
    assert first.status == "reversed" and first.sale is None
    assert co.state == State.AWAITING_PAYMENT  # the shopper may show another code
    (attempt,) = await journal.payment_attempts()
    assert attempt.status == "reversed" and attempt.reason == "USERPAYING timeout"
    second = await co.pay("alipay", ALIPAY)
    assert second.status == "paid" and second.out_trade_no == co.order_no + "-2"
    assert {a.out_trade_no: a.status for a in await journal.payment_attempts()} == {
        co.order_no + "-1": "reversed", co.order_no + "-2": "paid"}


async def settled_paid_behind_the_checkout(journal: Journal, out_trade_no: str) -> None:
    """What start-up settling does: the cloud answers paid, the draft is committed."""
    await journal.set_payment_attempt_status(out_trade_no, "paid", provider_ref="wx-late")
    assert await journal.commit_paid_attempt(out_trade_no) is not None


async def test_order_committed_from_an_earlier_attempt_is_not_charged_again(journal, book):
    gateway = FakePayments(TimeoutError("settle timeout"))
    co = Checkout(journal, book, gateway)
    co.scan_product("SKU-WATER")
    co.request_payment()
    assert (await co.pay("wechat", WECHAT)).status == "unknown"
    first = co.attempt.out_trade_no
    await settled_paid_behind_the_checkout(journal, first)
    # The shopper, still at the kiosk, shows another code: nothing is charged.
    result = await co.pay("alipay", ALIPAY)
    assert result.status == "paid" and result.out_trade_no == first
    assert len(gateway.calls) == 1 and co.state == State.PAID
    assert [t.out_trade_no for t in co.sale.order.tenders] == [first]
    co.print_started()
    co.print_done()
    assert co.state == State.COMPLETED and len(await journal.orders()) == 1


async def test_no_second_payment_while_the_first_is_unknown(journal, book):
    """Attempt 1 is unknown (it may yet be paid): a second code is refused, never charged;
    once attempt 1 is settled paid and committed behind the checkout, paying adopts it."""
    co = Checkout(journal, book, None)
    co.payments = gateway = FakePayments(Outcome("paid", "wx-2"))
    co.scan_product("SKU-WATER")
    co.request_payment()
    await co.payment_started("wechat")
    await co.payment_unknown("settle timeout")
    with pytest.raises(Refusal) as info:
        await co.pay("alipay", ALIPAY)
    assert info.value.code == "payment_confirming" and gateway.calls == []
    order_no = co.order_no
    await settled_paid_behind_the_checkout(journal, f"{order_no}-1")
    result = await co.pay("alipay", ALIPAY)
    assert result.status == "paid" and result.reason == "already_paid" and gateway.calls == []
    assert [t.out_trade_no for t in result.sale.order.tenders] == [order_no + "-1"]
    assert len(await journal.orders()) == 1


async def test_cancel_after_the_order_was_committed_does_not_void_it(journal, book):
    co = Checkout(journal, book, FakePayments(TimeoutError("settle timeout")))
    co.scan_product("SKU-WATER")
    co.request_payment()
    await co.pay("wechat", WECHAT)
    await settled_paid_behind_the_checkout(journal, co.attempt.out_trade_no)
    await co.cancel("shopper left")
    assert co.state == State.IDLE
    types = [r.type for r in await journal.outbox_pending(100)]
    assert "order.voided" not in types and "order.completed" in types
