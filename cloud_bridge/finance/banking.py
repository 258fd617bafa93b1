"""Bank accounts (numbers encrypted at rest, shown masked) and payouts (提现) from a
provider balance to a store's bank account, with maker-checker approval and limits.

The account number is sealed with AES-256-GCM under the ``finance_bank_key``
credential (32 bytes, hex; ``$CREDENTIALS_DIRECTORY/finance_bank_key`` or
``$BRIDGE_FINANCE_BANK_KEY``), the store and row bound in as associated data so a
ciphertext cannot be moved to another account. Only the last four digits are ever
shown.

A payout is requested by one user and approved or rejected by another (never the
requester); a finance user approves up to :data:`FINANCE_APPROVAL_LIMIT_FEN`, above it
only head office; a store's approved payouts per business day stay within
:data:`DAILY_LIMIT_FEN`; and no payout may exceed the provider's clearing balance in
the ledger. An approved payout posts bank debit / clearing credit. Every step is an
audit row (:class:`PayoutEvent`).
"""

from __future__ import annotations

import base64
import os
import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.config import load_secret
from cloud_bridge.db import get_row
from cloud_bridge.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unavailable
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from . import accounts as A
from .ledger import credit, debit, post_entry
from .models import BankAccount, Payout, PayoutEvent
from .reports import balances
from .service import DEFAULT_TZ, local_date

KEY_CREDENTIAL = "finance_bank_key"
# Finance users approve payouts up to 50,000 yuan; larger ones need head office.
FINANCE_APPROVAL_LIMIT_FEN = 5_000_000
# A store's approved payouts per business day stay under 200,000 yuan.
DAILY_LIMIT_FEN = 20_000_000
NUMBER = re.compile(r"^\d{8,30}$")
REQUESTED, APPROVED, REJECTED = "requested", "approved", "rejected"


def _key() -> bytes:
    secret = load_secret(KEY_CREDENTIAL)
    if not secret:
        raise Unavailable(f"bank accounts need the {KEY_CREDENTIAL} credential "
                          "(32 bytes, hex)")
    try:
        key = bytes.fromhex(secret.strip())
    except ValueError as err:
        raise Unavailable(f"{KEY_CREDENTIAL} is not hex") from err
    if len(key) != 32:
        raise Unavailable(f"{KEY_CREDENTIAL} must be 32 bytes")
    return key


def _aad(store: str, holder: str) -> bytes:
    return f"finance-bank:{store}:{holder}".encode()


def seal(number: str, store: str, holder: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key()).encrypt(nonce, number.encode(), _aad(store, holder))
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def unseal(acct: BankAccount) -> str:
    """The full number (for the payout instruction to the bank; never for display)."""
    raw = base64.b64decode(acct.number_enc.removeprefix("v1:"))
    return AESGCM(_key()).decrypt(raw[:12], raw[12:],
                                  _aad(acct.store, acct.holder_name)).decode()


def masked(acct: BankAccount) -> str:
    return "**** **** **** " + acct.number_last4


def account_json(acct: BankAccount) -> JsonObject:
    return {"id": acct.id, "store": acct.store, "bank_name": acct.bank_name,
            "holder_name": acct.holder_name, "number": masked(acct),
            "created_by": acct.created_by, "created_at": acct.created_at.isoformat()}


async def add_bank_account(session: AsyncSession, *, store: str, bank_name: str,
                           holder_name: str, number: str, actor: str) -> BankAccount:
    number = re.sub(r"[\s-]", "", number)
    if not NUMBER.match(number):
        raise InvalidRequest("number: 8 to 30 digits")
    acct = BankAccount(store=store, bank_name=bank_name, holder_name=holder_name,
                       number_enc=seal(number, store, holder_name), number_last4=number[-4:],
                       created_by=actor[:128], created_at=now())
    session.add(acct)
    await session.flush()
    return acct


def _event(session: AsyncSession, payout: Payout, actor: str, action: str,
           detail: str | None = None) -> None:
    session.add(PayoutEvent(payout_id=payout.id, at=now(), actor=actor[:128], action=action,
                            detail=detail[:500] if detail else None))


