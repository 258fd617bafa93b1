"""Shadow: newer valid desired config applied and reported; older/invalid refused with reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from contract.wire.base import decode
from contract.wire.shadow import ShadowDesired, ShadowReported
from contract.wire.topics import KioskTopics
from kiosk_agent.config import AgentConfig
from kiosk_agent.link import Link
from kiosk_agent.shadow import Shadow, ShadowRefused, merge_desired
from tests.support.link_helpers import mqtt_section, shrink_timings

TOPICS = KioskTopics("store1", "kiosk1")


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the link's timing constants."""
    shrink_timings(monkeypatch)


def test_merge_whitelist_and_validation() -> None:
    base = AgentConfig()
    new = merge_desired(base, {"receipt": {"header": "欢迎"}, "telemetry": {"interval_s": 5}})
    assert new.receipt.header == "欢迎" and new.telemetry.interval_s == 5
    assert base.receipt.header == ""  # the base is not touched
    with pytest.raises(ShadowRefused, match="not remotely configurable"):
        merge_desired(base, {"kiosk": {"kiosk_id": "evil"}})
    with pytest.raises(ShadowRefused, match="section not remotely"):
        merge_desired(base, {"journal": {"path": "/tmp/x"}})
    with pytest.raises(ShadowRefused, match=r"telemetry\.interval_s"):
        merge_desired(base, {"telemetry": {"interval_s": -1}})
    with pytest.raises(ShadowRefused, match="languages"):
        merge_desired(base, {"kiosk": {"languages": ["fr"]}})


async def _reported(queue: asyncio.Queue) -> ShadowReported:
    return decode(ShadowReported, (await asyncio.wait_for(queue.get(), 5)).payload)


async def test_apply_refuse_and_report_over_mqtt(broker, tmp_path: Path) -> None:
    changes: list[dict] = []

    async def on_apply(config: AgentConfig, desired: dict) -> None:
        changes.append(desired)
        link.set_telemetry_interval(config.telemetry.interval_s)

    cloud = aiomqtt.Client("127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V5)
    async with cloud:
        await cloud.subscribe(TOPICS.shadow_reported, qos=1)
        queue: asyncio.Queue = asyncio.Queue()

        async def pump() -> None:
            async for msg in cloud.messages:
                queue.put_nowait(msg)

        pumper = asyncio.create_task(pump())
        state = tmp_path / "shadow.json"
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            shadow = Shadow(link, AgentConfig(), state, on_apply).attach()
            first = await _reported(queue)  # reported on connect
            assert first.applied_version is None

            async def desire(version: int, config: dict) -> ShadowReported:
                msg = ShadowDesired(version=version, config=config)
                await cloud.publish(TOPICS.shadow_desired, msg.encode(), qos=1, retain=True)
                return await _reported(queue)

            rep = await desire(3, {"receipt": {"footer": "再见"}, "telemetry": {"interval_s": 7}})
            assert rep.applied_version == 3 and rep.error is None
            assert rep.config["receipt"]["footer"] == "再见"
            assert shadow.config.receipt.footer == "再见" and link.telemetry_interval_s == 7
            rep = await desire(2, {"receipt": {"footer": "old"}})
            assert rep.applied_version == 3 and rep.refused_version == 2 and "older" in rep.error
            rep = await desire(4, {"receipt": {"footer": 5}})
            assert rep.refused_version == 4 and "receipt.footer" in rep.error
            rep = await desire(5, {"control": {"socket_path": "/tmp/x"}})
            assert rep.refused_version == 5 and "not remotely configurable" in rep.error
            await cloud.publish(TOPICS.shadow_desired, b"garbage", qos=1, retain=True)
            rep = await _reported(queue)
            assert rep.applied_version == 3 and rep.error.startswith("malformed")
            assert shadow.config.receipt.footer == "再见"
        pumper.cancel()
    assert changes == [{"receipt": {"footer": "再见"}, "telemetry": {"interval_s": 7}}]
    # A restart comes back with the applied version and values.
    again = Shadow(Link(mqtt_section(broker.port), "store1", "kiosk1"), AgentConfig(), state)
    assert again.applied_version == 3 and again.config.telemetry.interval_s == 7
