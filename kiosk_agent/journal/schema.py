"""The journal's SQLite schema and its migrations, applied by ``PRAGMA user_version``.

Each entry of :data:`MIGRATIONS` moves the schema from version ``i`` to ``i + 1``
and runs in one transaction together with the ``user_version`` bump, so a crash
during a migration leaves the old schema intact. Never edit a released migration;
append a new one.
"""

from __future__ import annotations

import sqlite3

SCHEMA_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Price book versions: a new version is written completely (complete = 1) before
-- it becomes current, so the kiosk keeps selling on the old one until then.
CREATE TABLE catalog_versions (
    version    TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    currency   TEXT NOT NULL,
    body       BLOB NOT NULL,
    loaded_at  REAL NOT NULL,
    complete   INTEGER NOT NULL DEFAULT 0,
    is_current INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE catalog_products (
    version    TEXT NOT NULL REFERENCES catalog_versions(version) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    barcodes   TEXT NOT NULL,
    name_zh    TEXT NOT NULL,
    name_en    TEXT,
    unit_price INTEGER NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (version, product_id)
);

CREATE TABLE orders (
    order_no        TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    completed_at    TEXT NOT NULL,
    committed_at    REAL NOT NULL,
    business_day    TEXT NOT NULL,
    currency        TEXT NOT NULL,
    subtotal        INTEGER NOT NULL,
    discount_total  INTEGER NOT NULL,
    total           INTEGER NOT NULL,
    member_id       TEXT,
    catalog_version TEXT,
    offline         INTEGER NOT NULL DEFAULT 0,
    data            TEXT NOT NULL
);
CREATE INDEX orders_day ON orders(business_day);
CREATE TABLE order_lines (
    order_no     TEXT NOT NULL REFERENCES orders(order_no),
    line_no      INTEGER NOT NULL,
    product_id   TEXT NOT NULL,
    barcode      TEXT,
    name_zh      TEXT NOT NULL,
    qty          INTEGER NOT NULL,
    weight_g     INTEGER,
    unit_price   INTEGER NOT NULL,
    list_amount  INTEGER NOT NULL,
    discount     INTEGER NOT NULL,
    amount       INTEGER NOT NULL,
    vat_rate_bp  INTEGER NOT NULL,
    PRIMARY KEY (order_no, line_no)
) WITHOUT ROWID;

-- One row per payment attempt. The payment code (auth_code) is NEVER stored.
CREATE TABLE payment_attempts (
    out_trade_no TEXT PRIMARY KEY,
    order_no     TEXT NOT NULL,
    provider     TEXT NOT NULL,
    amount       INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending','paid','failed','unknown','reversed')),
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    provider_ref TEXT,
    reason       TEXT,
    attempts     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX payment_attempts_status ON payment_attempts(status);
CREATE INDEX payment_attempts_order ON payment_attempts(order_no);

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_at REAL NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE dead_letters (
    event_id   TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_at REAL NOT NULL,
    reason     TEXT NOT NULL,
    failed_at  REAL NOT NULL,
    discarded_at REAL,
    discard_reason TEXT
);

CREATE TABLE print_jobs (
    job_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    order_no   TEXT,
    kind       TEXT NOT NULL CHECK (kind IN ('receipt','reprint','test')),
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done')),
    created_at REAL NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at    REAL
);
CREATE INDEX print_jobs_pending ON print_jobs(status, job_id);
CREATE INDEX print_jobs_order ON print_jobs(order_no);

CREATE TABLE parked_orders (
    park_no    TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    status     TEXT NOT NULL DEFAULT 'parked' CHECK (status IN ('parked','resumed','voided')),
    total      INTEGER NOT NULL,
    currency   TEXT NOT NULL,
    data       TEXT NOT NULL,
    closed_at  REAL
);
"""

# v2: the sale an attempt pays for, written with the attempt before the charge, so a
# payment found paid after a restart still becomes its order (the cart lived in memory).
SCHEMA_V2 = """
ALTER TABLE payment_attempts ADD COLUMN order_draft TEXT;
"""

# v3: order and payment numbers name the store ({store}-{kiosk}-{day}-{seq}, issue 11).
# Nothing already written is renumbered (receipts, providers and the cloud have those
# numbers); the day sequences continue, so no new number repeats an old one. A journal
# that already holds sales records when the switch happened (support, exports).
SCHEMA_V3 = """
INSERT OR IGNORE INTO meta(key, value)
    SELECT 'legacy_numbers_until', CAST(strftime('%s', 'now') AS TEXT)
    WHERE EXISTS (SELECT 1 FROM orders) OR EXISTS (SELECT 1 FROM payment_attempts);
"""

# v4 (issue 11): staff approvals made with a signed badge (who, which badge, what, when),
# kept with the sale; and what the cloud acknowledged, so pruning can keep everything
# unacknowledged forever: an order.completed event remembers its order, and an order is
# marked acknowledged when that event's ack arrives. Orders whose event already left the
# outbox before this version (acked: it is neither queued nor dead-lettered) count as
# acknowledged at their commit time.
SCHEMA_V4 = """
CREATE TABLE staff_approvals (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        REAL NOT NULL,
    staff_id  TEXT NOT NULL,
    badge_id  TEXT NOT NULL,
    role      TEXT,
    action    TEXT NOT NULL,
    order_no  TEXT,
    event_id  TEXT NOT NULL
);
CREATE INDEX staff_approvals_at ON staff_approvals(at);
ALTER TABLE outbox ADD COLUMN order_no TEXT;
ALTER TABLE orders ADD COLUMN acked_at REAL;
UPDATE outbox SET order_no = json_extract(CAST(payload AS TEXT), '$.data.order_no')
    WHERE type = 'order.completed';
UPDATE orders SET acked_at = committed_at
    WHERE order_no NOT IN (SELECT order_no FROM outbox WHERE order_no IS NOT NULL)
      AND order_no NOT IN (
          SELECT json_extract(CAST(payload AS TEXT), '$.data.order_no') FROM dead_letters
          WHERE type = 'order.completed');
CREATE INDEX orders_acked ON orders(acked_at);
"""

MIGRATIONS: tuple[str, ...] = (SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4)
SCHEMA_VERSION = len(MIGRATIONS)

EXPECTED_TABLES = frozenset(
    {
        "meta", "catalog_versions", "catalog_products", "orders", "order_lines",
        "payment_attempts", "outbox", "dead_letters", "print_jobs", "parked_orders",
        "staff_approvals",
    }
)


class SchemaError(Exception):
    """The database file has a schema this code cannot use."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn`` (autocommit mode) up to :data:`SCHEMA_VERSION`; return the old version."""
    (current,) = conn.execute("PRAGMA user_version").fetchone()
    if current > SCHEMA_VERSION:
        raise SchemaError(
            f"journal schema version {current} is newer than this software ({SCHEMA_VERSION})"
        )
    for version in range(current, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return current


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (no triggers, so ';' ends each one)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
