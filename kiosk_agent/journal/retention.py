"""Journal retention: archive, then prune, what the cloud acknowledged long ago.

What is never pruned: an order the cloud has not acknowledged (``orders.acked_at`` is
set only when its ``order.completed`` event is acked), anything still in the outbox or
the dead-letter list, an open payment attempt. What is pruned: an order acknowledged
more than ``retention_days`` ago (default 90), with its lines, its settled payment
attempts and its print jobs (a receipt not printed in 90 days never will be), and staff
approvals older than the retention whose event left the outbox.

Crash safety (a SIGKILL or a power cut at any instant loses nothing):

1. the rows to prune are read and written as JSON lines to ``<archive>/.tmp-*``, which
   is fsynced, renamed to ``journal-<UTC time>.jsonl`` and the directory fsynced;
2. only then one SQLite transaction deletes exactly those rows.

Killed before 2 commits, the rows are still in the journal and the next run archives
them again (an archive may repeat rows of an earlier one; :func:`read_archives`
de-duplicates by key). Killed after, they are in a durable archive.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common.jsontypes import JsonObject

DEFAULT_RETENTION_DAYS = 90
# Pruning runs in batches so that one transaction (and the archive file) stays small.
PRUNE_BATCH = 2000


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What one :func:`prune_journal` run did."""

    orders: int
    approvals: int
    archive: Path | None


@dataclass(frozen=True, slots=True)
class JournalStats:
    """Size and age of what the journal holds (``kiosk-agent journal stats``)."""

    size_bytes: int
    orders: int
    orders_unacknowledged: int
    outbox_depth: int
    dead_letters: int
    oldest_unsent_at: float | None
    oldest_kept_at: float | None
    staff_approvals: int


def journal_stats(conn: sqlite3.Connection, path: Path) -> JournalStats:
    """Read the statistics from an open connection (read-only is enough)."""
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())

    def count(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    def earliest(sql: str) -> float | None:
        value = conn.execute(sql).fetchone()[0]  # a time.time() REAL, NULL when empty
        return None if value is None else float(value)

    return JournalStats(
        size_bytes=size,
        orders=count("SELECT count(*) FROM orders"),
        orders_unacknowledged=count("SELECT count(*) FROM orders WHERE acked_at IS NULL"),
        outbox_depth=count("SELECT count(*) FROM outbox"),
        dead_letters=count("SELECT count(*) FROM dead_letters WHERE discarded_at IS NULL"),
        oldest_unsent_at=earliest("SELECT min(created_at) FROM outbox"),
        oldest_kept_at=earliest("SELECT min(committed_at) FROM orders"),
        staff_approvals=count("SELECT count(*) FROM staff_approvals"),
    )


def _rows(conn: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> list[JsonObject]:
    cur = conn.execute(sql, args)
    cols = [d[0] for d in cur.description]
    out = []
    for r in cur:
        rec: JsonObject = {}
        for c, v in zip(cols, r, strict=True):
            rec[c] = v.decode("utf-8") if isinstance(v, bytes) else v
        out.append(rec)
    return out


def _candidates(conn: sqlite3.Connection, cutoff: float, limit: int) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT order_no FROM orders o WHERE acked_at IS NOT NULL AND acked_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM outbox b WHERE b.order_no = o.order_no)"
        " AND NOT EXISTS (SELECT 1 FROM payment_attempts a WHERE a.order_no = o.order_no"
        "                 AND a.status IN ('pending', 'unknown'))"
        " ORDER BY acked_at LIMIT ?", (cutoff, limit))]


def _write_archive(archive_dir: Path, records: list[JsonObject]) -> Path:
    archive_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = archive_dir / f"journal-{stamp}.jsonl"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=archive_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(archive_dir, os.O_RDONLY)
    try:
        os.fsync(dfd)  # the rename itself must survive a power cut before rows go
    finally:
        os.close(dfd)
    return final


def prune_batch(conn: sqlite3.Connection, archive_dir: Path, retention_days: float,
                now: float | None = None, limit: int = PRUNE_BATCH) -> PruneReport:
    """Archive then delete one batch (``conn`` in autocommit mode). See the module docstring."""
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    orders = _candidates(conn, cutoff, limit)
    approvals = _rows(conn, "SELECT * FROM staff_approvals s WHERE at < ? AND NOT EXISTS"
                      " (SELECT 1 FROM outbox b WHERE b.event_id = s.event_id)"
                      " ORDER BY id LIMIT ?", (cutoff, limit))
    if not orders and not approvals:
        return PruneReport(0, 0, None)
    marks = ",".join("?" * len(orders))
    records: list[JsonObject] = []
    if orders:
        for table in ("orders", "order_lines", "payment_attempts", "print_jobs"):
            for rec in _rows(conn, f"SELECT * FROM {table} WHERE order_no IN ({marks})",
                             tuple(orders)):
                records.append({"table": table, **rec})
    records.extend({"table": "staff_approvals", **rec} for rec in approvals)
    archive = _write_archive(archive_dir, records)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in ("order_lines", "payment_attempts", "print_jobs", "orders"):
            if orders:
                conn.execute(f"DELETE FROM {table} WHERE order_no IN ({marks})", tuple(orders))
        if approvals:
            conn.executemany("DELETE FROM staff_approvals WHERE id = ?",
                             [(a["id"],) for a in approvals])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return PruneReport(len(orders), len(approvals), archive)


def prune_journal(path: Path, archive_dir: Path, retention_days: float = DEFAULT_RETENTION_DAYS,
                  now: float | None = None) -> list[PruneReport]:
    """Prune ``path`` in batches until nothing old and acknowledged is left."""
    from .schema import migrate

    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        migrate(conn)
        reports: list[PruneReport] = []
        while True:
            report = prune_batch(conn, archive_dir, retention_days, now)
            if report.archive is None:
                return reports
            reports.append(report)
    finally:
        conn.close()


def read_archives(archive_dir: Path) -> Iterator[JsonObject]:
    """Every archived row once (archives written by a killed run may repeat rows)."""
    seen: set[tuple[object, ...]] = set()
    for path in sorted(archive_dir.glob("journal-*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                key = (rec["table"], rec.get("order_no"), rec.get("line_no"),
                       rec.get("out_trade_no"), rec.get("job_id"), rec.get("id"))
                if key not in seen:
                    seen.add(key)
                    yield rec
