"""Finance routes (``/api/v1/admin/finance/...``): ledger, statements, exports, closes.

Head office and finance users only; a finance user bound to a store sees that store,
one without a store (and head office) the chain.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from typing import TypedDict

from aiohttp import web
from sqlalchemy import select

from cloud_bridge import auth
from cloud_bridge.db import Database
from cloud_bridge.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unavailable
from cloud_bridge.keys import CONFIG_KEY, DB_KEY
from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject
from contract.money import major_text

from . import reports, statements
from . import schemas as S
from .api_banking import ROUTES as BANKING_ROUTES
from .api_budgets import ROUTES as BUDGET_ROUTES
from .api_close import ROUTES as CLOSE_ROUTES
from .api_expenses import ROUTES as EXPENSE_ROUTES
from .api_fapiao import ROUTES as FAPIAO_ROUTES
from .export import MEDIA_TYPES, ExportError, render
from .jobs import post_pending
from .ledger import LedgerError, reverse_entry
from .models import JournalEntry, JournalLine, LedgerAccount

P = "/api/v1/admin/finance"
ROLES = (auth.HEAD_OFFICE, auth.FINANCE)
KIND = {"type": "string", "enum": list(reports.KINDS)}
INT = {"type": "integer", "minimum": 1, "maximum": 10**15}


def db(call: Call) -> Database:
    return call.app[DB_KEY]


def tz(call: Call) -> str:
    return call.app[CONFIG_KEY].bridge.timezone


async def accounts(call: Call) -> JsonObject:
    """Every account of the store (or the chain) with its balance, the trial balance."""
    query = call.query_as(S.AccountsQuery)
    store = call.principal.store_scope(query.store)
    async with db(call).session() as s:
        balances = await reports.trial_balance(s, store=store, end=query.date_to)
        q = select(LedgerAccount.code, LedgerAccount.kind, LedgerAccount.name_zh,
                   LedgerAccount.name_en).distinct().order_by(LedgerAccount.code)
        if store is not None:
            q = q.where(LedgerAccount.store == store)
        rows = (await s.execute(q)).all()
    return {"store": store, "items": [
        {"code": c, "kind": k, "name_zh": zh, "name_en": en, "balance": balances.get(c, 0)}
        for c, k, zh, en in rows]}


class EntryLineJson(TypedDict):
    """One line of a journal entry as replied (the CSV export reads it back)."""

    line_no: int
    account: str
    debit: int
    credit: int
    memo: str | None


class EntryJson(TypedDict):
    """A journal entry as replied (the CSV export reads it back)."""

    id: int
    store: str
    source_type: str
    source_id: str
    business_date: str
    occurred_at: str
    amount: int
    memo: str | None
    reverses_id: int | None
    posted_by: str
    lines: list[EntryLineJson]


def entry_json(e: JournalEntry, lines: list[tuple[JournalLine, str]]) -> EntryJson:
    return {"id": e.id, "store": e.store, "source_type": e.source_type,
            "source_id": e.source_id, "business_date": e.business_date,
            "occurred_at": e.occurred_at.isoformat(), "amount": e.amount, "memo": e.memo,
            "reverses_id": e.reverses_id, "posted_by": e.posted_by,
            "lines": [{"line_no": ln.line_no, "account": code, "debit": ln.debit,
                       "credit": ln.credit, "memo": ln.memo} for ln, code in lines]}


async def list_entries(call: Call) -> JsonObject:
    """Journal entries with their lines, newest first; ``account=1012`` lists fund movements."""
    return {"items": await _entries(call)}


async def entries_csv(call: Call) -> web.Response:
    """The same entries as CSV (UTF-8 with BOM, for Excel), one row per line; with
    ``account``, only the lines on that account: the fund movements (资金流水) export."""
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out)
    w.writerow(["entry", "store", "business_date", "source_type", "source_id", "account",
                "debit_fen", "credit_fen", "debit", "credit", "memo"])
    acct = call.query_as(S.EntriesQuery).account
    for e in await _entries(call):
        for ln in e["lines"]:
            if acct and not (ln["account"] == acct or ln["account"].startswith(acct + ".")):
                continue
            w.writerow([e["id"], e["store"], e["business_date"], e["source_type"],
                        e["source_id"], ln["account"], ln["debit"], ln["credit"],
                        major_text(ln["debit"]), major_text(ln["credit"]),
                        ln["memo"] or e["memo"] or ""])
    return web.Response(body=out.getvalue().encode(), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="entries.csv"'})


async def _entries(call: Call) -> list[EntryJson]:
    q = call.query_as(S.EntriesQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(JournalEntry).order_by(JournalEntry.id.desc())
    if store is not None:
        stmt = stmt.where(JournalEntry.store == store)
    if q.date_from:
        stmt = stmt.where(JournalEntry.business_date >= q.date_from)
    if q.date_to:
        stmt = stmt.where(JournalEntry.business_date <= q.date_to)
    if q.source_type:
        stmt = stmt.where(JournalEntry.source_type == q.source_type)
    if q.account:
        touching = (select(JournalLine.entry_id)
                    .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
                    .where((LedgerAccount.code == q.account)
                           | LedgerAccount.code.like(q.account + ".%")))
        stmt = stmt.where(JournalEntry.id.in_(touching))
    async with db(call).session() as s:
        entries = (await s.scalars(stmt.limit(q.limit).offset(q.offset))).all()
        lines: dict[int, list[tuple[JournalLine, str]]] = {e.id: [] for e in entries}
        if entries:
            rows = await s.execute(
                select(JournalLine, LedgerAccount.code)
                .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
                .where(JournalLine.entry_id.in_(list(lines)))
                .order_by(JournalLine.entry_id, JournalLine.line_no))
            for ln, code in rows.all():
                lines[ln.entry_id].append((ln, code))
    return [entry_json(e, lines[e.id]) for e in entries]


async def reverse(call: Call) -> EntryJson:
    """Correct a posted entry by posting its reversal (once); the original stays."""
    entry_id = int(call.path["entry_id"])
    async with db(call).session() as s:
        original = await s.get(JournalEntry, entry_id)
        if original is None:
            raise NotFound(f"no journal entry {entry_id}")
        call.principal.check_store(original.store)
        try:
            rev = await reverse_entry(s, entry_id, reason=call.body_as(S.ReverseBody).reason,
                                      actor=call.principal.actor)
        except LedgerError as err:
            raise Conflict(str(err)) from err
        rows = await s.execute(
            select(JournalLine, LedgerAccount.code)
            .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
            .where(JournalLine.entry_id == rev.id).order_by(JournalLine.line_no))
        return entry_json(rev, list(rows.tuples().all()))


async def _statement(call: Call) -> reports.Statement:
    kind = call.path["kind"]
    if kind not in reports.KINDS:
        raise NotFound(f"no report {kind!r}; one of {', '.join(reports.KINDS)}")
    q = call.query_as(S.ReportQuery)
    store = call.principal.store_scope(q.store)
    try:
        period = reports.parse_period(q.period)
    except reports.PeriodError as err:
        raise InvalidRequest(str(err)) from err
    async with db(call).session() as s:
        try:
            return await statements.statement(s, kind, store=store, period=period,
                                           rate_bp=q.rate_bp)
        except ValueError as err:  # e.g. a treasury view over more than ten years
            raise InvalidRequest(str(err)) from err


def statement_json(st: reports.Statement) -> JsonObject:
    return {"kind": st.kind, "title_zh": st.title_zh, "title_en": st.title_en,
            "store": st.store, "period_start": st.period.start, "period_end": st.period.end,
            "rows": [{"code": r.code, "label_zh": r.label_zh, "label_en": r.label_en,
                      "amount": r.amount, "total": r.total} for r in st.rows],
            "figures": st.figures}


async def report(call: Call) -> JsonObject:
    """An income statement, balance sheet or cash-flow statement (fen)."""
    return statement_json(await _statement(call))


def _exporter(fmt: str) -> Callable[[Call], Awaitable[web.Response]]:
    async def export(call: Call) -> web.Response:
        st = await _statement(call)
        try:
            body = render(st, fmt)
        except ExportError as err:
            raise Unavailable(str(err)) from err
        name = f"{st.kind}-{st.scope}-{st.period.label.replace('..', '_')}.{fmt}"
        return web.Response(body=body, headers={
            "Content-Type": MEDIA_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="{name}"'})

    export.__name__ = f"report_{fmt}"
    export.__doc__ = f"The statement as {fmt.upper()}."
    return export


async def post_now(call: Call) -> JsonObject:
    """Post every unposted sale, refund, top-up and restocked return now (also runs
    every minute by itself)."""
    if not call.principal.chain_wide:
        raise Forbidden("posting runs for the whole chain: head office or "
                        "chain-wide finance")
    result = await post_pending(db(call), tz=tz(call))
    return {"posted": result.posted}


ROUTES = [
    Route("GET", f"{P}/accounts", accounts, "Ledger accounts and balances (trial balance)",
          "finance", auth="admin", roles=ROLES, query=S.AccountsQuery, response=S.Accounts),
    Route("GET", f"{P}/entries", list_entries, "Journal entries and fund movements",
          "finance", auth="admin", roles=ROLES, query=S.EntriesQuery, response=S.Entries),
    Route("GET", f"{P}/entries/csv", entries_csv, "Journal entries / fund movements as CSV",
          "finance", auth="admin", roles=ROLES, query=S.EntriesQuery, raw=True,
          response_type="text/csv", response={"type": "string"}),
    Route("POST", f"{P}/entries/{{entry_id}}/reverse", reverse, "Reverse a posted entry",
          "finance", auth="admin", roles=ROLES, body=S.ReverseBody, status=201,
          path_params={"entry_id": INT}, response=S.Entry),
    Route("POST", f"{P}/post", post_now, "Post pending documents to the ledger", "finance",
          auth="admin", roles=ROLES, response=S.Posted),
    Route("GET", f"{P}/reports/{{kind}}", report, "Financial statement", "finance",
          auth="admin", roles=ROLES, query=S.ReportQuery, path_params={"kind": KIND},
          response=S.Statement),
    *(Route("GET", f"{P}/reports/{{kind}}/{fmt}", _exporter(fmt),
            f"Financial statement as {fmt.upper()}", "finance", auth="admin", roles=ROLES,
            query=S.ReportQuery, path_params={"kind": KIND}, raw=True,
            response_type=MEDIA_TYPES[fmt].split(";")[0],
            response={"type": "string", "format": "binary"},
            responses={503: "the PDF font is not installed"} if fmt == "pdf" else {})
      for fmt in ("csv", "xlsx", "pdf")),
    *CLOSE_ROUTES,
    *BANKING_ROUTES,
    *BUDGET_ROUTES,
    *EXPENSE_ROUTES,
    *FAPIAO_ROUTES,
]
