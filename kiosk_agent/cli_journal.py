"""``kiosk-agent journal check|export|stats|prune --db FILE``: inspect or prune a journal.

``check``, ``export`` and ``stats`` open the file read-only (SQLite URI ``mode=ro``): a torn, truncated
or corrupt journal is reported, never repaired, deleted or recreated: it may
hold the only copy of paid sales, and staff or support decide what to do with it.

``prune`` archives, then deletes, sales the cloud acknowledged more than
``--retention-days`` ago (:mod:`kiosk_agent.journal.retention`: never anything
unacknowledged; safe against SIGKILL).

Exit status: 0 fine, 1 the file has a problem (one line on stderr names it),
2 usage errors (argparse).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from common.jsontypes import JsonMapping

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100


class JournalCheckError(Exception):
    """A journal file that is not usable; ``str()`` is the one-line reason."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("journal", help="check or export the local journal")
    sub = parser.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="integrity and schema check (read-only)")
    check.add_argument("--db", required=True, type=Path, help="journal SQLite file")
    check.set_defaults(func=check_handler)
    export = sub.add_parser("export", help="everything in the journal as JSON lines")
    export.add_argument("--db", required=True, type=Path, help="journal SQLite file")
    export.set_defaults(func=export_handler)
    stats = sub.add_parser("stats", help="size, oldest unsent, oldest kept (read-only)")
    stats.add_argument("--db", required=True, type=Path, help="journal SQLite file")
    stats.add_argument("--json", action="store_true", help="one JSON object")
    stats.set_defaults(func=stats_handler)
    prune = sub.add_parser("prune", help="archive and prune sales the cloud acknowledged")
    prune.add_argument("--db", required=True, type=Path, help="journal SQLite file")
    prune.add_argument("--retention-days", type=float, default=90.0,
                       help="keep acknowledged sales this long (default 90)")
    prune.add_argument("--archive-dir", type=Path,
                       help="where archives go (default: <db dir>/archive)")
    prune.set_defaults(func=prune_handler)


def _header_problem(path: Path) -> str | None:
    """A reason when the file is not a whole SQLite database, judged from its header."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            header = f.read(HEADER_SIZE)
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "is a directory"
    except OSError as err:
        return f"cannot read: {err.strerror or err}"
    if size == 0:
        return "empty file (0 bytes), not a journal"
    if len(header) < HEADER_SIZE:
        return f"truncated: {size} bytes, shorter than the SQLite header"
    if not header.startswith(SQLITE_MAGIC):
        return "not an SQLite database (bad header magic)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"corrupt header: page size {page_size}"
    pages = int.from_bytes(header[28:32], "big")
    change_counter = header[24:28]
    version_valid_for = header[92:96]
    # The in-header size is only trustworthy when it was written by the same
    # change as the header's version-valid-for number (SQLite file format 1.3.8).
    if pages and change_counter == version_valid_for and size < pages * page_size:
        return f"truncated: {size} bytes but the header says {pages} pages of {page_size}"
    if size % page_size:
        return f"torn: {size} bytes is not a whole number of {page_size}-byte pages"
    return None


def open_read_only(path: Path) -> sqlite3.Connection:
    """Open ``path`` read-only (never creates or modifies the database file)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None)


def check_journal(path: Path) -> str:
    """Check ``path``; return a one-line summary or raise :class:`JournalCheckError`."""
    from .journal.schema import EXPECTED_TABLES, SCHEMA_VERSION

    problem = _header_problem(path)
    if problem:
        raise JournalCheckError(problem)
    try:
        conn = open_read_only(path)
    except sqlite3.Error as err:
        raise JournalCheckError(f"cannot open: {err}") from err
    try:
        quick = [r[0] for r in conn.execute("PRAGMA quick_check")]
        if quick != ["ok"]:
            raise JournalCheckError(f"quick_check failed: {quick[0]}")
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            more = f" (+{len(integrity) - 1} more)" if len(integrity) > 1 else ""
            raise JournalCheckError(f"integrity_check failed: {integrity[0]}{more}")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version == 0:
            raise JournalCheckError("not a journal (schema version 0, no journal tables)")
        if version > SCHEMA_VERSION:
            raise JournalCheckError(
                f"schema version {version} is newer than this software ({SCHEMA_VERSION})"
            )
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = sorted(EXPECTED_TABLES - tables) if version == SCHEMA_VERSION else []
        if missing:
            raise JournalCheckError(f"schema v{version} but tables missing: {', '.join(missing)}")
        (orders,) = conn.execute("SELECT count(*) FROM orders").fetchone()
        (depth,) = conn.execute("SELECT count(*) FROM outbox").fetchone()
        (dead,) = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE discarded_at IS NULL"
        ).fetchone()
        (jobs,) = conn.execute(
            "SELECT count(*) FROM print_jobs WHERE status = 'pending'"
        ).fetchone()
        note = "" if version == SCHEMA_VERSION else f" (migrates to v{SCHEMA_VERSION} on start)"
        return (
            f"ok: schema v{version}{note}, {orders} orders, outbox {depth}, "
            f"dead letters {dead}, pending print jobs {jobs}"
        )
    except sqlite3.Error as err:
        raise JournalCheckError(f"corrupt: {err}") from err
    finally:
        conn.close()


