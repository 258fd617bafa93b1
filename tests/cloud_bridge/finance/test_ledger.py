"""The ledger: balanced entries once per source, refused by the database when unbalanced
or edited (raw SQL on SQLite and PostgreSQL), corrections by reversing entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from cloud_bridge.finance import accounts as A
from cloud_bridge.finance.ledger import (
    LedgerError,
    credit,
    debit,
    entry_legs,
    post_entry,
    reverse_entry,
)
from cloud_bridge.finance.models import JournalEntry, JournalLine
from cloud_bridge.finance.reports import trial_balance

AT = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


async def _post(db, source_id="o1", amount=1130, store="s1"):
    async with db.session() as s:
        return await post_entry(
            s, store=store, source_type="sale", source_id=source_id, business_date="2026-11-03",
            occurred_at=AT, legs=[debit(A.clearing("wechat"), amount),
                                  credit(A.revenue("drinks"), amount - amount // 113 * 13),
                                  credit(A.OUTPUT_VAT, amount // 113 * 13)])


async def test_posts_once_per_source_and_balances(db):
    first = await _post(db)
    assert first is not None and first.amount == 1130
    assert await _post(db) is None  # the same source again: nothing new
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(JournalEntry)) == 1
        legs = await entry_legs(s, first.id)
        assert sum(leg.amount for leg in legs) == 0
        tb = await trial_balance(s, store="s1")
    assert tb[A.clearing("wechat")] == 1130 and tb[A.OUTPUT_VAT] == -130
    assert sum(tb.values()) == 0


async def test_unbalanced_entry_is_refused_in_code(db):
    async with db.session() as s:
        with pytest.raises(LedgerError, match="debits 100 != credits 90"):
            await post_entry(s, store="s1", source_type="sale", source_id="x",
                             business_date="2026-11-03", occurred_at=AT,
                             legs=[debit(A.CASH, 100), credit(A.revenue(None), 90)])


async def _raw(db, *statements: str) -> None:
    async with db.session() as s:
        for sql in statements:
            await s.execute(text(sql))


async def test_database_refuses_an_unbalanced_entry_written_by_raw_sql(db):
    await _post(db)  # creates the accounts
    async with db.session() as s:
        ids = dict((await s.execute(text("SELECT code, id FROM finance_accounts"))).all())
    cash, rev = ids[A.clearing("wechat")], ids[A.revenue("drinks")]
    lines = (f"INSERT INTO finance_lines (entry_id, line_no, account_id, debit, credit) VALUES "
             f"(900, 1, {cash}, 500, 0), (900, 2, {rev}, 0, 400)")
    entry = ("INSERT INTO finance_entries (id, store, source_type, source_id, business_date, "
             "occurred_at, amount, posted_by, posted_at) VALUES (900, 's1', 'manual', 'm1', "
             "'2026-11-03', '2026-11-03 02:00:00', 500, 'sql', '2026-11-03 02:00:00')")
    with pytest.raises((IntegrityError, DBAPIError), match="does not balance"):
        await _raw(db, lines, entry)
    # Lines alone never commit either: their entry (a deferred foreign key) is missing.
    with pytest.raises((IntegrityError, DBAPIError)):
        await _raw(db, lines.replace("400)", "500)"))
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(JournalLine)) == 3


@pytest.mark.parametrize("sql", [
    "UPDATE finance_lines SET debit = debit + 1 WHERE line_no = 1",
    "UPDATE finance_lines SET credit = 0",
    "DELETE FROM finance_lines WHERE line_no = 3",
    "UPDATE finance_entries SET amount = 1",
    "DELETE FROM finance_entries",
])
async def test_database_refuses_editing_posted_rows(db, sql):
    posted = await _post(db)
    with pytest.raises((IntegrityError, DBAPIError), match="cannot be changed"):
        await _raw(db, sql)
    async with db.session() as s:
        assert sum(leg.amount for leg in await entry_legs(s, posted.id)) == 0
        assert len(await entry_legs(s, posted.id)) == 3


async def test_database_refuses_lines_added_to_a_posted_entry(db):
    posted = await _post(db)
    async with db.session() as s:
        acct = await s.scalar(text("SELECT MIN(id) FROM finance_accounts"))
    sql = (f"INSERT INTO finance_lines (entry_id, line_no, account_id, debit, credit) VALUES "
           f"({posted.id}, 9, {acct}, 7, 0), ({posted.id}, 10, {acct}, 0, 7)")
    with pytest.raises((IntegrityError, DBAPIError), match="is posted"):
        await _raw(db, sql)


async def test_correction_is_a_reversing_entry_once(db):
    posted = await _post(db)
    async with db.session() as s:
        rev = await reverse_entry(s, posted.id, reason="wrong store", actor="admin:fin")
        legs = await entry_legs(s, rev.id)
    assert rev.reverses_id == posted.id and rev.source_type == "reversal"
    assert [leg.amount for leg in legs] == [-1130, 1000, 130]
    async with db.session() as s:
        again = await reverse_entry(s, posted.id, reason="twice", actor="admin:fin")
        assert again.id == rev.id
        assert all(v == 0 for v in (await trial_balance(s, store="s1")).values())
        with pytest.raises(LedgerError, match="is a reversal"):
            await reverse_entry(s, rev.id, reason="undo", actor="admin:fin")
