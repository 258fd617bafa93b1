"""One kiosk's credentials cannot knock another kiosk off the broker.

Attack on a real Mosquitto with the project's rules (password file, ACL,
``use_username_as_clientid``): kiosk A's username and password, presenting kiosk B's
client id. Without the rule the broker hands B's session to the newcomer and
disconnects B (a session takeover); with it the client id is A's username, so B stays
connected and keeps receiving its messages.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from cloud_bridge.provisioning import Deployment
from contract.wire import topics as T
from tests.support.secure_broker import secured_broker

A = T.KioskTopics("s1", "kA")
B = T.KioskTopics("s1", "kB")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    """Two provisioned kiosks, s1/kA and s1/kB."""
    dep = Deployment(tmp_path / "deploy")
    dep.add_kiosk("s1", "kA")
    dep.add_kiosk("s1", "kB")
    return dep


@pytest.fixture
def secure(tmp_path: Path, deployment: Deployment):
    """Mosquitto with the project's auth + ACL rules on a free port."""
    b = secured_broker(tmp_path / "broker", deployment).start()
    try:
        yield b
    finally:
        b.kill()


def _password(dep: Deployment, store: str, kiosk: str) -> str:
    return (dep.dir / "bundles" / f"{store}-{kiosk}" / "mqtt_password").read_text().strip()


def _client(port: int, user: str, password: str, ident: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=user, password=password,
                          identifier=ident, protocol=aiomqtt.ProtocolVersion.V5, timeout=5)


async def _next_on(client: aiomqtt.Client, topic: str, wait_s: float = 5.0) -> bytes:
    async def run() -> bytes:
        async for msg in client.messages:
            if msg.topic.value == topic:
                return bytes(msg.payload)
        raise AssertionError("message stream ended (disconnected)")

    return await asyncio.wait_for(run(), wait_s)


async def test_kiosk_a_cannot_take_over_kiosk_b(secure, deployment) -> None:
    bridge = _client(secure.port, "bridge", deployment.bridge_password(), "bridge-1")
    kb = _client(secure.port, "s1-kB", _password(deployment, "s1", "kB"), "s1-kB")
    async with bridge, kb:
        await kb.subscribe(B.cmd, qos=1)
        await bridge.publish(B.cmd, b"before", qos=1)
        assert await _next_on(kb, B.cmd) == b"before"
        # The attack: A's credentials, B's client id (as after stealing A's SD card).
        attacker = _client(secure.port, "s1-kA", _password(deployment, "s1", "kA"), "s1-kB")
        async with attacker:
            await asyncio.sleep(0.2)  # a takeover would disconnect B right here
            await bridge.publish(B.cmd, b"after", qos=1)
            assert await _next_on(kb, B.cmd) == b"after"  # B is still connected
            # And the attacker is still only A: B's commands are not for it.
            await attacker.subscribe(B.cmd, qos=1)
            await bridge.publish(B.cmd, b"third", qos=1)
            assert await _next_on(kb, B.cmd) == b"third"
            with pytest.raises(TimeoutError):
                await _next_on(attacker, B.cmd, wait_s=0.5)


def test_production_configs_tie_client_id_to_username() -> None:
    mosquitto = (ROOT / "config" / "mosquitto" / "mosquitto.conf").read_text()
    kiosk_listener = mosquitto.split("listener 8883", 1)[1].split("listener 1883", 1)[0]
    assert "\nuse_username_as_clientid true" in kiosk_listener
    emqx = (ROOT / "config" / "chain-scale" / "emqx.conf").read_text()
    assert "zones.kiosks { mqtt { use_username_as_clientid = true } }" in emqx
    default = emqx.split("listeners.ssl.default {", 1)[1].split("}", 1)[0]
    assert "zone = kiosks" in default
