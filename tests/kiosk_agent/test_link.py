"""The MQTT link against a real Mosquitto: presence, will, session, RPC, commands, telemetry."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess

import aiomqtt
import pytest
from paho.mqtt.client import MQTT_LOG_DEBUG, MQTT_LOG_ERR

from cloud_bridge.commands import sign_command
from contract.signing import NonceCache, generate_signing_key
from contract.wire.base import decode
from contract.wire.commands import CommandResult
from contract.wire.presence import KioskStatus, Telemetry
from contract.wire.topics import KioskTopics
from demo.fake_cloud import FakeCloud
from kiosk_agent.commands import CommandDispatcher, register_builtin_handlers
from kiosk_agent.link import Link, LinkDown, RpcFailed, RpcTimeout
from tests.support.link_helpers import mqtt_section, shrink_timings
from tests.support.waiting import until

TOPICS = KioskTopics("store1", "kiosk1")
KEY = generate_signing_key()
MOSQUITTO_SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the link's timing constants."""
    shrink_timings(monkeypatch)


def _link(port: int, tmp_path=None, **kw) -> Link:
    d = CommandDispatcher("store1", "kiosk1", [KEY.public_key()],
                          NonceCache(tmp_path / "nonces.json" if tmp_path else None))
    register_builtin_handlers(d)
    return Link(mqtt_section(port), "store1", "kiosk1", commands=d, version="9.9.9", **kw)


async def _watch(port: int, topic: str) -> tuple[aiomqtt.Client, asyncio.Queue]:
    client = aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5)
    await client.__aenter__()
    await client.subscribe(topic, qos=1)
    queue: asyncio.Queue = asyncio.Queue()

    async def pump() -> None:
        async for msg in client.messages:
            queue.put_nowait(msg)

    client._pump = asyncio.create_task(pump())  # type: ignore[attr-defined]
    return client, queue


async def _unwatch(client: aiomqtt.Client) -> None:
    client._pump.cancel()  # type: ignore[attr-defined]
    await client.__aexit__(None, None, None)


async def _status(queue: asyncio.Queue, state: str) -> KioskStatus:
    while True:
        msg = await asyncio.wait_for(queue.get(), 10)
        status = decode(KioskStatus, msg.payload)
        if status.state == state:
            return status


async def test_retained_online_status_seen_by_mosquitto_sub(broker) -> None:
    async with _link(broker.port) as link:
        assert await link.wait_connected(5)
        out = await asyncio.to_thread(
            subprocess.run,
            [MOSQUITTO_SUB, "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(broker.port),
             "-t", TOPICS.status, "-C", "1", "-W", "5", "--retained-only"],
            capture_output=True, text=True, timeout=10,
        )
    assert out.returncode == 0, out.stderr
    status = decode(KioskStatus, out.stdout.strip())
    assert status.state == "online" and status.version == "9.9.9" and status.boot_time


async def test_last_will_on_lost_connection_then_reconnect(broker) -> None:
    watcher, queue = await _watch(broker.port, TOPICS.status)
    try:
        async with _link(broker.port) as link:
            await _status(queue, "online")
            # The client as it is now (under load a connection can already have been
            # replaced once: the check below counts from here).
            assert await link.wait_connected(10)
            client, connects = link._client, link.connects
            assert client is not None
            # Cut the TCP connection under the client, as a dead network would.
            client._client.socket().shutdown(socket.SHUT_RDWR)
            will = await _status(queue, "offline")
            assert will.reason == "lwt"
            await _status(queue, "online")  # reconnected by the outer loop
            # The link counts the connect once its "online" is PUBACKed, which can come
            # after the watcher has the message (a CI-like load run saw connects == 1 here).
            await until(lambda: link.connects > connects, what="the reconnect counted")
            assert link.connects == connects + 1
        bye = await _status(queue, "offline")
        assert bye.reason == "shutdown"  # clean shutdown publishes offline itself
    finally:
        await _unwatch(watcher)


async def test_persistent_session_keeps_commands_while_kiosk_is_away(broker, tmp_path) -> None:
    async with _link(broker.port, tmp_path) as link:
        assert await link.wait_connected(5)
    watcher, results = await _watch(broker.port, TOPICS.cmd_res)
    try:
        command = sign_command(KEY, "store1", "kiosk1", "ping")
        await watcher.publish(TOPICS.cmd, command.encode(), qos=1)  # kiosk is offline now
        async with _link(broker.port, tmp_path):
            msg = await asyncio.wait_for(results.get(), 10)
        res = decode(CommandResult, msg.payload)
        assert res.cmd_id == command.cmd_id and res.ok
    finally:
        await _unwatch(watcher)


