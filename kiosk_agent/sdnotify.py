"""The kiosk agent's systemd integration (READY, STATUS, WATCHDOG) as an agent component.

The protocol itself (:class:`~common.sdnotify.SystemdNotifier`,
:class:`~common.sdnotify.Watchdog`) is shared plumbing in :mod:`common.sdnotify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from common.sdnotify import HEARTBEAT_S, SystemdNotifier, Watchdog

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger(__name__)

#: Longest READY=1 waits for components that announce ``serving`` (the control socket);
#: after that the agent reports ready anyway, since selling does not need them.
READY_WAIT_S = 30.0
#: How often the agent refreshes its ``STATUS=`` line (queue depth, link, printer).
STATUS_INTERVAL_S = 10.0


class AgentNotifyComponent:
    """The kiosk agent's systemd integration, as an agent component.

    Waits until every component task has started (``agent.started``), then sends
    ``READY=1``; while the agent runs, beats a :class:`Watchdog` whose check is
    ``agent.tasks_healthy`` and refreshes ``STATUS=``; on stop sends ``STOPPING=1``.
    Without ``$NOTIFY_SOCKET`` it does nothing but wait for the stop.
    """

    def __init__(self, agent: Agent, notifier: SystemdNotifier | None = None) -> None:
        self.agent = agent
        self.notifier = notifier or SystemdNotifier()

    async def status_line(self) -> str:
        agent = self.agent
        cfg = agent.config
        parts = [f"serving {cfg.kiosk.store_id}/{cfg.kiosk.kiosk_id}"]
        checkout = agent.checkout
        if checkout is not None:
            parts.append(f"checkout {checkout.state}")
        try:
            stats = await agent.journal.outbox_stats()
            parts.append(f"queue {stats.depth}")
            if stats.oldest_created_at:
                parts.append(f"oldest {time.time() - stats.oldest_created_at:.0f}s")
            if stats.dead_letters:
                parts.append(f"dead letters {stats.dead_letters}")
        except Exception as err:  # a status line must never take the agent down
            parts.append(f"journal: {err}")
        return ", ".join(parts)

    async def _wait_serving(self) -> None:
        """Wait (bounded) for components with a ``serving`` event, e.g. the control API."""
        events = [
            serving
            for _, component in self.agent.components()
            if isinstance(serving := getattr(component, "serving", None), asyncio.Event)
        ]
        if not events:
            return
        try:
            async with asyncio.timeout(READY_WAIT_S):
                for event in events:
                    await event.wait()
        except TimeoutError:
            log.warning("READY=1 without every component serving after %.0f s", READY_WAIT_S)

    async def run(self, stop: asyncio.Event) -> None:
        notifier = self.notifier
        if not notifier.enabled:
            await stop.wait()
            return
        await self.agent.started.wait()
        await self._wait_serving()
        # A journal the disk keeps refusing: stop petting, systemd restarts the agent.
        checks = [self.agent.tasks_healthy, self.agent.journal.writable]
        notifier.ready(await self.status_line())
        watchdog = Watchdog(notifier, checks)
        beat_every = min(HEARTBEAT_S, (watchdog.interval or HEARTBEAT_S) / 2)
        next_status = time.monotonic() + STATUS_INTERVAL_S
        try:
            async with watchdog:
                while not stop.is_set():
                    watchdog.beat()
                    if time.monotonic() >= next_status:
                        notifier.status(await self.status_line())
                        next_status = time.monotonic() + STATUS_INTERVAL_S
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), beat_every)
        finally:
            notifier.stopping("stopping: draining outbox and print jobs")


def agent_notify_component(agent: Agent) -> AgentNotifyComponent:
    """Factory: systemd READY/STATUS/WATCHDOG (called by ``build_agent``)."""
    agent.runtime.notify = AgentNotifyComponent(agent)
    return agent.runtime.notify
