"""The bridge's MQTT client: aiomqtt's, with three costs per message taken out.

Measured with cProfile in the bridge during the ingest bench (PostgreSQL, 200 kiosks x
40 events, 8,000 events stored and acked):

- **Sends.** paho writes every queued packet with a ``send()`` of its own: the PUBACK
  of every event received, the ack to every kiosk of a batch. 11,436 sends took 12% of
  the bridge's time (a send on loopback TCP also does the receiving side's network
  work). Here the packets queued when the socket turns writable go out in one
  ``send()`` (a run of at most :data:`SEND_RUN_BYTES`); paho's own writer still sends
  the packets it has more to do for (a QoS 0 PUBLISH's ``on_publish``, DISCONNECT).
- **Receives** stay paho's own (two ``recv()`` calls or more per packet). Serving them
  from one larger ``recv()`` saved about 10% of the receive CPU per message, but with it a
  CI run lost an RPC reply after a broker restart (that test failed in 1 of 6 runs here,
  then 0 of 10; 0 of 12 without it). The cause was not found, and the reads of a socket
  are not worth that doubt.
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
from paho.mqtt import client as paho
from paho.mqtt.enums import MQTTErrorCode

if TYPE_CHECKING:
    from paho.mqtt.client import _OutPacket

    from .worker import MqttClientArgs

log = logging.getLogger(__name__)

T = TypeVar("T")

# A run of queued packets is joined into one buffer of at most this many bytes.
SEND_RUN_BYTES = 64 * 1024
# A message taken straight from the queue skips the event loop; every this many in a
# row the reader yields once, so a deep queue does not hold up the other tasks.
YIELD_EVERY = 64


class BridgeMqttClient(aiomqtt.Client):
    """``aiomqtt.Client`` with coalesced sends, queued messages taken at once, O(1) pending calls."""

    def __init__(self, **kwargs: Unpack[MqttClientArgs]) -> None:
        super().__init__(**kwargs)
        self._direct_reads = isinstance(getattr(self, "_queue", None), asyncio.Queue)
        coalesce_sends(self._client)

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
