"""Journal: outbox, print jobs, payment attempts, sales, recovery, export/import."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from kiosk_agent.journal import Journal, JournalClosed, JournalError
from kiosk_agent.journal_schema import SCHEMA_VERSION
from kiosk_agent.wire import Event, decode


async def test_file_is_wal_full_and_versioned(journal: Journal, tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "journal.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()
    assert await journal.read(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2


async def test_append_events_assigns_increasing_seq_and_encodes_wire_event(journal: Journal):
    journal.outbox_signal.clear()
    ids = await journal.append_events([("device.fault", {"device": "printer"}), ("x.y", {"n": 2})])
    more = await journal.append_events([("x.y", {"n": 3})])
    assert journal.outbox_signal.is_set()
    rows = await journal.outbox_pending(10)
    assert [r.event_id for r in rows] == [*ids, *more]
    assert [r.seq for r in rows] == [0, 1, 2]
    ev = decode(Event, rows[1].payload)
    assert (ev.event_id, ev.type, ev.store, ev.kiosk, ev.seq, ev.data) == (
        ids[1], "x.y", "store1", "kiosk1", 1, {"n": 2}
    )
    assert rows[0].attempts == 0 and rows[0].created_at > 0
    assert [r.seq for r in await journal.outbox_pending(10, after_seq=0)] == [1, 2]
    assert [r.seq for r in await journal.outbox_pending(1)] == [0]


async def test_ack_deletes_and_ignores_unknown(journal: Journal):
    ids = await journal.append_events([("a", {}), ("b", {}), ("c", {})])
    assert await journal.outbox_ack([ids[0], "nope", ids[2]]) == 2
    assert [r.event_id for r in await journal.outbox_pending(10)] == [ids[1]]
    stats = await journal.outbox_stats()
    assert stats.depth == 1 and stats.dead_letters == 0 and stats.oldest_created_at is not None
    assert await journal.outbox_ack([]) == 0


async def test_seq_keeps_increasing_after_ack_and_reopen(tmp_path: Path):
    async with Journal(tmp_path / "j.db", "s", "k") as j:
        ids = await j.append_events([("a", {}), ("b", {})])
        await j.outbox_ack(ids)
    async with Journal(tmp_path / "j.db", "s", "k") as j:
        await j.append_events([("c", {})])
        assert [r.seq for r in await j.outbox_pending(10)] == [2]


async def test_reject_dead_letters_and_unblocks_the_rest(journal: Journal):
    ids = await journal.append_events([("a", {}), ("b", {})])
    assert await journal.outbox_reject(ids[0], "schema too old") is True
    assert await journal.outbox_reject("unknown", "x") is False
    assert [r.event_id for r in await journal.outbox_pending(10)] == [ids[1]]
    dead = await journal.dead_letters()
    assert [(d.event_id, d.reason, d.seq, d.type) for d in dead] == [
        (ids[0], "schema too old", 0, "a")
    ]
    assert (await journal.outbox_stats()).dead_letters == 1


async def test_retry_dead_letter_requeues_same_id_with_new_seq(journal: Journal):
    ids = await journal.append_events([("a", {"k": 1}), ("b", {})])
    await journal.outbox_reject(ids[0], "bad")
    journal.outbox_signal.clear()
    assert await journal.retry_dead_letter(ids[0]) is True
    assert journal.outbox_signal.is_set()
    assert await journal.retry_dead_letter(ids[0]) is False
    rows = await journal.outbox_pending(10)
    assert [(r.event_id, r.seq) for r in rows] == [(ids[1], 1), (ids[0], 2)]
    ev = decode(Event, rows[1].payload)
    assert ev.seq == 2 and ev.data == {"k": 1} and ev.event_id == ids[0]
    assert await journal.dead_letters() == []


async def test_discard_dead_letter_hides_it(journal: Journal):
    ids = await journal.append_events([("a", {})])
    await journal.outbox_reject(ids[0], "bad")
    assert await journal.discard_dead_letter(ids[0], "staff: duplicate") is True
    assert await journal.discard_dead_letter(ids[0], "again") is False
    assert await journal.dead_letters() == []
    assert (await journal.outbox_stats()).dead_letters == 0
    assert await journal.retry_dead_letter(ids[0]) is False


async def test_mark_sent_counts_attempts(journal: Journal):
    ids = await journal.append_events([("a", {})])
    await journal.outbox_mark_sent(ids)
    await journal.outbox_mark_sent(ids)
    assert (await journal.outbox_pending(1))[0].attempts == 2


async def test_print_jobs_lifecycle(journal: Journal):
    journal.print_signal.clear()
    job = await journal.add_print_job("kiosk1-20240101-0001", "receipt")
    assert journal.print_signal.is_set()
    test_job = await journal.add_print_job(None, "test")
    pending = await journal.print_jobs_pending()
    assert [(p.job_id, p.kind) for p in pending] == [(job, "receipt"), (test_job, "test")]
    assert await journal.print_job_failed(job, "paper out") is True
    pending = await journal.print_jobs_pending()
    assert pending[0].attempts == 1 and pending[0].last_error == "paper out"
    assert await journal.print_job_done(job) is True
    assert await journal.print_job_done(job) is False
    assert [p.job_id for p in await journal.print_jobs_pending()] == [test_job]
    with pytest.raises(JournalError):
        await journal.add_print_job("x", "poster")


async def test_payment_attempts_persist_and_retry_reuses_out_trade_no(journal: Journal):
    a = await journal.begin_payment_attempt("k-1", "otn1", "wechat", 1250, "CNY")
    assert a.status == "pending" and a.attempts == 1
    await journal.set_payment_attempt_status("otn1", "unknown", reason="timeout")
    again = await journal.begin_payment_attempt("k-1", "otn1", "wechat", 1250, "CNY")
    assert again.status == "pending" and again.attempts == 2
    with pytest.raises(JournalError):
        await journal.begin_payment_attempt("k-1", "otn1", "wechat", 9999, "CNY")
    done = await journal.set_payment_attempt_status("otn1", "paid", provider_ref="wx42")
    assert done.provider_ref == "wx42" and done.status == "paid"
    with pytest.raises(JournalError):
        await journal.begin_payment_attempt("k-1", "otn1", "wechat", 1250, "CNY")
    with pytest.raises(JournalError):
        await journal.set_payment_attempt_status("otn1", "maybe")
    assert [p.out_trade_no for p in await journal.payment_attempts(status="paid")] == ["otn1"]
    assert await journal.payment_attempts(status="pending") == []


async def test_closed_journal_refuses(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s", "k")
    with pytest.raises(JournalClosed):
        await j.outbox_stats()


async def test_operations_keep_submission_order(journal: Journal):
    results = await asyncio.gather(*(journal.append_events([("e", {"i": i})]) for i in range(50)))
    rows = await journal.outbox_pending(100)
    assert [r.event_id for r in rows] == [ids[0] for ids in results]


async def test_newer_schema_is_refused_and_file_untouched(tmp_path: Path):
    path = tmp_path / "j.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(Exception, match="newer"):
        async with Journal(path, "s", "k"):
            pass
    assert path.read_bytes() == before
