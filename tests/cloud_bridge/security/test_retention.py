"""Retention (run hourly by every worker; POST /api/v1/admin/security/purge runs it now,
see test_login): old notification replay keys, events, idempotency records and audit
lines go; recent ones, which still protect against replays, stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from cloud_bridge.models import StoredEvent, now
from cloud_bridge.payments.models import PaymentNotificationSeen
from cloud_bridge.security.jobs import Retention, run_retention
from cloud_bridge.security.models import AuditLine, IdempotencyRecord


async def _count(db, model) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def test_old_rows_go_recent_ones_stay(db):
    keep = Retention()
    old, fresh = now() - timedelta(days=500), now() - timedelta(minutes=5)
    async with db.session() as s:
        for i, at in enumerate((old, fresh)):
            s.add(PaymentNotificationSeen(replay_key=f"wechat:n{i}", provider="wechat",
                                          received_at=at))
            s.add(StoredEvent(event_id=f"e{i}" * 8, store="s1", kiosk="k1", seq=i, type="x",
                              ts=at, received_at=at, worker="w", payload="{}"))
            s.add(IdempotencyRecord(actor="admin:a", key=f"k{i}", request_hash="h", status=201,
                                    body="{}", created_at=at))
            s.add(AuditLine(at=at - timedelta(days=keep.audit_days), actor="a", action="x",
                            subject="s", detail=""))
    done = await run_retention(db, keep)
    assert done["payment_notifications_seen"] == 1 and done["events"] == 1
    assert done["sec_idempotency"] == 1 and done["sec_audit"] == 2
    for model in (PaymentNotificationSeen, StoredEvent, IdempotencyRecord):
        assert await _count(db, model) == 1, model
    again = await run_retention(db, keep)  # idempotent: nothing more to do
    assert sum(again.values()) == 0
