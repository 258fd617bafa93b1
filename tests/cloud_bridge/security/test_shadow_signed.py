"""The device shadow as an attacker meets it, over MQTT and HTTP: a desired state that the
bridge did not sign for this kiosk is refused by the kiosk, limits are bounded, and only
head office sets offline money limits. A real bridge app, a real Mosquitto, the kiosk's
real Link + Shadow."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import aiomqtt
import pytest

from cloud_bridge import auth
from contract.signing import generate_signing_key, load_private_key, sign_shadow
from contract.wire.base import decode
from contract.wire.shadow import ShadowDesired, ShadowReported
from contract.wire.topics import KioskTopics
from kiosk_agent.config import MAX_OFFLINE_STORED_VALUE_FEN, AgentConfig
from kiosk_agent.link import Link
from kiosk_agent.shadow import Shadow
from tests.cloud_bridge.security.test_catalog_credentials import _bridge
from tests.support.link_helpers import mqtt_section, shrink_timings

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
TOPICS = KioskTopics("store1", "kiosk1")
MONEY = {"offline": {"max_offline_stored_value_fen": 100_000}}


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    shrink_timings(monkeypatch)


async def test_unsigned_forged_and_misdirected_states_are_refused(db, broker, tmp_path: Path,
                                                                 monkeypatch):
    runner, b = await _bridge(db, broker, tmp_path, monkeypatch, signing_key=True)
    key = load_private_key(os.environ["BRIDGE_COMMAND_SIGNING_KEY"].encode())
    async with db.session() as s:
        await auth.create_admin_user(s, "clerk", "secret-clerk", auth.STORE_STAFF, "store1")
    reports: asyncio.Queue[ShadowReported] = asyncio.Queue()
    try:
        import aiohttp

        async with aiohttp.ClientSession(base_url=b.base) as http:
            heads = {}
            for user in ("boss", "clerk"):
                async with http.post("/api/v1/admin/session",
                                     json={"username": user, "secret": f"secret-{user}"}) as r:
                    heads[user] = {"Authorization": "Bearer " + (await r.json())["token"]}
            link = Link(mqtt_section(b.port, username="store1-kiosk1"), "store1", "kiosk1")
            async with link, aiomqtt.Client("127.0.0.1", b.port) as rogue:
                shadow = Shadow(link, AgentConfig(), tmp_path / "shadow.json",
                                verify_keys=[key.public_key()]).attach()
                await rogue.subscribe(TOPICS.shadow_reported, qos=1)

                async def pump() -> None:
                    async for msg in rogue.messages:
                        reports.put_nowait(decode(ShadowReported, msg.payload))

                pumper = asyncio.create_task(pump())

                async def last(version: int) -> ShadowReported:
                    async with asyncio.timeout(10):
                        while True:
                            rep = await reports.get()
                            if version in (rep.applied_version, rep.refused_version):
                                return rep

                async def inject(desired: ShadowDesired) -> ShadowReported:
                    await rogue.publish(TOPICS.shadow_desired, desired.encode(), qos=1,
                                        retain=True)
                    return await last(desired.version)

                # Published straight to the broker (a leaked bridge password, a rogue
                # broker): unsigned, signed by another key, signed for another kiosk.
                rep = await inject(ShadowDesired(version=10, config=MONEY))
                assert rep.refused_version == 10 and "unsigned" in rep.error
                other = generate_signing_key()
                rep = await inject(sign_shadow(ShadowDesired(
                    version=11, config=MONEY, store="store1", kiosk="kiosk1"), other))
                assert rep.refused_version == 11 and "bad signature" in rep.error
                rep = await inject(sign_shadow(ShadowDesired(
                    version=12, config=MONEY, store="store1", kiosk="kiosk2"), key))
                assert rep.refused_version == 12 and "kiosk2" in rep.error
                # Signed, but past the bound: still refused.
                rep = await inject(sign_shadow(ShadowDesired(
                    version=13, store="store1", kiosk="kiosk1",
                    config={"offline": {"max_offline_stored_value_fen":
                                        MAX_OFFLINE_STORED_VALUE_FEN + 1}}), key))
                assert rep.refused_version == 13 and "max_offline_stored_value_fen" in rep.error
                assert shadow.config.offline.max_offline_stored_value_fen == 50000

                # Through the API: store staff may not set money limits; head office may.
                url = "/api/v1/admin/kiosks/store1/kiosk1/shadow"
                async with http.put(url, headers=heads["clerk"],
                                    json={"version": 20, "config": MONEY}) as r:
                    assert r.status == 403, await r.text()
                async with http.put(url, headers=heads["clerk"], json={
                        "version": 21, "config": {"receipt": {"footer": "谢谢"}}}) as r:
                    assert r.status == 202, await r.text()
                assert (await last(21)).applied_version == 21
                async with http.put(url, headers=heads["boss"],
                                    json={"version": 22, "config": MONEY}) as r:
                    assert r.status == 202, await r.text()
                assert (await last(22)).applied_version == 22
                assert shadow.config.offline.max_offline_stored_value_fen == 100_000
                pumper.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await pumper
    finally:
        await runner.cleanup()
