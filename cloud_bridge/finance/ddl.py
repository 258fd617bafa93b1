"""Triggers that make the database refuse unbalanced or edited ledger entries.

Shared by the models (``create_all`` in tests and throwaway databases) and the
Alembic migration, so both build the same guards.
"""

from __future__ import annotations

from sqlalchemy import DDL

_PG_FUNCTIONS = [
    """
CREATE OR REPLACE FUNCTION finance_entry_balanced() RETURNS trigger AS $$
DECLARE
    d bigint;
    c bigint;
    n integer;
BEGIN
    SELECT COALESCE(SUM(debit), 0), COALESCE(SUM(credit), 0), COUNT(*)
      INTO d, c, n FROM finance_lines WHERE entry_id = NEW.entry_id;
    IF d <> c OR n < 2 THEN
        RAISE EXCEPTION 'ledger entry % does not balance: debits %, credits %, % lines',
            NEW.entry_id, d, c, n USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION finance_line_sealed() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM finance_entries WHERE id = NEW.entry_id) THEN
        RAISE EXCEPTION 'ledger entry % is posted: add a reversing entry instead',
            NEW.entry_id USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
""",
    """
CREATE OR REPLACE FUNCTION finance_posted_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'posted ledger rows cannot be changed (%): post a reversing entry',
        TG_OP USING ERRCODE = '23514';
END
$$ LANGUAGE plpgsql
""",
]

TRIGGERS: dict[str, dict[str, list[str]]] = {
    "finance_lines": {
        "postgresql": [
            "CREATE CONSTRAINT TRIGGER finance_lines_balanced AFTER INSERT ON finance_lines "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION finance_entry_balanced()",
            "CREATE TRIGGER finance_lines_sealed BEFORE INSERT ON finance_lines "
            "FOR EACH ROW EXECUTE FUNCTION finance_line_sealed()",
            "CREATE TRIGGER finance_lines_immutable BEFORE UPDATE OR DELETE ON finance_lines "
            "FOR EACH ROW EXECUTE FUNCTION finance_posted_immutable()",
        ],
        "sqlite": [
            "CREATE TRIGGER finance_lines_sealed BEFORE INSERT ON finance_lines "
            "WHEN EXISTS (SELECT 1 FROM finance_entries WHERE id = NEW.entry_id) BEGIN "
            "SELECT RAISE(ABORT, 'ledger entry is posted: add a reversing entry instead'); END",
            "CREATE TRIGGER finance_lines_no_update BEFORE UPDATE ON finance_lines BEGIN "
            "SELECT RAISE(ABORT, 'posted ledger rows cannot be changed: post a reversing entry');"
            " END",
            "CREATE TRIGGER finance_lines_no_delete BEFORE DELETE ON finance_lines BEGIN "
            "SELECT RAISE(ABORT, 'posted ledger rows cannot be changed: post a reversing entry');"
            " END",
        ],
    },
    "finance_entries": {
        "postgresql": [
            # finance_entries is created before finance_lines: the functions go first here.
            *_PG_FUNCTIONS,
            "CREATE TRIGGER finance_entries_immutable BEFORE UPDATE OR DELETE ON finance_entries "
            "FOR EACH ROW EXECUTE FUNCTION finance_posted_immutable()",
        ],
        "sqlite": [
            # The entry row comes last and seals its lines: refused unless they balance.
            "CREATE TRIGGER finance_entries_balanced BEFORE INSERT ON finance_entries "
            "WHEN (SELECT COUNT(*) FROM finance_lines WHERE entry_id = NEW.id) < 2 "
            "OR (SELECT SUM(debit) - SUM(credit) FROM finance_lines WHERE entry_id = NEW.id) <> 0 "
            "OR (SELECT SUM(debit) FROM finance_lines WHERE entry_id = NEW.id) <> NEW.amount "
            "BEGIN SELECT RAISE(ABORT, 'ledger entry does not balance'); END",
            "CREATE TRIGGER finance_entries_no_update BEFORE UPDATE ON finance_entries BEGIN "
            "SELECT RAISE(ABORT, 'posted ledger rows cannot be changed: post a reversing entry');"
            " END",
            "CREATE TRIGGER finance_entries_no_delete BEFORE DELETE ON finance_entries BEGIN "
            "SELECT RAISE(ABORT, 'posted ledger rows cannot be changed: post a reversing entry');"
            " END",
        ],
    },
}


def trigger_ddl(sql: str, dialect: str) -> DDL:
    """``sql`` as a DDL run after its table is created, on ``dialect`` only."""
    # DDL() treats % as a format character; the plpgsql bodies use it for RAISE.
    return DDL(sql.replace("%", "%%")).execute_if(dialect=dialect)


def statements(dialect: str) -> list[str]:
    """Every trigger statement for ``dialect``, in creation order (for migrations)."""
    out: list[str] = []
    for table in ("finance_entries", "finance_lines"):
        out += TRIGGERS[table].get(dialect, [])
    return out
