"""The sale saved with a payment attempt (its draft): committed when, and only when, the
attempt is paid and its order is not committed yet; a paid attempt for an order that
was committed with another tender is reported once as an orphan."""

from __future__ import annotations

from pathlib import Path

from contract.wire import Event, decode
from kiosk_agent.journal import Journal
from tests.kiosk_agent.sales import make_order

ORDER_NO = "kiosk1-20240501-0001"


async def attempt_with_draft(j: Journal, n: int, status: str | None) -> str:
    trade = f"{ORDER_NO}-{n}"
    draft = make_order(out_trade_no=trade, order_no=ORDER_NO)
    await j.begin_payment_attempt(ORDER_NO, trade, "wechat", draft.total, "CNY", draft=draft)
    if status is not None:
        await j.set_payment_attempt_status(trade, status, provider_ref=f"wx-{n}")
    return trade


async def events(j: Journal) -> list[tuple[str, dict]]:
    return [(r.type, decode(Event, r.payload).data) for r in await j.outbox_pending(100)]


async def test_recover_commits_the_draft_of_a_paid_attempt_once(tmp_path: Path):
    path = tmp_path / "j.db"
    async with Journal(path, "store1", "kiosk1") as j:
        trade = await attempt_with_draft(j, 1, "paid")
        report = await j.recover()
        assert report.sales_committed_from_drafts == [ORDER_NO]
        (order,) = await j.orders()
        assert order.order_no == ORDER_NO and order.tenders[0].out_trade_no == trade
        assert order.tenders[0].provider_ref == "wx-1"  # the settled reference, not the draft's
        assert [t for t, _ in await events(j)] == ["order.completed", "payment.settled"]
        assert [p.order_no for p in await j.print_jobs_pending()] == [ORDER_NO]
    async with Journal(path, "store1", "kiosk1") as j:
        report = await j.recover()  # a second start commits nothing more
        assert report.sales_committed_from_drafts == [] and len(await j.orders()) == 1
        assert await j.commit_paid_attempt(trade) is None


async def test_unknown_and_reversed_attempts_are_never_committed(journal: Journal):
    unknown = await attempt_with_draft(journal, 1, "unknown")
    reversed_ = await attempt_with_draft(journal, 2, "reversed")
    pending = await attempt_with_draft(journal, 3, None)
    report = await journal.recover()
    assert report.sales_committed_from_drafts == [] and await journal.orders() == []
    assert report.attempts_marked_unknown == [pending]
    assert await journal.commit_paid_attempt(unknown) is None
    assert await journal.commit_paid_attempt(reversed_) is None
    assert await journal.orders() == []
    assert "order.completed" not in [t for t, _ in await events(journal)]


async def test_paid_attempt_of_an_order_committed_with_another_tender_is_an_orphan(
    tmp_path: Path,
):
    path = tmp_path / "j.db"
    async with Journal(path, "store1", "kiosk1") as j:
        first = await attempt_with_draft(j, 1, "unknown")  # given up on by the checkout
        second = await attempt_with_draft(j, 2, None)
        await j.commit_sale(make_order(out_trade_no=second, order_no=ORDER_NO))
        # The first attempt settles as paid later (start-up settling).
        await j.set_payment_attempt_status(first, "paid", provider_ref="wx-1")
        assert await j.commit_paid_attempt(first) is None  # never a second order
        assert await j.commit_paid_attempt(first) is None
        orphans = [d for t, d in await events(j) if t == "payment.settled" and d.get("orphan")]
        assert [(d["out_trade_no"], d["order_no"], d["status"]) for d in orphans] == [
            (first, ORDER_NO, "paid")]
        (order,) = await j.orders()
        assert [t.out_trade_no for t in order.tenders] == [second]
    async with Journal(path, "store1", "kiosk1") as j:
        report = await j.recover()
        assert report.sales_committed_from_drafts == [] and report.orphan_payments == []
        orphans = [d for t, d in await events(j) if t == "payment.settled" and d.get("orphan")]
        assert len(orphans) == 1 and len(await j.orders()) == 1


async def test_recover_reports_an_orphan_found_at_start(journal: Journal):
    first = await attempt_with_draft(journal, 1, "paid")
    second = await attempt_with_draft(journal, 2, None)
    # The agent died after a second payment committed the sale; the first is paid too.
    await journal.commit_sale(make_order(out_trade_no=second, order_no=ORDER_NO))
    report = await journal.recover()
    assert report.orphan_payments == [first] and report.sales_committed_from_drafts == []
    assert [d["out_trade_no"] for t, d in await events(journal) if d.get("orphan")] == [first]
