"""The bridge's MQTT client: aiomqtt's, with four costs per message taken out.

Measured with cProfile in the bridge during the ingest bench (PostgreSQL, 200 kiosks x
40 events, 8,000 events stored and acked):

- **Sends.** paho writes every queued packet with a ``send()`` of its own: the PUBACK
  of every event received, the ack to every kiosk of a batch. 11,436 sends took 12% of
  the bridge's time (a send on loopback TCP also does the receiving side's network
  work). Here the packets queued when the socket turns writable go out in one
  ``send()`` (a run of at most :data:`SEND_RUN_BYTES`); paho's own writer still sends
  the packets it has more to do for (a QoS 0 PUBLISH's ``on_publish``, DISCONNECT).
- **Receives.** paho reads a packet with two ``recv()`` calls or more (its first byte,
  its length, its body): 43,586 for 8,000 events. Here one ``recv()`` of up to
  :data:`RECV_BYTES` fills a buffer paho's reads are served from, and the reader runs
  paho again while that buffer holds bytes (as aiomqtt does for a TLS socket's).
- **Reading messages.** aiomqtt's iterator creates a task and waits on it and on the
  disconnect future for every message, even when messages are already queued
  (``asyncio.wait``: 16,000 calls, 5%). Here a queued message is taken at once.
- **Pending calls.** For each publish aiomqtt checks the message id against a generator
  over its three pending-call dicts and counts them by listing it: with 100 acks in
  flight, 344,000 generator steps for 8,000 events. Here: dict lookups and lengths.

These use aiomqtt's and paho's private attributes (paho has no public hook for the
writer, aiomqtt none for its queue); the client checks for them when it is made and
keeps the library's own behaviour for whatever it does not find. Tested against the
installed versions in ``tests/cloud_bridge/ingest/test_mqtt_client.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar, Unpack

import aiomqtt
from aiomqtt.client import MessagesIterator
from aiomqtt.types import PahoSocket
from paho.mqtt import client as paho
from paho.mqtt.enums import MQTTErrorCode

if TYPE_CHECKING:
    from paho.mqtt.client import _OutPacket

    from .worker import MqttClientArgs

log = logging.getLogger(__name__)

T = TypeVar("T")

# A run of queued packets is joined into one buffer of at most this many bytes.
SEND_RUN_BYTES = 64 * 1024
# What one recv() asks the socket for; paho's reads are served from it.
RECV_BYTES = 64 * 1024
# A message taken straight from the queue skips the event loop; every this many in a
# row the reader yields once, so a deep queue does not hold up the other tasks.
YIELD_EVERY = 64


class BridgeMqttClient(aiomqtt.Client):
    """``aiomqtt.Client`` with coalesced sends, direct reads and O(1) pending calls."""

    def __init__(self, **kwargs: Unpack[MqttClientArgs]) -> None:
        super().__init__(**kwargs)
        self._direct_reads = isinstance(getattr(self, "_queue", None), asyncio.Queue)
        coalesce_sends(self._client)

    def _on_socket_open(self, client: paho.Client, userdata: object,
                        sock: PahoSocket) -> None:
        # Called by paho in the connecting thread; aiomqtt adds its reader in the loop's.
        super()._on_socket_open(client, userdata, sock)
        fileno = sock.fileno()

        def buffered_reader() -> None:
            # In the loop's thread, after aiomqtt's reader is added (call_soon_threadsafe
            # keeps the order) and only for the socket still open: paho reads unbuffered
            # until here, then from the buffer, whose reader replaces aiomqtt's.
            if client.socket() is not sock:
                return
            reader = buffer_receives(client)
            if reader is None:
                return

            def on_readable() -> None:  # aiomqtt's reader, also draining the buffer
                try:
                    while True:
                        client.loop_read()
                        if reader.buffered() or _tls_pending(client):
                            continue
                        break
                except Exception as exc:
                    if not self._disconnected.done():
                        self._disconnected.set_exception(exc)

            self._loop.add_reader(fileno, on_readable)

        self._loop.call_soon_threadsafe(buffered_reader)

    def _on_socket_close(self, client: paho.Client, userdata: object,
                         sock: PahoSocket) -> None:
        vars(client).pop("_sock_recv", None)  # a closed socket's buffer goes with it
        super()._on_socket_close(client, userdata, sock)

    @property
    def messages(self) -> MessagesIterator:
        if not self._direct_reads:
            return super().messages
        return _QueuedMessages(self)

    @contextlib.contextmanager
    def _pending_call(self, mid: int, value: T, pending_dict: dict[int, T]) -> Iterator[None]:
        calls = (self._pending_subscribes, self._pending_unsubscribes, self._pending_publishes)
        if any(mid in d for d in calls):
            raise RuntimeError(f'There already exists a pending call for message ID "{mid}"')
        pending_dict[mid] = value
        try:
            pending = sum(len(d) for d in calls)
            if pending > self.pending_calls_threshold:
                self._logger.warning("There are %d pending publish calls.", pending)
            yield
        finally:
            with contextlib.suppress(KeyError):
                del pending_dict[mid]


class _QueuedMessages(MessagesIterator):
    """aiomqtt's iterator, but a message already queued is returned without a task."""

    def __init__(self, client: BridgeMqttClient) -> None:
        super().__init__(client)
        self._queue: asyncio.Queue[aiomqtt.Message] = client._queue
        self._in_row = 0

    async def __anext__(self) -> aiomqtt.Message:
        # aiomqtt too returns a message queued before a disconnect, then raises.
        if not self._queue.empty():
            self._in_row += 1
            if self._in_row % YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if self._queue.empty():
                    return await super().__anext__()
            return self._queue.get_nowait()
        self._in_row = 0
        return await super().__anext__()


