"""Session summaries: one ``session.summary`` per shopper session, counters only, once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from contract.wire import Event, decode
from contract.wire.events import SESSION_SUMMARY, SessionSummaryData
from kiosk_agent.checkout import Checkout, Refusal, State
from kiosk_agent.journal import Journal
from kiosk_agent.session_summary import SessionRecorder
from tests.kiosk_agent.sales import FakePayments, Outcome, files_containing, make_book

PAYMENT_CODE = "134567890123456789"  # a WeChat-shaped payment code (test value)
ALIPAY_CODE = "281234567890123456"


def recorded(journal: Journal, gateway: FakePayments | None = None
             ) -> tuple[Checkout, SessionRecorder]:
    """A checkout with a recorder on its listeners (what the agent's component attaches)."""
    co = Checkout(journal, make_book(), gateway or FakePayments())
    rec = SessionRecorder(journal, lambda: co)
    co.listeners.append(rec.listener)
    return co, rec


def scan(co: Checkout, rec: SessionRecorder, code: str) -> None:
    """Scan as the agent does: a refusal the shopper meets is reported to the recorder."""
    try:
        co.scan_product(code)
    except Refusal as refusal:
        rec.refused(refusal.code)


async def summaries(journal: Journal) -> list[dict]:
    return [decode(Event, r.payload).data for r in await journal.outbox_pending(100)
            if r.type == SESSION_SUMMARY]


async def test_a_paid_session_is_summarised_once_without_the_payment_code(
        journal: Journal, tmp_path: Path):
    gateway = FakePayments(Outcome("failed", reason="余额不足 insufficient balance"),
                           Outcome("paid", "wx-2"))
    co, rec = recorded(journal, gateway)
    scan(co, rec, "NOT-A-PRODUCT")  # before the first scan: no session to count it in
    assert rec.tally is None
    scan(co, rec, "SKU-WATER")
    scan(co, rec, "SKU-WATER")  # one line, qty 2
    scan(co, rec, "SKU-CHIPS")
    scan(co, rec, "NOT-A-PRODUCT")
    co.set_quantity(1, 1)  # one water taken off
    co.remove_line(2)  # the chips taken off
    co.request_payment()
    assert (await co.pay("wechat", PAYMENT_CODE)).status == "failed"
    result = await co.pay("alipay", ALIPAY_CODE)
    assert result.status == "paid"
    assert await rec.flush() == 1 and await rec.flush() == 0
    (data,) = await summaries(journal)
    s = SessionSummaryData.model_validate(data)
    assert s.outcome == "paid" and s.order_no == result.sale.order_no
    assert (s.items_scanned, s.items_removed, s.payment_attempts) == (3, 2, 2)
    assert s.payment_methods == ["wechat", "alipay"]
    assert s.errors == {"unknown_product": 1, "payment_failed": 1}
    assert s.pay_seconds is not None and 0 <= s.pay_seconds < 60
    assert s.started_at <= s.ended_at and s.member_id is None
    (row,) = [r for r in await journal.outbox_pending(100) if r.type == SESSION_SUMMARY]
    assert b"insufficient" not in row.payload  # codes only, no provider reason text
    await journal.close()
    for needle in (PAYMENT_CODE, ALIPAY_CODE):
        assert files_containing(tmp_path, needle.encode()) == [], needle


async def test_abandoned_cancelled_emptied_and_parked_sessions(journal: Journal):
    co, rec = recorded(journal, FakePayments(TimeoutError("rpc deadline")))
    scan(co, rec, "SKU-WATER")
    co.request_payment()
    assert (await co.pay("wechat", PAYMENT_CODE)).status == "unknown"
    order_no = co.order_no
    await co.timeout()  # the cart timer: abandoned at payment
    rec.help_called()  # no session open: nothing to count it in
    scan(co, rec, "SKU-CHIPS")
    rec.help_called()  # 呼叫店员 during the session
    await co.cancel()
    scan(co, rec, "SKU-WATER")
    co.remove_line(1)  # emptied line by line: the shopper left
    assert co.state == State.IDLE
    scan(co, rec, "SKU-CHIPS")
    await co.park()
    await rec.flush()
    got = [SessionSummaryData.model_validate(d) for d in await summaries(journal)]
    assert [s.outcome for s in got] == ["abandoned", "cancelled", "cancelled", "parked"]
    assert got[0].order_no == order_no and got[0].errors == {"payment_unknown": 1}
    assert got[0].pay_seconds is None  # never paid
    assert [s.items_removed for s in got] == [0, 0, 1, 0]  # a voided cart is not "removed"
    assert [s.help_calls for s in got] == [0, 1, 0, 0]
    assert got[2].items_removed == 1 and len({s.session_id for s in got}) == 4
    # the abandoned cart's order.voided and its summary name the same order
    types = [r.type for r in await journal.outbox_pending(100)]
    assert types.count("order.voided") == 1


async def test_a_summary_the_journal_refused_is_written_later_once(
        journal: Journal, monkeypatch: pytest.MonkeyPatch):
    co, rec = recorded(journal)
    real = journal.append_events
    calls = {"n": 0}

    async def failing_once(events):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")
        return await real(events)

    monkeypatch.setattr(journal, "append_events", failing_once)
    scan(co, rec, "SKU-WATER")
    await co.cancel()
    with pytest.raises(OSError):
        await rec.flush()
    assert len(rec.pending) == 1
    assert await rec.flush() == 1 and rec.pending == []
    assert len(await summaries(journal)) == 1


async def test_the_component_writes_summaries_as_sessions_end(journal: Journal):
    co = Checkout(journal, make_book(), FakePayments())
    rec = SessionRecorder(journal, lambda: co)
    stop = asyncio.Event()
    task = asyncio.create_task(rec.run(stop))
    await asyncio.sleep(0)
    assert rec.listener in co.listeners
    co.scan_product("SKU-WATER")
    journal.outbox_signal.clear()
    await co.cancel()  # nothing of its own in the outbox (no order number yet)
    await asyncio.wait_for(journal.outbox_signal.wait(), 5)  # the component's append
    assert [s["outcome"] for s in await summaries(journal)] == ["cancelled"]
    co.scan_product("SKU-CHIPS")
    co.request_payment()
    await co.pay("wechat", PAYMENT_CODE)
    stop.set()
    await task  # the last summary is written on the way out
    assert [s["outcome"] for s in await summaries(journal)] == ["cancelled", "paid"]
    assert rec.listener not in co.listeners


@pytest.mark.parametrize("bad", [
    {"errors": {PAYMENT_CODE: 1}},  # a code where an error code belongs
    {"errors": {"declined: 余额不足": 1}},  # free text
    {"payment_methods": ["bitcoin"]},
    {"outcome": "stolen"},
    {"items_scanned": -1},
    {"pay_seconds": -3},
])
def test_the_contract_refuses_what_a_summary_must_not_carry(bad):
    base = {"session_id": "s", "started_at": "2026-12-01T10:00:00Z",
            "ended_at": "2026-12-01T10:01:00Z", "outcome": "paid"}
    SessionSummaryData.model_validate(base)
    with pytest.raises(ValidationError):
        SessionSummaryData.model_validate({**base, **bad})


async def test_a_staff_call_during_a_session_is_a_help_call(journal: Journal, tmp_path: Path):
    from types import SimpleNamespace

    from kiosk_agent.runtime import KioskRuntime
    from kiosk_agent.staff_calls import StaffCalls

    co, rec = recorded(journal)
    agent = SimpleNamespace(runtime=KioskRuntime(sessions=rec))
    calls = StaffCalls(agent, tmp_path / "staff_call.json")  # type: ignore[arg-type]
    scan(co, rec, "SKU-WATER")
    await calls.call()
    await calls.call()  # pressed again: the same open call
    await calls.answer("S007")
    await calls.call()  # a second call in the same session
    await co.cancel()
    await rec.flush()
    (summary,) = await summaries(journal)
    assert summary["help_calls"] == 2


async def test_a_code_that_is_not_a_code_is_counted_as_other(journal: Journal):
    co, rec = recorded(journal)
    scan(co, rec, "SKU-WATER")
    rec.refused("Declined: " + PAYMENT_CODE)  # a careless caller: free text, a payment code
    for i in range(40):  # more distinct codes than a summary holds
        rec.refused(f"code_{i}")
    await co.cancel()
    await rec.flush()
    (summary,) = await summaries(journal)
    assert PAYMENT_CODE not in str(summary) and len(summary["errors"]) <= 30
    assert summary["errors"]["other_error"] == 1 + 40 - 24
