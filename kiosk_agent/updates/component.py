"""Wiring of kiosk updates into a running agent: the ``job`` command and the start check.

Turned on by ``KIOSK_UPDATES_ROOT`` (``/opt/kiosk`` in the systemd unit), with
``KIOSK_UPDATES_CONFIG_LINK`` (the ``kiosk.toml`` symlink configuration bundles switch)
and ``KIOSK_UPDATES_FORBID`` (selling hours without switches, e.g. ``08:00-22:00``,
kiosk local time). Without a root the ``job`` command is not registered, so the bridge's
job gets "unknown command" and the execution fails with that reason.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from common.jsontypes import JsonMapping, JsonObject
from contract.wire.commands import JOB, CommandResult

from . import health
from .updater import Paths, Updater, UpdateRefused, parse_window

if TYPE_CHECKING:
    from kiosk_agent.agent import Agent
    from kiosk_agent.commands import CommandDispatcher

log = logging.getLogger(__name__)

# Checkout states in which nothing is being sold (a parked cart is a sale in progress).
IDLE_STATES = ("idle", "maintenance")


class UpdatesComponent:
    """Runs the start check (commit / roll back a release on trial) and resumes updates."""

    def __init__(self, updater: Updater) -> None:
        self.updater = updater

    async def run(self, stop: asyncio.Event) -> None:
        await self.updater.resume()
        await stop.wait()
        if self.updater.task is not None:
            self.updater.task.cancel()  # resumed from state.json at the next start

    def health(self) -> JsonObject:
        st = self.updater.state() or {}
        return {"state": "ok", "reason": None, "phase": st.get("phase"),
                "job_id": st.get("job_id"), "version": st.get("version")}


def register_updates(agent: Agent, dispatcher: CommandDispatcher) -> UpdatesComponent | None:
    """Register the ``job`` command and add the updates component (when configured)."""
    root = os.environ.get("KIOSK_UPDATES_ROOT")
    if not root:
        return None
    link = agent.runtime.link
    if link is None:  # update jobs arrive over the link: nothing to register without one
        return None
    from kiosk_agent.commands import CommandRefused

    async def report(cmd_id: str, ok: bool, result: JsonObject) -> None:
        reason = result.get("reason")  # Updater.report: why it failed, or None
        res = CommandResult(cmd_id=cmd_id, ok=ok, result=result,
                            error=reason if not ok and isinstance(reason, str) else None)
        await link.publish(link.topics.cmd_res, res.encode(), qos=1)

    async def restart() -> None:
        # The service manager starts it again (Restart=always) into the switched release.
        asyncio.get_running_loop().call_later(0.5, agent.stop)

    def is_idle() -> bool:
        co = agent.checkout
        return co is not None and str(co.state) in IDLE_STATES

    async def check(baseline: JsonMapping) -> str | None:
        return await health.check(baseline, connected=link.connected,
                                  health_report=agent.health_report,
                                  probes=health.agent_probes(agent))

    config_link = os.environ.get("KIOSK_UPDATES_CONFIG_LINK")
    updater = Updater(Paths(Path(root), Path(config_link) if config_link else None),
                      dispatcher.public_keys, report=report, restart=restart, is_idle=is_idle,
                      health=check, baseline=agent.health_report,
                      forbid_window=parse_window(os.environ.get("KIOSK_UPDATES_FORBID")),
                      tz=agent.config.kiosk.timezone, connected=link.connected)

    async def job(args: JsonObject) -> JsonObject:
        try:
            return await updater.accept(args)
        except UpdateRefused as err:
            raise CommandRefused(str(err)) from err

    dispatcher.register(JOB, job)
    component = UpdatesComponent(updater)
    agent.add_component("updates", component)
    return component
