"""PaymentStore under concurrency: group commit on SQLite gives each caller what it would
have got alone (SQLite and, when reachable, PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cloud_bridge.db import Database
from cloud_bridge.payments.models import CHARGING, FAILED, PAID, Payment
from cloud_bridge.payments.store import PaymentRefused, PaymentStore
from tests.cloud_bridge.payments_fixtures import trade_no

pytestmark = pytest.mark.timeout(60)


def fields(no: str, amount: int = 100) -> dict:
    return dict(out_trade_no=no, order_no="O" + no, store="S1", kiosk="K1", method="wechat",
                amount=amount, currency="CNY")


async def count(db, no: str) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).where(Payment.out_trade_no == no))


async def test_concurrent_creates_and_repeats_each_get_their_own_outcome(pay_db):
    store = PaymentStore(pay_db)
    nos = [trade_no() for _ in range(20)]
    # Every number twice, at once: one creates it, the repeat finds it (never two rows).
    results = await asyncio.gather(*(store.create(status=CHARGING, **fields(no, 100 + i % 10))
                                     for i, no in enumerate(nos + nos)))
    by_no: dict[str, list[bool]] = {}
    for created, row in results:
        by_no.setdefault(row["out_trade_no"], []).append(created)
        assert row["status"] == CHARGING
    assert sorted(by_no) == sorted(nos)
    assert all(sorted(flags) == [False, True] for flags in by_no.values())
    for no in nos[:3]:
        assert await count(pay_db, no) == 1

    # Concurrent transitions of one payment: exactly one wins; all see the final row.
    no = nos[0]
    outcomes = await asyncio.gather(
        store.transition_row(no, (CHARGING,), PAID, provider_ref="R1"),
        store.transition_row(no, (CHARGING,), FAILED, reason="late"),
        store.transition_row(no, (CHARGING,), PAID, provider_ref="R3"))
    moved = [m for m, _ in outcomes]
    assert moved.count(True) == 1
    winner = moved.index(True)
    if pay_db.is_sqlite:
        assert winner == 0   # the in-process turn-taking keeps arrival order
    # On PostgreSQL the row lock decides; either way every caller sees the winner's row.
    final = [(PAID, "R1"), (FAILED, None), (PAID, "R3")][winner]
    assert all((row["status"], row["provider_ref"]) == final for _, row in outcomes)
    assert await store.transition(no, (CHARGING,), FAILED) is False


async def test_a_failing_transaction_fails_only_its_caller(pay_db, caplog):
    store = PaymentStore(pay_db)
    good = [trade_no() for _ in range(5)]
    bad = trade_no()
    results = await asyncio.gather(
        *(store.create(status=CHARGING, **fields(no)) for no in good[:2]),
        store.create(status=CHARGING, **fields(bad, amount=0)),   # violates amount > 0
        *(store.create(status=CHARGING, **fields(no)) for no in good[2:]),
        return_exceptions=True)
    # Refused as what it is (a broken check), not mistaken for a repeat of the payment.
    assert isinstance(results[2], PaymentRefused), results[2]
    assert isinstance(results[2].__cause__, IntegrityError)
    assert "amount_positive" in str(results[2]) and bad in str(results[2])
    assert all(r[0] is True for i, r in enumerate(results) if i != 2)
    for no in good:
        assert (await store.get(no))["status"] == CHARGING
    assert await store.get(bad) is None
    if pay_db.is_sqlite:   # it shared a commit with others, which were then run alone
        assert "running them one by one" in caplog.text


async def test_a_cancelled_caller_that_never_started_leaves_no_row(tmp_path):
    async with Database(f"sqlite+aiosqlite:///{tmp_path}/pay.db") as db:
        await db.create_all()
        await cancelled_before_its_turn(PaymentStore(db))


async def cancelled_before_its_turn(store: PaymentStore) -> None:
    assert store._sqlite_turn is not None   # turn-taking is SQLite's
    no = trade_no()
    async with store._sqlite_turn:   # someone else's turn
        task = asyncio.create_task(store.create(status=CHARGING, **fields(no)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await store.get(no) is None
    assert store._queued == []
