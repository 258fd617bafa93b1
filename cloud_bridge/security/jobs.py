"""Retention: expired sessions, old notification replay keys, old events, audit lines.

Each table is trimmed to what it is for: a payment provider never replays a
notification weeks later (its signature timestamp window is minutes), and a kiosk
never re-sends an event older than its outbox keeps (days), so keys past these
ages protect nothing and only grow the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.db import Database, rows_changed
from cloud_bridge.models import StoredEvent, now
from cloud_bridge.payments.models import PaymentNotificationSeen

from .models import AuditLine, IdempotencyRecord, LoginFailure, MemberCodeUse

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kept record is worth keeping."""

    notification_keys_days: int = 30
    events_days: int = 400  # past a year's returns and audits; far past any kiosk outbox
    idempotency_days: int = 2
    audit_days: int = 730
    login_failures_days: int = 1
    # A member code is good for minutes; its sale may arrive days late (a kiosk sells
    # offline for up to 7 days), so its first use is kept a little longer than that.
    member_code_uses_days: int = 8


async def run_retention(db: Database, keep: Retention = Retention()) -> dict[str, int]:
    """Delete what is past its age; the rows deleted per table."""
    at = now()

    async def work(s: AsyncSession) -> dict[str, int]:
        done: dict[str, int] = {"api_sessions": await auth.purge_expired(s)}
        for name, model, column, days in (
            ("payment_notifications_seen", PaymentNotificationSeen,
             PaymentNotificationSeen.received_at, keep.notification_keys_days),
            ("events", StoredEvent, StoredEvent.received_at, keep.events_days),
            ("sec_idempotency", IdempotencyRecord, IdempotencyRecord.created_at,
             keep.idempotency_days),
            ("sec_audit", AuditLine, AuditLine.at, keep.audit_days),
            ("sec_login_failures", LoginFailure, LoginFailure.last_failure_at,
             keep.login_failures_days),
            ("sec_member_code_uses", MemberCodeUse, MemberCodeUse.used_at,
             keep.member_code_uses_days),
        ):
            done[name] = await rows_changed(
                s, delete(model).where(column < at - timedelta(days=days)))
        return done

    done = await db.transact(work)
    log.info("retention: %s", done)
    return done
