"""The broker's per-kiosk ACL, against a real Mosquitto started with the project's config."""

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


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    """A deployment with two provisioned kiosks, s1/kA and s1/kB."""
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


def _client(port: int, user: str | None, password: str | None, ident: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", port, username=user, password=password, identifier=ident,
        protocol=aiomqtt.ProtocolVersion.V5, timeout=5,
    )


async def _collect(client: aiomqtt.Client, until: str, wait_s: float = 5.0) -> list[str]:
    """Topics received until a message on ``until`` arrives."""
    seen: list[str] = []

    async def run() -> None:
        async for msg in client.messages:
            seen.append(msg.topic.value)
            if msg.topic.value == until:
                return

    await asyncio.wait_for(run(), wait_s)
    return seen


async def test_anonymous_and_wrong_password_refused(secure, deployment) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with _client(secure.port, None, None, "anon"):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with _client(secure.port, "s1-kA", "not-the-password", "kA"):
            pass


async def test_kiosk_cannot_publish_under_another_kiosk(secure, deployment) -> None:
    bridge = _client(secure.port, "bridge", deployment.bridge_password(), "bridge")
    ka = _client(secure.port, "s1-kA", _password(deployment, "s1", "kA"), "s1-kA")
    async with bridge, ka:
        await bridge.subscribe(T.bridge_subscription(T.EVENTS), qos=1)
        await bridge.subscribe(f"{T.PREFIX}/#", qos=1)
        await ka.publish(B.events, b'{"forged":1}', qos=1)  # dropped silently
        await ka.publish(B.cmd_res, b'{"forged":1}', qos=1)
        await ka.publish(A.cmd, b'{"forged":1}', qos=1)  # wrong direction on its own subtree
        await ka.publish(A.events, b'{"own":1}', qos=1)  # the sentinel
        seen = await _collect(bridge, A.events)
    assert B.events not in seen and B.cmd_res not in seen and A.cmd not in seen
    assert A.events in seen


async def test_kiosk_cannot_subscribe_to_another_kiosk(secure, deployment) -> None:
    bridge = _client(secure.port, "bridge", deployment.bridge_password(), "bridge")
    ka = _client(secure.port, "s1-kA", _password(deployment, "s1", "kA"), "s1-kA")
    async with bridge, ka:
        await ka.subscribe(B.cmd, qos=1)
        await ka.subscribe(f"{T.PREFIX}/#", qos=1)  # wildcard over everyone
        await ka.subscribe(A.cmd, qos=1)
        await bridge.publish(B.cmd, b'{"for":"B"}', qos=1)
        await bridge.publish(B.events_ack, b'{"for":"B"}', qos=1)
        await bridge.publish(A.cmd, b'{"for":"A"}', qos=1)
        seen = await _collect(ka, A.cmd)
    assert seen.count(A.cmd) >= 1
    assert all(not t.startswith(B.base) for t in seen)


async def test_bridge_sees_all_kiosks_and_kiosk_reads_store_catalog(secure, deployment) -> None:
    bridge = _client(secure.port, "bridge", deployment.bridge_password(), "bridge")
    ka = _client(secure.port, "s1-kA", _password(deployment, "s1", "kA"), "s1-kA")
    kb = _client(secure.port, "s1-kB", _password(deployment, "s1", "kB"), "s1-kB")
    async with bridge, ka, kb:
        await bridge.subscribe(T.bridge_subscription(T.EVENTS), qos=1)
        await ka.publish(A.events, b"{}", qos=1)
        await kb.publish(B.events, b"{}", qos=1)
        got: set[str] = set()

        async def two() -> None:
            async for msg in bridge.messages:
                got.add(msg.topic.value)
                if len(got) == 2:
                    return

        await asyncio.wait_for(two(), 5)
        assert got == {A.events, B.events}
        await bridge.publish(A.catalog, b'{"v":1}', qos=1, retain=True)
        await ka.subscribe(A.catalog, qos=1)
        seen = await _collect(ka, A.catalog)
    assert seen == [A.catalog]


async def test_kiosk_reads_its_store_stock_alerts_and_cannot_write_them(secure, deployment) -> None:
    bridge = _client(secure.port, "bridge", deployment.bridge_password(), "bridge")
    ka = _client(secure.port, "s1-kA", _password(deployment, "s1", "kA"), "s1-kA")
    async with bridge, ka:
        await bridge.publish(A.stock_alerts, b'{"from":"bridge"}', qos=1, retain=True)
        # A kiosk (or whoever holds its credentials) cannot replace the store's list.
        await ka.publish(A.stock_alerts, b'{"from":"kiosk"}', qos=1, retain=True)
        await ka.subscribe(A.stock_alerts, qos=1)

        async def first() -> bytes:
            async for msg in ka.messages:
                return bytes(msg.payload)
            return b""

        assert await asyncio.wait_for(first(), 5) == b'{"from":"bridge"}'


async def test_kiosk_reads_its_store_mp_orders_and_cannot_write_them(secure, deployment) -> None:
    """New mini-program orders (issue 19): only the bridge writes the store's list."""
    bridge = _client(secure.port, "bridge", deployment.bridge_password(), "bridge")
    ka = _client(secure.port, "s1-kA", _password(deployment, "s1", "kA"), "s1-kA")
    async with bridge, ka:
        await bridge.publish(A.mp_orders, b'{"from":"bridge"}', qos=1, retain=True)
        await ka.publish(A.mp_orders, b'{"from":"kiosk"}', qos=1, retain=True)
        await ka.subscribe(A.mp_orders, qos=1)

        async def first() -> bytes:
            async for msg in ka.messages:
                return bytes(msg.payload)
            return b""

        assert await asyncio.wait_for(first(), 5) == b'{"from":"bridge"}'

