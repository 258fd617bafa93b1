"""Routes of bank accounts and payouts (maker-checker)."""

from __future__ import annotations

from sqlalchemy import select

from cloud_bridge import auth
from cloud_bridge.errors import NotFound
from cloud_bridge.keys import CONFIG_KEY, DB_KEY
from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject

from . import banking as B
from . import schemas as S
from .models import BankAccount, Payout

P = "/api/v1/admin/finance"
ROLES = (auth.HEAD_OFFICE, auth.FINANCE)
INT = {"type": "integer", "minimum": 1, "maximum": 10**15}
NO_KEY = "the bank-account encryption key is not configured"


async def add_account(call: Call) -> JsonObject:
    """Add a store's bank account; the number is encrypted and shown masked."""
    b = call.body_as(S.BankAccountBody)
    call.principal.check_store(b.store)
    async with call.app[DB_KEY].session() as s:
        acct = await B.add_bank_account(s, store=b.store, bank_name=b.bank_name,
                                        holder_name=b.holder_name, number=b.number,
                                        actor=call.principal.actor)
        return B.account_json(acct)


async def list_accounts(call: Call) -> JsonObject:
    """Bank accounts of the visible stores (numbers masked)."""
    store = call.principal.store_scope(call.query_as(S.StoreQuery).store)
    q = select(BankAccount).order_by(BankAccount.id)
    if store is not None:
        q = q.where(BankAccount.store == store)
    async with call.app[DB_KEY].session() as s:
        return {"items": [B.account_json(a) for a in await s.scalars(q)]}


async def request_payout(call: Call) -> JsonObject:
    """Ask for a payout from a provider balance to a bank account (the maker's step)."""
    b = call.body_as(S.PayoutBody)
    call.principal.check_store(b.store)
    async with call.app[DB_KEY].session() as s:
        p = await B.request_payout(s, store=b.store, provider=b.provider,
                                   bank_account_id=b.bank_account_id, amount=b.amount,
                                   note=b.note, actor=call.principal.actor)
        return await B.payout_json(s, p)


async def list_payouts(call: Call) -> JsonObject:
    """Payouts with their audit trail, newest first."""
    q = call.query_as(S.PayoutsQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(Payout).order_by(Payout.id.desc()).limit(q.limit).offset(q.offset)
    if store is not None:
        stmt = stmt.where(Payout.store == store)
    if q.status:
        stmt = stmt.where(Payout.status == q.status)
    async with call.app[DB_KEY].session() as s:
        return {"items": [await B.payout_json(s, p) for p in await s.scalars(stmt)]}


async def decide_payout(call: Call) -> JsonObject:
    """Approve (posts it to the ledger) or reject a payout: another user than the maker."""
    payout_id = int(call.path["payout_id"])
    async with call.app[DB_KEY].session() as s:
        p = await s.get(Payout, payout_id)
        if p is None:
            raise NotFound(f"no payout {payout_id}")
        call.principal.check_store(p.store)
        b = call.body_as(S.DecisionBody)
        p = await B.decide_payout(s, payout_id, approve=b.decision == "approve",
                                  note=b.note, actor=call.principal.actor,
                                  role=call.principal.role,
                                  tz=call.app[CONFIG_KEY].bridge.timezone)
        return await B.payout_json(s, p)


ROUTES = [
    Route("POST", f"{P}/bank-accounts", add_account, "Add a bank account", "finance",
          auth="admin", roles=ROLES, body=S.BankAccountBody, status=201,
          response=S.BankAccount, responses={503: NO_KEY}),
    Route("GET", f"{P}/bank-accounts", list_accounts, "Bank accounts (masked)", "finance",
          auth="admin", roles=ROLES, query=S.StoreQuery, response=S.BankAccounts),
    Route("POST", f"{P}/payouts", request_payout, "Request a payout", "finance",
          auth="admin", roles=ROLES, body=S.PayoutBody, status=201, response=S.Payout),
    Route("GET", f"{P}/payouts", list_payouts, "Payouts and their audit trail", "finance",
          auth="admin", roles=ROLES, query=S.PayoutsQuery, response=S.Payouts),
    Route("POST", f"{P}/payouts/{{payout_id}}/decision", decide_payout,
          "Approve or reject a payout (maker-checker)", "finance", auth="admin", roles=ROLES,
          body=S.DecisionBody, path_params={"payout_id": INT}, response=S.Payout,
          responses={503: NO_KEY}),
]
