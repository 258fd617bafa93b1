"""呼叫店员: the shopper calls staff from the kiosk; staff answer the call.

The shopper shows the ``KIOSK:CALL_STAFF`` card; the kiosk publishes a retained
:class:`~contract.wire.staff.StaffCall` (``active``) on its ``staff/call`` topic, so the
fleet view (the bridge) and the staff TUI show it until staff answer it: a valid staff
badge scanned at the kiosk, or ``POST /v1/staff-call/answer`` from ``kiosk-tui``. The
answered state replaces the retained message (who answered, when). The call is kept in
a small JSON file beside the journal, so a restart neither forgets nor repeats it, and
re-published on every (re)connect, so a call made offline reaches the fleet view later.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from contract.wire.staff import StaffCall

if TYPE_CHECKING:
    from .agent import Agent
    from .checkout import Checkout

log = logging.getLogger(__name__)

CALLED = ("已呼叫店员，请稍候", "Staff called, please wait")


class StaffCalls:
    """The kiosk's staff call: at most one open at a time (a second press is the same call)."""

    def __init__(self, agent: Agent, state_path: Path) -> None:
        self.agent = agent
        self.state_path = state_path
        self.current: StaffCall | None = None
        self._attached = False
        try:
            self.current = StaffCall.model_validate_json(state_path.read_bytes())
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as err:
            log.error("staff call state %s unreadable, ignored: %s", state_path, err)

    @property
    def active(self) -> bool:
        return self.current is not None and self.current.active

    def attach(self) -> None:
        """Re-publish the call on every (re)connect of the link, when there is one."""
        link = self.agent.runtime.link
        if link is not None and not self._attached:
            link.on_connect(self.publish)
            self._attached = True

    async def call(self, reason: str = "help") -> StaffCall:
        """The shopper called staff (again: the same open call)."""
        if self.current is None or not self.current.active:
            now = datetime.now(UTC)
            self.current = StaffCall(active=True, call_id=secrets.token_hex(8), reason=reason,
                                     called_at=now, ts=now)
            self._save()
            log.warning("staff called at the kiosk (%s)", reason)
            if self.agent.runtime.sessions is not None:  # counted in the session summary
                self.agent.runtime.sessions.help_called()
        await self._show(*CALLED)
        await self.publish()
        return self.current

    async def answer(self, by: str) -> StaffCall | None:
        """Staff answered the open call (``by``: staff id or ``tui``); None when none was."""
        if self.current is None or not self.current.active:
            return None
        now = datetime.now(UTC)
        self.current = self.current.model_copy(
            update={"active": False, "answered_at": now, "answered_by": by[:64], "ts": now})
        self._save()
        log.info("staff call %s answered by %s", self.current.call_id, by)
        await self.publish()
        return self.current

    async def publish(self) -> None:
        """The retained message on ``staff/call``; offline: sent on the next connect."""
        from contract.wire.topics import KioskTopics

        from .link import LinkDown

        link = self.agent.runtime.link
        if link is None or self.current is None:
            return
        cfg = self.agent.config.kiosk
        try:
            await link.publish(KioskTopics(cfg.store_id, cfg.kiosk_id).staff_call,
                               self.current.encode(), qos=1, retain=True)
        except LinkDown:
            log.info("staff call not sent yet (offline); it goes on the next connect")

    def _save(self) -> None:
        assert self.current is not None
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".staff-call-", dir=self.state_path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(self.current.encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    async def _show(self, zh: str, en: str) -> None:
        display = self.agent.runtime.display
        if display is not None:
            try:
                await display.display.show_text(zh, en)
            except Exception as err:  # a broken display must not lose the call
                log.warning("display prompt failed: %s", err)

    def view(self) -> dict[str, object] | None:
        """The call for the control API (``status`` and ``GET /v1/staff-call``)."""
        return None if self.current is None else json.loads(self.current.encode())


def staff_calls(agent: Agent) -> StaffCalls:
    """The agent's :class:`StaffCalls` (made on first use; state beside the journal)."""
    if agent.runtime.staff_calls is None:
        path = Path(agent.config.journal.path).parent / "staff_call.json"
        agent.runtime.staff_calls = StaffCalls(agent, path)
    agent.runtime.staff_calls.attach()
    return agent.runtime.staff_calls


async def badge_at_kiosk(agent: Agent, co: Checkout, text: str) -> None:
    """A staff badge was scanned at the kiosk: it answers an open staff call, carries out
    a void that waits for staff, or else does what a badge does (``badges.badge_scanned``:
    age check, maintenance). At an idle kiosk a badge that answered a call does only that.

    Raises:
        Refusal: the badge is not acceptable, or the checkout refuses the action.
    """
    from contract.wire.staff import StaffApprovalData

    from .badges import badge_scanned
    from .cart_edits import cart_edits, verify_badge_text
    from .checkout import State

    token = verify_badge_text(agent, text)
    calls = staff_calls(agent)
    answered = await calls.answer(token.subject) if calls.active else None
    if answered is not None:
        await agent.journal.record_staff_approval(StaffApprovalData(
            staff_id=token.subject, badge_id=token.token_id, role=token.role,
            action="answer_call", order_no=co.order_no, at=datetime.now(UTC),
            detail={"call_id": answered.call_id}))
    edits = cart_edits(agent)
    if edits.pending is not None and await edits.approve_pending(token):
        return
    if answered is not None and co.state in (State.IDLE, State.COMPLETED, State.MAINTENANCE):
        return
    await badge_scanned(agent, co, text)
