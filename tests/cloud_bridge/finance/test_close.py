"""Daily close: the store's orders against the sandbox providers' real trade bills, each
mismatch resolved or accepted by finance before the day closes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloud_bridge.errors import Conflict
from cloud_bridge.finance import accounts as A
from cloud_bridge.finance import close as C
from cloud_bridge.finance.reports import trial_balance
from cloud_bridge.payments.providers.wechat import parse_trade_bill
from cloud_bridge.payments.store import business_date
from contract.wire.payments import ChargeParams
from tests.cloud_bridge.payments_fixtures import trade_no, wechat_code

from .helpers import ingest_sales, sale_data

pytestmark = pytest.mark.timeout(90)


async def _charge(svc, store: str, amount: int) -> str:
    no = trade_no(f"{store}-")
    p = ChargeParams(order_no="O" + no, out_trade_no=no, method="wechat", amount=amount,
                     auth_code=wechat_code())
    assert (await svc.charge(store, "k1", p))["status"] == "paid"
    return no


async def test_close_lists_each_kind_and_closes_only_when_all_decided(pay_service, sandbox):
    db = pay_service.db
    now = datetime.now(UTC)
    day = business_date(now)
    good, short, orphan = [await _charge(pay_service, "s1", a) for a in (1130, 900, 500)]
    other_store = await _charge(pay_service, "s2", 700)  # billed, but not s1's business
    await ingest_sales(db, "s1", [
        sale_data("s1-k1-1", [("milk", 1, 1130, 1300)], [("wechat", 1130, good)], now),
        # the order says 1000, the provider took 900
        sale_data("s1-k1-2", [("milk", 1, 1000, 1300)], [("wechat", 1000, short)], now),
        # the order says paid by WeChat, the provider never saw it
        sale_data("s1-k1-3", [("milk", 1, 450, 1300)], [("wechat", 450, "s1-nope")], now),
    ])
    bills = await C.fetch_bills(pay_service, day)
    # WeChat's bill shape: header, trades, then the totals section; fetched gzipped.
    text = sandbox.wechat.bill_csv(day)
    assert text.splitlines()[-2].startswith("总交易单数,应结订单总金额")
    assert parse_trade_bill(text) == bills["wechat"]
    assert sandbox.wechat.bill_file(day, True)[:2] == b"\x1f\x8b"
    assert {ln.out_trade_no for ln in bills["wechat"]} >= {good, short, orphan, other_store}
    funds = await C.fetch_fund_flows(pay_service, day)
    assert sum(fl.amount for fl in funds["wechat"] if fl.out_trade_no == good) == 1130 - 7
    close_id = await C.reconcile(db, "s1", day, bills, funds=funds)
    async with db.session() as s:
        close, items = await C.get_close(s, close_id)
        found = {(m.out_trade_no, m.kind): (m.orders_amount, m.bill_amount) for m in items}
        assert found == {(short, "amount_differs"): (1000, 900),
                         ("s1-nope", "missing_at_provider"): (450, None),
                         (orphan, "missing_in_orders"): (None, 500)}
        assert close.checked == 4 and close.providers == ",".join(sorted(bills))
        # The bill's fees (0.60 %, rounded half up) are the agreed ones, and are posted.
        tb = await trial_balance(s, store="s1")
        assert tb[A.PROVIDER_FEES] == 7 + 5 + 3
        assert [ln.fee for ln in bills["wechat"] if ln.out_trade_no == good] == [7]
        with pytest.raises(Conflict, match="3 mismatch"):
            await C.close_day(s, close_id, "admin:fin")
    by_kind = {m.kind: m.id for m in items}
    async with db.session() as s:
        await C.resolve_mismatch(s, close_id, by_kind["amount_differs"], C.Resolution.ACCEPTED,
                                 "price corrected at the till; customer paid 9.00", "admin:fin")
        await C.resolve_mismatch(s, close_id, by_kind["missing_in_orders"],
                                 C.Resolution.RESOLVED, "refunded the orphan payment",
                                 "admin:fin")
    async with db.session() as s:
        with pytest.raises(Conflict, match="already"):
            await C.resolve_mismatch(s, close_id, by_kind["amount_differs"],
                                     C.Resolution.RESOLVED, "again", "admin:fin")
    # Run again: decisions stay, nothing new appears, one still open.
    assert await C.reconcile(db, "s1", day, await C.fetch_bills(pay_service, day),
                             funds=await C.fetch_fund_flows(pay_service, day)) == close_id
    async with db.session() as s:
        close, items = await C.get_close(s, close_id)
        assert close.runs == 2 and len(items) == 3
        assert sorted(m.status for m in items) == ["accepted", "open", "resolved"]
        with pytest.raises(Conflict, match="1 mismatch"):
            await C.close_day(s, close_id, "admin:fin")
    async with db.session() as s:
        await C.resolve_mismatch(s, close_id, by_kind["missing_at_provider"],
                                 C.Resolution.ACCEPTED, "paid in cash, tender keyed wrong",
                                 "admin:fin")
        closed = await C.close_day(s, close_id, "admin:fin")
    assert closed.status == "closed" and closed.closed_by == "admin:fin"
    with pytest.raises(Conflict, match="is closed"):
        await C.reconcile(db, "s1", day, {})


async def test_a_day_without_differences_closes_and_a_cleared_one_resolves_itself(db):
    now = datetime.now(UTC)
    day = business_date(now)
    await ingest_sales(db, "s1", [sale_data("s1-k1-9", [("milk", 1, 300, 1300)],
                                            [("wechat", 300, "s1-T9")], now)])
    close_id = await C.reconcile(db, "s1", day, {"wechat": []})
    async with db.session() as s:
        _, items = await C.get_close(s, close_id)
        assert [m.kind for m in items] == ["missing_at_provider"]
    from cloud_bridge.payments.providers.base import BillLine

    # Now billed, but with a fee of 9 fen where 0.60 % of 3.00 is 2.
    line = BillLine("pay", "s1-T9", 300, "CNY", "wx-1", fee=9)
    await C.reconcile(db, "s1", day, {"wechat": [line]})
    async with db.session() as s:
        _, items = await C.get_close(s, close_id)
        assert [(m.kind, m.status, m.resolved_by) for m in items] == [
            ("missing_at_provider", "resolved", "system"), ("fee_differs", "open", None)]
        assert (items[1].orders_amount, items[1].bill_amount) == (2, 9)
        await C.resolve_mismatch(s, close_id, items[1].id, C.Resolution.ACCEPTED,
                                 "promotion fee rate this month", "admin:fin")
    async with db.session() as s:
        assert (await C.close_day(s, close_id, "admin:fin")).status == "closed"
        assert (await trial_balance(s, store="s1"))[A.PROVIDER_FEES] == 9


async def test_fund_flow_that_does_not_match_the_trade_bill(db):
    from cloud_bridge.payments.providers.base import BillLine, FundLine

    now = datetime.now(UTC)
    day = business_date(now)
    await ingest_sales(db, "s1", [
        sale_data("s1-k1-5", [("milk", 1, 1000, 1300)], [("wechat", 1000, "s1-T5")], now),
        sale_data("s1-k1-6", [("milk", 1, 500, 1300)], [("wechat", 500, "s1-T6")], now)])
    bills = {"wechat": [BillLine("pay", "s1-T5", 1000, "CNY", "wx5", fee=6),
                        BillLine("pay", "s1-T6", 500, "CNY", "wx6", fee=3)]}
    # T5's money never reached the balance; T6's fee was taken twice.
    funds = {"wechat": [FundLine("trade", "s1-T6", 500, 500), FundLine("fee", "s1-T6", -3, 497),
                        FundLine("fee", "s1-T6", -3, 494)]}
    close_id = await C.reconcile(db, "s1", day, bills, funds=funds)
    async with db.session() as s:
        _, items = await C.get_close(s, close_id)
    assert {(m.out_trade_no, m.kind): (m.orders_amount, m.bill_amount) for m in items} == {
        ("s1-T5", "funds_differ"): (1000, 0), ("s1-T6", "fee_differs"): (3, 6)}


async def test_a_sale_arriving_after_its_day_closed_is_booked_on_an_open_day(db):
    from sqlalchemy import select

    from cloud_bridge.finance.models import JournalEntry
    from cloud_bridge.finance.service import local_date

    close_id = await C.reconcile(db, "s1", "2026-11-03", {})
    async with db.session() as s:
        await C.close_day(s, close_id, "admin:fin")
    # A kiosk offline since the 3rd delivers a cash sale of that day.
    await ingest_sales(db, "s1", [sale_data("s1-k1-8", [("milk", 1, 300, 1300)],
                                            [("cash", 300)],
                                            datetime(2026, 11, 3, 4, tzinfo=UTC))])
    await C.post_pending(db)
    async with db.session() as s:
        entry = await s.scalar(select(JournalEntry).where(JournalEntry.source_id == "s1-k1-8"))
        closed_day = await trial_balance(s, store="s1", end="2026-11-03")
    assert entry.business_date == local_date(datetime.now(UTC)) != "2026-11-03"
    assert "day closed" in entry.memo and closed_day == {}