def _plain(packet: _OutPacket) -> bool:
    """Whether paho does nothing once ``packet`` is written (a run may take it)."""
    kind = packet["command"] & 0xF0
    return kind != paho.DISCONNECT and not (kind == paho.PUBLISH and packet["qos"] == 0)


def coalesce_sends(client: paho.Client) -> None:
    """Have ``client`` write a run of queued packets with one ``send()``.

    Without paho's writer and its packet queue (another paho) nothing changes.
    """
    original: Callable[[], MQTTErrorCode] | None = getattr(client, "_packet_write", None)
    if original is None or not isinstance(getattr(client, "_out_packet", None), deque):
        log.info("paho has no packet queue here: its sends are not coalesced")
        return

    def packet_write() -> MQTTErrorCode:
        out = client._out_packet
        while out:
            run: list[_OutPacket] = []
            size = 0
            for packet in out:
                if size >= SEND_RUN_BYTES or not _plain(packet):
                    break
                run.append(packet)
                size += packet["to_process"]
            if len(run) < 2:
                return original()  # one packet, or one paho has more to do for
            buffer = b"".join(memoryview(p["packet"])[p["pos"]:] for p in run)
            try:
                written = client._sock_send(buffer)
            except (AttributeError, ValueError):
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            except BlockingIOError:
                return MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError as err:
                client._easy_log(paho.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
            with client._msgtime_mutex:
                client._last_msg_out = paho.time_func()
            for packet in run:  # what was written, in order; a part stays at the front
                done = min(written, packet["to_process"])
                packet["pos"] += done
                packet["to_process"] -= done
                written -= done
                if packet["to_process"]:
                    break
                out.popleft()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    vars(client)["_packet_write"] = packet_write


def _tls_pending(client: paho.Client) -> bool:
    pending = getattr(client._sock, "pending", None)
    return callable(pending) and pending() > 0


class BufferedReceives:
    """paho's ``_sock_recv`` served from one larger ``recv()`` of the socket."""

    def __init__(self, receive: Callable[[int], bytes]) -> None:
        self._receive = receive
        self._data = b""
        self._at = 0

    def buffered(self) -> int:
        return len(self._data) - self._at

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._data):
            self._data = self._receive(RECV_BYTES)  # BlockingIOError, b"" at EOF: as paho
            self._at = 0
        chunk = self._data[self._at : self._at + size]
        self._at += len(chunk)
        return chunk


def buffer_receives(client: paho.Client) -> BufferedReceives | None:
    """Serve ``client``'s reads from a buffer of its socket's data (a new one per socket).

    ``None``, and paho reads as it does, without paho's ``_sock_recv`` (another paho).
    """
    original = type(client).__dict__.get("_sock_recv")
    if original is None:
        log.info("paho has no _sock_recv here: its receives are not buffered")
        return None
    reader = BufferedReceives(lambda size: original(client, size))
    vars(client)["_sock_recv"] = reader.recv
    return reader