async def request_payout(session: AsyncSession, *, store: str, provider: str,
                         bank_account_id: int, amount: int, note: str | None,
                         actor: str) -> Payout:
    """The maker's step: a payout waiting for a checker."""
    acct = await session.get(BankAccount, bank_account_id)
    if acct is None or acct.store != store:
        raise NotFound(f"no bank account {bank_account_id} of store {store}")
    try:
        A.clearing(provider)
    except KeyError as err:
        raise InvalidRequest(f"provider: {provider} holds no balance") from err
    if provider == "stored_value":
        raise InvalidRequest("provider: stored value is the members' money")
    payout = Payout(store=store, provider=provider, bank_account_id=acct.id, amount=amount,
                    status=REQUESTED, note=note, requested_by=actor[:128], requested_at=now())
    session.add(payout)
    await session.flush()
    _event(session, payout, actor, "requested", f"{amount} fen from {provider} to "
           f"{acct.bank_name} {masked(acct)}")
    return payout


async def decide_payout(session: AsyncSession, payout_id: int, *, approve: bool,
                        note: str | None, actor: str, role: str | None,
                        tz: str = DEFAULT_TZ) -> Payout:
    """The checker's step: approve (posts it) or reject; never the requester's own."""
    q = select(Payout).where(Payout.id == payout_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    payout = await session.scalar(q)
    if payout is None:
        raise NotFound(f"no payout {payout_id}")
    if payout.status != REQUESTED:
        raise Conflict(f"payout {payout_id} is {payout.status}")
    if payout.requested_by == actor:
        raise Forbidden("maker-checker: the requester cannot decide their own payout")
    if approve:
        if role != auth.HEAD_OFFICE and payout.amount > FINANCE_APPROVAL_LIMIT_FEN:
            raise Forbidden(f"payouts above {FINANCE_APPROVAL_LIMIT_FEN} fen need head office")
        day = local_date(now(), tz)
        done = await session.scalar(select(func.coalesce(func.sum(Payout.amount), 0)).where(
            Payout.store == payout.store, Payout.status == APPROVED,
            Payout.decided_at >= _day_start(day, tz)))
        if int(done or 0) + payout.amount > DAILY_LIMIT_FEN:
            raise Conflict(f"daily payout limit of {DAILY_LIMIT_FEN} fen for {payout.store} "
                           f"would be passed ({done} approved today)")
        # The clearing account is an asset: its debit balance is what the provider holds.
        held = (await balances(session, store=payout.store)).get(
            A.clearing(payout.provider), 0)
        if payout.amount > held:
            raise Conflict(f"{payout.provider} holds {held} fen for {payout.store}; "
                           f"cannot pay out {payout.amount}")
        acct = await get_row(session, BankAccount, payout.bank_account_id)
        at = now()
        await post_entry(session, store=payout.store, source_type="payout",
                         source_id=str(payout.id), business_date=day, occurred_at=at,
                         legs=[debit(A.BANK, payout.amount, masked(acct)),
                               credit(A.clearing(payout.provider), payout.amount)],
                         memo=f"payout {payout.id} to {acct.bank_name} {masked(acct)}",
                         posted_by=actor)
    payout.status = APPROVED if approve else REJECTED
    payout.decided_by, payout.decided_at = actor[:128], now()
    _event(session, payout, actor, payout.status, note)
    return payout


def _day_start(day: str, tz: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(0), ZoneInfo(tz))


async def payout_json(session: AsyncSession, p: Payout) -> JsonObject:
    events = (await session.scalars(select(PayoutEvent).where(
        PayoutEvent.payout_id == p.id).order_by(PayoutEvent.id))).all()
    acct = await session.get(BankAccount, p.bank_account_id)
    return {"id": p.id, "store": p.store, "provider": p.provider,
            "bank_account_id": p.bank_account_id,
            "bank_account": masked(acct) if acct else "", "amount": p.amount,
            "status": p.status, "note": p.note, "requested_by": p.requested_by,
            "requested_at": p.requested_at.isoformat(), "decided_by": p.decided_by,
            "decided_at": p.decided_at.isoformat() if p.decided_at else None,
            "events": [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                        "detail": e.detail} for e in events]}