async def test_signed_command_from_mosquitto_pub_is_executed(broker, tmp_path) -> None:
    watcher, results = await _watch(broker.port, TOPICS.cmd_res)
    try:
        async with _link(broker.port, tmp_path) as link:
            assert await link.wait_connected(5)
            good = sign_command(KEY, "store1", "kiosk1", "ping")
            forged = sign_command(generate_signing_key(), "store1", "kiosk1", "ping")
            for cmd in (good, forged):
                await asyncio.to_thread(
                    subprocess.run,
                    [MOSQUITTO_PUB, "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(broker.port),
                     "-q", "1", "-t", TOPICS.cmd, "-m", cmd.encode().decode()],
                    check=True, timeout=10,
                )
            got = {}
            while len(got) < 2:
                res = decode(CommandResult, (await asyncio.wait_for(results.get(), 10)).payload)
                got[res.cmd_id] = res
    finally:
        await _unwatch(watcher)
    assert got[good.cmd_id].ok and got[good.cmd_id].result["pong"] is True
    assert not got[forged.cmd_id].ok and got[forged.cmd_id].error == "bad signature"


async def test_rpc_request_reply_error_and_deadline(broker, caplog) -> None:
    release = asyncio.Event()

    async def handler(req):
        if req.method == "member.lookup":
            return {"member_id": req.params["code"], "level": "gold"}
        if req.method == "slow":
            await release.wait()
            return {"late": True}
        raise ValueError("no such method")

    async with FakeCloud(broker.port, rpc=handler), _link(broker.port) as link:
        assert await link.wait_connected(5)
        result = await link.request("member.lookup", {"code": "m1"}, timeout=5)
        assert result == {"member_id": "m1", "level": "gold"}
        with pytest.raises(RpcFailed, match="no such method"):
            await link.request("nope", {}, timeout=5)
        with pytest.raises(RpcTimeout):
            await link.request("slow", {}, timeout=0.3)
        release.set()
        await until(lambda: "late rpc reply" in caplog.text, 20, what="the late reply logged")
        # Still fine afterwards.
        assert (await link.request("member.lookup", {"code": "m2"}, timeout=5))["member_id"] == "m2"


async def test_request_without_broker_raises_link_down(broker) -> None:
    broker.stop()
    async with _link(broker.port) as link:
        with pytest.raises(LinkDown):
            await link.request("member.lookup", {}, timeout=0.3)


async def test_publish_nowait_sends_in_order_or_raises_link_down(broker) -> None:
    link = _link(broker.port)
    with pytest.raises(LinkDown):
        link.publish_nowait(TOPICS.events, b"{}")  # not started: nothing sent
    watcher, queue = await _watch(broker.port, TOPICS.events)
    try:
        async with link:
            assert await link.wait_connected(5)
            for i in range(50):
                link.publish_nowait(TOPICS.events, b"%d" % i, qos=1)
            got = [bytes((await asyncio.wait_for(queue.get(), 10)).payload) for _ in range(50)]
            assert got == [b"%d" % i for i in range(50)]
    finally:
        await _unwatch(watcher)


async def test_telemetry_published_periodically(broker) -> None:
    async def health() -> Telemetry:
        return Telemetry(queue_depth=3, printer="online", paper="ok")

    watcher, queue = await _watch(broker.port, TOPICS.telemetry)
    try:
        async with _link(broker.port, health=health, telemetry_interval_s=0.1):
            first = decode(Telemetry, (await asyncio.wait_for(queue.get(), 5)).payload)
            second = await asyncio.wait_for(queue.get(), 5)
    finally:
        await _unwatch(watcher)
    assert first.queue_depth == 3 and first.printer == "online"
    assert second.qos == 0


async def test_malformed_messages_on_every_topic_dropped_link_survives(broker, caplog) -> None:
    async def handler(req):
        return {"ok": 1}

    async with FakeCloud(broker.port, rpc=handler), _link(broker.port) as link:
        assert await link.wait_connected(5)
        watcher, results = await _watch(broker.port, TOPICS.cmd_res)
        try:
            for topic in link.subscriptions:
                for junk in (b"\xff\xfe", b"[]", b"{}", b'{"v":1,"id":"x","ok":true}'):
                    await watcher.publish(topic, junk, qos=1)
            res = decode(CommandResult, (await asyncio.wait_for(results.get(), 5)).payload)
            assert not res.ok and res.error.startswith("malformed")
        finally:
            await _unwatch(watcher)
        assert await link.request("x", {}, timeout=5) == {"ok": 1}
    assert "dropped malformed rpc reply" in caplog.text
    assert link.connects == 1


async def test_paho_lines_go_to_debug_and_its_error_is_kept_as_the_socket_error(caplog) -> None:
    link = _link(1)
    paho = link._make_client()._client
    caplog.set_level(logging.INFO, logger="kiosk_agent.link.paho")
    paho._easy_log(MQTT_LOG_DEBUG, "Sending PUBLISH (m%d)", 1)
    assert link._socket_error is None and not caplog.records
    caplog.set_level(logging.DEBUG, logger="kiosk_agent.link.paho")
    paho._easy_log(MQTT_LOG_DEBUG, "Sending PUBLISH (m%d)", 2)
    paho._easy_log(MQTT_LOG_ERR, "failed to receive on socket: %s", "[SSL] certificate required")
    assert link._socket_error == "failed to receive on socket: [SSL] certificate required"
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("kiosk_agent.link.paho", logging.DEBUG, "Sending PUBLISH (m2)"),
        ("kiosk_agent.link.paho", logging.DEBUG,
         "failed to receive on socket: [SSL] certificate required"),
    ]
