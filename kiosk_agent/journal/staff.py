"""Staff approvals made with a signed badge: recorded with their outbox event at once.

Every approval (an age check, maintenance on/off, a voided line) is a row here and a
``staff.approved`` event to the cloud, written in one transaction: the journal always
knows who approved what and when, and the cloud learns it exactly once.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from contract.wire.staff import STAFF_APPROVED, StaffApprovalData

from .outbox import OutboxMixin


@dataclass(frozen=True, slots=True)
class StaffApproval:
    """One approval as the journal keeps it."""

    id: int
    at: float
    staff_id: str
    badge_id: str
    role: str | None
    action: str
    order_no: str | None
    event_id: str


class StaffApprovalsMixin(OutboxMixin):
    """Recording and listing staff approvals."""

    async def record_staff_approval(self, approval: StaffApprovalData) -> StaffApproval:
        """Write the approval and its ``staff.approved`` event in one transaction."""
        data = approval.model_dump(mode="json")
        at = approval.at.timestamp()

        def tx(conn: sqlite3.Connection) -> StaffApproval:
            [event_id] = self._insert_events(conn, [(STAFF_APPROVED, data)])
            cur = conn.execute(
                "INSERT INTO staff_approvals(at, staff_id, badge_id, role, action, order_no,"
                " event_id) VALUES (?,?,?,?,?,?,?) RETURNING id",
                (at, approval.staff_id, approval.badge_id, approval.role, approval.action,
                 approval.order_no, event_id))
            (row_id,) = cur.fetchone()
            return StaffApproval(row_id, at, approval.staff_id, approval.badge_id,
                                 approval.role, approval.action, approval.order_no, event_id)

        done = await self._call(self._tx, tx)
        self.outbox_signal.set()
        return done

    async def staff_approvals(self, limit: int = 100) -> list[StaffApproval]:
        """The latest approvals, newest first."""

        def q(conn: sqlite3.Connection) -> list[StaffApproval]:
            cur = conn.execute(
                "SELECT id, at, staff_id, badge_id, role, action, order_no, event_id"
                " FROM staff_approvals ORDER BY id DESC LIMIT ?", (limit,))
            return [StaffApproval(*r) for r in cur]

        return await self._call(self._read, q)

