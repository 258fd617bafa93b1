"""Loose produce through the agent's scan path: a weighed product's barcode is priced on
the stable weight of the serial scale (a pseudo-terminal speaking Toledo continuous),
and refused while nothing stable is on the scale."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

from drivers.scale import ScaleNotStable, SerialScale, make_frame
from kiosk_agent.agent import Agent
from kiosk_agent.config import AgentConfig
from tests.drivers.conftest import PtyDevice
from tests.kiosk_agent.sales import make_book
from tests.support.waiting import until


def stable_g(scale: SerialScale) -> int | None:
    try:
        return scale.current()
    except ScaleNotStable:
        return None


async def test_weighed_scan_takes_the_stable_weight(tmp_path):
    dev = PtyDevice(str(tmp_path / "scale"))
    config = AgentConfig.model_validate({
        "journal": {"path": str(tmp_path / "j.db")}, "mqtt": {"enabled": False},
        "scale": {"kind": "toledo", "port": dev.link, "stable_timeout_s": 0.8}})
    agent = Agent(config, book=make_book())
    scale = SerialScale(dev.link, reopen_s=0.05)
    agent.add_component("scale", scale)
    stop = asyncio.Event()

    async def scale_sends(grams: int, motion: bool = False) -> None:
        while not stop.is_set():
            dev.write(make_frame(grams, motion=motion))
            await asyncio.sleep(0.05)

    runner = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 5)
    sender = asyncio.create_task(scale_sends(0))
    try:
        apples = SimpleNamespace(kind="product", text="SKU-APPLE")
        refusal = await agent.handle_scan(apples)
        assert refusal is not None and refusal.code == "weight_unstable"
        assert refusal.zh == "请将商品放在秤上"
        sender.cancel()
        sender = asyncio.create_task(scale_sends(735, motion=True))
        # the scale has seen the motion (a loaded machine may read it late)
        await until(lambda: scale.rule.last is not None and scale.rule.last.motion,
                    what="a reading in motion")
        refusal = await agent.handle_scan(apples)
        assert refusal is not None and refusal.zh == "请等待秤稳定后再扫码"
        sender.cancel()
        sender = asyncio.create_task(scale_sends(735))
        # Settled (3 frames over 0.3 s) before the scan, which may wait only 0.8 s: a
        # loaded machine may read the frames late and bunched.
        await until(lambda: stable_g(scale) == 735, what="a stable 735 g")
        assert await agent.handle_scan(apples) is None
        [line] = agent.checkout.priced.lines
        assert line.weight_g == 735 and line.amount == 882  # ¥12.00/kg x 0.735 kg
    finally:
        stop.set()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        agent.stop()
        await asyncio.wait_for(runner, 5)
        dev.close()
