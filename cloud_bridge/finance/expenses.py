"""Expenses and other income entered by finance (费用与其他收入), each with its source
document attached (an invoice or receipt: PDF, JPEG or PNG, checked by its content and
size), posted to the ledger when entered.

Files go through the bridge's one storage interface (``FileStorage``: a local
directory here, object storage at chain scale), under ``finance-files`` next to a
SQLite database or ``$BRIDGE_FINANCE_FILES``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import now
from cloud_bridge.service.storage import (
    FileStorage,
    LocalFileStorage,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from common.jsontypes import JsonObject

from . import accounts as A
from .ledger import credit, debit, post_entry
from .models import Expense

FILES_ENV = "BRIDGE_FINANCE_FILES"
DEFAULT_FILES = Path("var/finance-files")
# Below the bridge's 1 MiB request limit; a scanned invoice fits easily.
MAX_ATTACHMENT_BYTES = 1000 * 1024
# What a document must start with (the declared Content-Type is not trusted).
DOCUMENT_MAGIC = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff",
                  "image/png": b"\x89PNG\r\n\x1a\n"}
SUFFIX = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


def storage_for(db_url: str) -> FileStorage:
    """The finance documents' storage for the database at ``db_url``."""
    if os.environ.get(FILES_ENV):
        return LocalFileStorage(Path(os.environ[FILES_ENV]))
    if db_url.startswith("sqlite") and "///" in db_url:
        path = db_url.split("///", 1)[1]
        if path and path != ":memory:" and not path.startswith("file:"):
            return LocalFileStorage(Path(path).parent / "finance-files")
    return LocalFileStorage(DEFAULT_FILES)


def sniff_document(data: bytes) -> str:
    if not data:
        raise InvalidRequest("the document is empty")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise PayloadTooLarge(f"a document may have at most {MAX_ATTACHMENT_BYTES} bytes")
    for ctype, magic in DOCUMENT_MAGIC.items():
        if data.startswith(magic):
            return ctype
    raise UnsupportedMediaType("only PDF, JPEG and PNG documents are accepted")


async def record(session: AsyncSession, *, store: str, kind: str, code: str, amount: int,
                 vat: int, paid_via: str, business_date: str, description: str,
                 actor: str) -> Expense:
    """Enter an expense (or other income) and post it: expense net + input VAT against
    cash/bank; income: cash/bank against other income net + output VAT."""
    if kind == "expense" and code not in A.EXPENSE_CODES:
        raise InvalidRequest(f"code: one of {', '.join(A.EXPENSE_CODES)}")
    if kind == "income" and code != A.OTHER_INCOME:
        raise InvalidRequest(f"code: other income is {A.OTHER_INCOME}")
    if not 0 <= vat < amount:
        raise InvalidRequest("vat: at least 0 and below the amount")
    row = Expense(store=store, kind=kind, code=code, amount=amount, vat=vat, paid_via=paid_via,
                  business_date=business_date, description=description,
                  created_by=actor[:128], created_at=now())
    session.add(row)
    await session.flush()
    money = A.CASH if paid_via == "cash" else A.BANK
    if kind == "expense":
        legs = [debit(code, amount - vat), debit(A.INPUT_VAT, vat), credit(money, amount)]
    else:
        legs = [debit(money, amount), credit(code, amount - vat), credit(A.OUTPUT_VAT, vat)]
    await post_entry(session, store=store, source_type=kind, source_id=str(row.id),
                     business_date=business_date, occurred_at=row.created_at, legs=legs,
                     memo=description[:200], posted_by=actor)
    return row


async def attach(session: AsyncSession, storage: FileStorage, expense_id: int,
                 data: bytes) -> Expense:
    """Store the document of an expense (once: a document is evidence, not replaced)."""
    row = await session.get(Expense, expense_id)
    if row is None:
        raise NotFound(f"no expense {expense_id}")
    if row.attachment_key:
        raise Conflict(f"expense {expense_id} has its document already")
    ctype = sniff_document(data)
    row.attachment_key = await storage.put(data, SUFFIX[ctype])
    row.attachment_type, row.attachment_size = ctype, len(data)
    row.attachment_sha256 = hashlib.sha256(data).hexdigest()
    return row


def expense_json(e: Expense) -> JsonObject:
    return {"id": e.id, "store": e.store, "kind": e.kind, "code": e.code,
            "account": A.spec_for(e.code).name_zh, "amount": e.amount, "vat": e.vat,
            "paid_via": e.paid_via, "business_date": e.business_date,
            "description": e.description, "created_by": e.created_by,
            "created_at": e.created_at.isoformat(),
            "attachment": None if not e.attachment_key else {
                "type": e.attachment_type, "size": e.attachment_size,
                "sha256": e.attachment_sha256}}
