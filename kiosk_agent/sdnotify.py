"""The kiosk agent's systemd integration (READY, STATUS, WATCHDOG) as an agent component.

The protocol itself (:class:`~common.sdnotify.SystemdNotifier`,
:class:`~common.sdnotify.Watchdog`) is shared plumbing in :mod:`common.sdnotify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from common.sdnotify import HEARTBEAT_S, SystemdNotifier, Watchdog

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

    def __init__(self, agent: object, notifier: SystemdNotifier | None = None) -> None:
        self.agent = agent
        self.notifier = notifier or SystemdNotifier()

    async def status_line(self) -> str:
        agent = self.agent
        cfg = getattr(agent, "config", None)
        parts = [f"serving {cfg.kiosk.store_id}/{cfg.kiosk.kiosk_id}" if cfg else "serving"]
        checkout = getattr(agent, "checkout", None)
        if checkout is not None:
            parts.append(f"checkout {checkout.state}")
        journal = getattr(agent, "journal", None)
        if journal is not None and hasattr(journal, "outbox_stats"):
            try:
                stats = await journal.outbox_stats()
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
            reg.component.serving
            for reg in getattr(self.agent, "_components", None) or []
            if isinstance(getattr(reg.component, "serving", None), asyncio.Event)
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
        started = getattr(self.agent, "started", None)
        if isinstance(started, asyncio.Event):
            await started.wait()
        await self._wait_serving()
        checks = []
        healthy = getattr(self.agent, "tasks_healthy", None)
        if callable(healthy):
            checks.append(healthy)
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


def agent_notify_component(agent: object) -> AgentNotifyComponent:
    """Factory for ``agent.COMPONENT_FACTORIES`` (``"kiosk_agent.sdnotify:agent_notify_component"``)."""
    return AgentNotifyComponent(agent)