def check_handler(args: argparse.Namespace) -> int:
    try:
        summary = check_journal(args.db)
    except JournalCheckError as err:
        print(f"journal check: {args.db}: {err}", file=sys.stderr)
        return 1
    print(f"journal check: {args.db}: {summary}")
    return 0


# Characters json.dumps(ensure_ascii=False) leaves raw that some line readers (Python's
# str.splitlines, JavaScript) treat as line ends; escaped so one record stays one line.
_LINE_BREAKERS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(record: JsonMapping) -> str:
    """One JSON-lines record: readable Chinese, but never a raw line separator."""
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    for raw, escaped in _LINE_BREAKERS.items():
        text = text.replace(raw, escaped)
    return text


def export_handler(args: argparse.Namespace) -> int:
    from .journal import export_records

    problem = _header_problem(args.db)
    if problem:
        print(f"journal export: {args.db}: {problem}", file=sys.stderr)
        return 1
    try:
        conn = open_read_only(args.db)
        try:
            out = sys.stdout
            for record in export_records(conn):
                out.write(json_line(record) + "\n")
            out.flush()
        finally:
            conn.close()
    except sqlite3.Error as err:
        print(f"journal export: {args.db}: corrupt: {err}", file=sys.stderr)
        return 1
    return 0


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    age_h = (time.time() - ts) / 3600
    return f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d %H:%M:%S}Z ({age_h:.1f} h ago)"


def stats_handler(args: argparse.Namespace) -> int:
    from .journal.retention import journal_stats

    try:
        problem = _header_problem(args.db)
        if problem:
            raise JournalCheckError(problem)
        conn = open_read_only(args.db)
        try:
            st = journal_stats(conn, args.db)
        finally:
            conn.close()
    except (JournalCheckError, sqlite3.Error) as err:
        print(f"journal stats: {args.db}: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(dataclasses.asdict(st)))
        return 0
    print(f"journal {args.db}")
    print(f"  size             {st.size_bytes / 1024:.1f} KiB")
    print(f"  orders           {st.orders} ({st.orders_unacknowledged} not acknowledged)")
    print(f"  outbox           {st.outbox_depth} queued, {st.dead_letters} dead letters")
    print(f"  oldest unsent    {_when(st.oldest_unsent_at)}")
    print(f"  oldest kept      {_when(st.oldest_kept_at)}")
    print(f"  staff approvals  {st.staff_approvals}")
    return 0


def prune_handler(args: argparse.Namespace) -> int:
    from .journal.retention import prune_journal

    if args.retention_days < 1:
        print("journal prune: --retention-days must be at least 1", file=sys.stderr)
        return 2
    problem = _header_problem(args.db)
    if problem:
        print(f"journal prune: {args.db}: {problem}", file=sys.stderr)
        return 1
    archive = args.archive_dir or args.db.parent / "archive"
    try:
        reports = prune_journal(args.db, archive, args.retention_days)
    except (sqlite3.Error, OSError) as err:
        print(f"journal prune: {args.db}: {err}", file=sys.stderr)
        return 1
    orders = sum(r.orders for r in reports)
    approvals = sum(r.approvals for r in reports)
    print(f"pruned {orders} orders and {approvals} staff approvals older than "
          f"{args.retention_days:g} days; archived in {archive}")
    return 0
