"""Refund requests that a double click, a retried request or a tired clerk cannot repeat.

- ``Idempotency-Key`` header (any client-chosen string, at most 128 characters): the
  first request with a key is executed and remembered with a fingerprint of what it
  asked; the same key with the same request gets the same refund back (its current
  state), never a second one; the same key with another request is 409. The record
  is written in the refund's own transaction, so two racing requests with one key
  cannot both refund (the second fails on the key and changes nothing).
- Without a key: a refund of the same amount on the same order within
  :data:`REPEAT_WINDOW_S` of another is refused (409) unless the body says
  ``"confirm": true`` (a second, identical refund meant on purpose).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest
from cloud_bridge.models import RefundRequest, now

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces
# Two identical refunds within a minute are a double click or a retry, not a decision.
REPEAT_WINDOW_S = 60.0


def key_of(headers: Mapping[str, str]) -> str | None:
    """The request's idempotency key, ``None`` without one; 400 when malformed."""
    key = headers.get(HEADER)
    if key is None:
        return None
    if not _KEY.match(key):
        raise InvalidRequest(f"{HEADER} must be 1-128 printable ASCII characters")
    return key


def fingerprint(path: str, body: object) -> str:
    """What a request asked for, as compared between two uses of one key: a validated body
    (a pydantic model) or a JSON value."""
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    text = json.dumps([path, data], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def earlier_refund(s: AsyncSession, actor: str, key: str, asked: str) -> int | None:
    """The refund request id a key was first used for, or ``None`` for a new key."""
    row = await s.get(IdempotencyRecord, (actor, key))
    if row is None:
        return None
    if row.request_hash != asked:
        raise Conflict(f"{HEADER} {key!r} was used for a different request")
    return int(json.loads(row.body)["refund_id"])


def remember(s: AsyncSession, actor: str, key: str, asked: str, refund_id: int) -> None:
    s.add(IdempotencyRecord(actor=actor[:128], key=key, request_hash=asked, status=201,
                            body=json.dumps({"refund_id": refund_id}), created_at=now()))


async def refuse_repeat(s: AsyncSession, order_id: int, amount: int) -> None:
    """409 when the same amount was asked for the same order moments ago (not failed)."""
    since = now() - timedelta(seconds=REPEAT_WINDOW_S)
    earlier = await s.scalar(
        select(RefundRequest).where(RefundRequest.order_id == order_id,
                                    RefundRequest.amount == amount,
                                    RefundRequest.created_at >= since,
                                    RefundRequest.status != "failed")
        .order_by(RefundRequest.id.desc()).limit(1))
    if earlier is not None:
        raise Conflict(f"an identical refund of {amount} fen was requested on this order "
                       f"{int((now() - earlier.created_at).total_seconds())} s ago by "
                       f"{earlier.requested_by}; send \"confirm\": true to refund again")
