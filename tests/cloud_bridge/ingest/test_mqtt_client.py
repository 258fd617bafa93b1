"""The bridge's MQTT client: paho's packets go out whole and in order, fewer sends."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import aiomqtt
import pytest
from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from cloud_bridge.ingest.mqtt_client import BridgeMqttClient, coalesce_sends


class CountingSocket:
    """One end of a socket pair that counts sends and takes at most ``room`` bytes."""

    def __init__(self, sock: socket.socket, room: int = 1 << 30) -> None:
        self.sock, self.room, self.sends = sock, room, 0

    def send(self, data: bytes) -> int:
        self.sends += 1
        if self.room == 0:
            raise BlockingIOError
        n = self.sock.send(bytes(data)[: self.room])
        self.room -= n
        return n

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


def paho_client(sock: CountingSocket) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client._sock = sock
    coalesce_sends(client)
    return client


def queue(client: paho.Client, command: int, packet: bytes, qos: int = 1) -> None:
    info = paho.MQTTMessageInfo(1)
    client._out_packet.append({"command": command, "mid": 1, "qos": qos, "pos": 0,
                               "to_process": len(packet), "packet": packet, "info": info})


def read_all(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    out = b""
    try:
        while chunk := sock.recv(1 << 20):
            out += chunk
    except BlockingIOError:
        pass
    return out


def test_queued_packets_go_out_in_one_send_in_order() -> None:
    a, b = socket.socketpair()
    sock = CountingSocket(a)
    client = paho_client(sock)
    packets = [bytes([0x40, 2, 0, i]) for i in range(50)]  # PUBACKs
    packets.append(bytes([0x32, 3]) + b"abc")  # a QoS 1 PUBLISH
    for p in packets:
        queue(client, p[0], p)
    assert client.loop_write() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert sock.sends == 1
    assert read_all(b) == b"".join(packets)
    assert not client._out_packet


def test_a_partial_send_keeps_the_rest_for_the_next_write() -> None:
    a, b = socket.socketpair()
    sock = CountingSocket(a, room=7)
    client = paho_client(sock)
    packets = [bytes([0x40, 2, 0, i]) for i in range(5)]
    for p in packets:
        queue(client, 0x40, p)
    client.loop_write()
    assert read_all(b) == b"".join(packets)[:7]
    assert len(client._out_packet) == 4 and client._out_packet[0]["pos"] == 3
    sock.room = 1 << 30
    client.loop_write()
    assert read_all(b) == b"".join(packets)[7:]
    assert not client._out_packet


def test_a_qos0_publish_is_still_written_by_paho_and_reported_published() -> None:
    a, b = socket.socketpair()
    sock = CountingSocket(a)
    client = paho_client(sock)
    published: list[int] = []
    client.on_publish = lambda _c, _u, mid, _rc, _p: published.append(mid)
    qos0 = bytes([0x30, 3]) + b"xyz"
    queue(client, 0x40, b"\x40\x02\x00\x01")
    queue(client, 0x30, qos0, qos=0)
    queue(client, 0x40, b"\x40\x02\x00\x02")
    queue(client, 0x40, b"\x40\x02\x00\x03")
    client.loop_write()
    assert read_all(b) == b"\x40\x02\x00\x01" + qos0 + b"\x40\x02\x00\x02\x40\x02\x00\x03"
    assert published == [1]


async def test_bridge_client_publishes_and_receives_everything_in_order(broker) -> None:
    count = 300
    got: list[bytes] = []
    async with (BridgeMqttClient(hostname="127.0.0.1", port=broker.port, identifier="rx",
                                 protocol=aiomqtt.ProtocolVersion.V5) as rx,
                BridgeMqttClient(hostname="127.0.0.1", port=broker.port, identifier="tx",
                                 protocol=aiomqtt.ProtocolVersion.V5) as tx):
        tx.pending_calls_threshold = count
        await rx.subscribe("t/#", qos=1)

        async def read() -> None:
            async for msg in rx.messages:
                assert isinstance(msg.payload, bytes)
                got.append(msg.payload)
                if len(got) == count:
                    return

        reader = asyncio.create_task(read())
        await asyncio.gather(*(tx.publish("t/x", str(i).encode(), qos=1)
                               for i in range(count)))
        assert not tx._pending_publishes
        await asyncio.wait_for(reader, 60)
    assert got == [str(i).encode() for i in range(count)]


async def test_a_pending_message_id_is_refused_twice(broker) -> None:
    async with BridgeMqttClient(hostname="127.0.0.1", port=broker.port,
                                identifier="ids") as c:
        with c._pending_call(7, asyncio.Event(), c._pending_publishes):
            with pytest.raises(RuntimeError, match="pending call"):
                with c._pending_call(7, asyncio.Event(), c._pending_subscribes):
                    pass
            assert 7 in c._pending_publishes
        assert 7 not in c._pending_publishes


async def test_messages_queued_before_a_disconnect_are_read_then_it_raises(broker) -> None:
    c = BridgeMqttClient(hostname="127.0.0.1", port=broker.port, identifier="drop",
                         protocol=aiomqtt.ProtocolVersion.V5)
    await c.__aenter__()  # left by hand below: its broker is gone by then
    await c.subscribe("d/#", qos=1)
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="pub") as pub:
        for i in range(3):
            await pub.publish("d/x", str(i).encode(), qos=1)
    while len(c.messages) < 3:  # noqa: ASYNC110 (aiomqtt's queue has no event to wait on)
        await asyncio.sleep(0.01)
    broker.kill()
    await asyncio.wait([c._disconnected], timeout=60)
    assert c._disconnected.done()
    seen = []
    with pytest.raises(aiomqtt.MqttError):
        async for msg in c.messages:
            seen.append(msg.payload)
    assert seen == [b"0", b"1", b"2"]
    with contextlib.suppress(aiomqtt.MqttError):
        await c.__aexit__(None, None, None)
