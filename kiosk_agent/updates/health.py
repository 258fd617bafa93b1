"""The health check a new release must pass before it is committed.

Checks, in order, each giving the reason it failed:

- the journal opens (the agent got this far: it opened it before the components ran);
- the broker is connected within ``broker_deadline_s``;
- printer, camera, scanner and display are no worse than before the switch (the
  baseline is the agent's health report, recorded in ``state.json`` before switching),
  once they had ``device_settle_s`` to report their first state after the start;
- a test decode runs on the decoder and a test receipt renders (ESC/POS bytes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from common.jsontypes import JsonMapping

if TYPE_CHECKING:
    from kiosk_agent.agent import Agent

# A device state's badness: a new release may not make any device worse.
RANK = {"ok": 0, "running": 0, "online": 0, "idle": 0, "degraded": 1, "warning": 1,
        "starting": 1, "unknown": 1, "error": 2, "offline": 2, "failed": 2}
DEVICES = ("printer", "camera", "scanner", "scans", "display")
BROKER_DEADLINE_S = 30.0
# Right after a start a device is "unknown" until its first poll (the printer's status
# query, the camera's first frame): a few seconds, not a regression. Found by the test of
# the whole agent, whose first check ran before the printer had been asked once.
DEVICE_SETTLE_S = 20.0
DEVICE_POLL_S = 0.5


def worse_devices(baseline: JsonMapping, now: JsonMapping) -> list[str]:
    """Devices whose state is worse now than in ``baseline`` (``name: before -> now``)."""
    out = []
    for name in DEVICES:
        before, after = baseline.get(name), now.get(name)
        if not isinstance(before, dict):
            continue  # not there before: nothing to compare with
        b = str(before.get("state", "unknown"))
        a = str(after.get("state", "missing")) if isinstance(after, dict) else "missing"
        if RANK.get(a, 2) > RANK.get(b, 1):
            out.append(f"{name} {b} -> {a}")
    return out


async def check(baseline: JsonMapping, *, connected: asyncio.Event | None,
                health_report: Callable[[], JsonMapping],
                probes: dict[str, Callable[[], Awaitable[object]]],
                broker_deadline_s: float = BROKER_DEADLINE_S,
                device_settle_s: float = DEVICE_SETTLE_S) -> str | None:
    """``None`` when healthy, else why not."""
    if connected is not None:
        try:
            await asyncio.wait_for(connected.wait(), broker_deadline_s)
        except TimeoutError:
            return f"broker not connected within {broker_deadline_s:.0f} s"
    loop = asyncio.get_running_loop()
    settled = loop.time() + device_settle_s
    # No event for "a device reported": the report is read, as the control API reads it.
    while (worse := worse_devices(baseline, health_report())) and loop.time() < settled:  # noqa: ASYNC110
        await asyncio.sleep(DEVICE_POLL_S)
    if worse:
        return "worse than before: " + ", ".join(worse)
    for name, probe in probes.items():
        try:
            await probe()
        except Exception as err:
            return f"{name} failed: {type(err).__name__}: {err}"
    return None


def agent_probes(agent: Agent) -> dict[str, Callable[[], Awaitable[object]]]:
    """The test decode and the test receipt render of a running agent."""
    async def receipt() -> None:
        from drivers.receipt.escpos import render_escpos
        from drivers.receipt.layout import ReceiptOptions, layout_test_page

        k = agent.config.kiosk
        data = await asyncio.to_thread(lambda: render_escpos(layout_test_page(ReceiptOptions(
            store_name=k.store_name, store_id=k.store_id, kiosk_id=k.kiosk_id))))
        if not data:
            raise RuntimeError("empty receipt")

    async def journal() -> None:
        if agent.journal is None:
            raise RuntimeError("no journal")

    probes: dict[str, Callable[[], Awaitable[object]]] = {"journal": journal,
                                                       "receipt render": receipt}
    scans = agent.runtime.scans
    if scans is not None:
        probes["test decode"] = scans.decode_check
    return probes
