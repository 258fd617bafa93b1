"""The kiosk's MQTT 5 link to head office.

One :class:`Link` per agent, an async context manager. Inside it:

- aiomqtt's documented outer reconnect loop (a fresh ``aiomqtt.Client`` per attempt,
  capped exponential backoff with full jitter); a persistent session
  (``clean_start=False`` + session expiry) so the broker keeps our subscriptions and
  queues acks, replies and commands while the shop's internet is down;
- TLS (CA, optional client certificate) and per-kiosk username/password;
- presence: a retained ``online`` :class:`KioskStatus` on every connect, a retained
  ``offline`` last will, and an ``offline`` status published by a clean shutdown;
- telemetry every ``interval_s`` (QoS 0) from the health callback the agent supplies;
- kiosk -> cloud requests (:meth:`Link.request`) with MQTT 5 correlation data and
  response topic, deadlines, late replies logged and dropped;
- signed commands on ``cmd`` through a :class:`CommandDispatcher`, results on ``cmd/res``;
- routing of the other inbound topics (``events/ack``, ``shadow/desired``, the store's
  ``catalog``) to handlers registered by the outbox, shadow and catalog components.

A malformed inbound message is logged with its reason and dropped; the link keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aiomqtt
from paho.mqtt import client as mqtt_client
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from common.jsontypes import JsonObject
from common.version import __version__
from contract.wire.base import WireError, decode, utcnow
from contract.wire.events import uuid7
from contract.wire.presence import KioskStatus, Telemetry
from contract.wire.rpc import RpcRequest, RpcResponse
from contract.wire.topics import KioskTopics

from .commands import CommandDispatcher, CommandHandler
from .config import MqttSection

log = logging.getLogger(__name__)

# First retry comes fast (most drops are a broker restart or a Wi-Fi blip); the cap
# keeps a whole chain's kiosks from hammering a recovering broker, and full jitter
# spreads their reconnects out so they do not arrive in waves.
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 30.0
# A connection that dropped sooner than this does not reset the backoff: a broker
# that accepts and then kicks us (ACL, session takeover) must not make us spin.
STABLE_CONNECTION_S = 5.0
# The broker keeps our session (subscriptions + queued QoS 1 acks/replies/commands)
# this long after we vanish: a long weekend of lost internet, then it is discarded.
SESSION_EXPIRY_S = 7 * 24 * 3600
# aiomqtt's per-operation timeout (CONNACK, SUBACK, PUBACK).
OPERATION_TIMEOUT_S = 10.0
# QoS 1 messages paho keeps unacknowledged on the wire; the outbox window is the
# real bound, this just must not be the bottleneck below it.
MAX_INFLIGHT = 1024
# Time a clean shutdown waits for the ``offline`` status to be acknowledged.
SHUTDOWN_PUBLISH_S = 2.0
# Expired RPC ids remembered so a late reply is reported as late, not as unknown.
LATE_REPLY_MEMORY = 1024
# Commands being run at once; more wait (a flood must not starve the checkout).
MAX_CONCURRENT_COMMANDS = 4

MessageHandler = Callable[[aiomqtt.Message], Awaitable[None]]
HealthProvider = Callable[[], Awaitable[Telemetry]]


class LinkError(Exception):
    """Base of the link's errors."""


class LinkDown(LinkError):
    """The link is not connected: the message or request was NOT sent."""


class RpcTimeout(LinkError):
    """No reply before the deadline: the request may or may not have been acted on."""


class RpcFailed(LinkError):
    """The cloud answered with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


_PAHO_LOG = logging.getLogger(__name__ + ".paho")


class _PahoLog(logging.Logger):
    """One client's paho log: its lines go to ``kiosk_agent.link.paho`` at DEBUG, and
    an ERROR line (why the socket failed) is kept as the link's ``_socket_error``.

    Lines below ERROR cost a level check unless that logger is at DEBUG.
    """

    def __init__(self, link: Link) -> None:
        super().__init__(_PAHO_LOG.name)
        self.propagate = False
        self.addHandler(_PahoHandler(link))

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.ERROR or _PAHO_LOG.isEnabledFor(logging.DEBUG)


class _PahoHandler(logging.Handler):
    def __init__(self, link: Link) -> None:
        super().__init__()
        self.link = link

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if record.levelno >= logging.ERROR:
            self.link._socket_error = line
        _PAHO_LOG.debug("%s", line)


def tls_context(mqtt: MqttSection) -> ssl.SSLContext | None:
    """An SSL context from ``[mqtt.tls]``, or ``None`` when no CA is configured."""
    tls = mqtt.tls
    if tls.ca_file is None and tls.cert_file is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca_file)
    if tls.cert_file is not None:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Link:
    """The MQTT link of one kiosk.

    Args:
        mqtt: The ``[mqtt]`` config section.
        store: Store id.
        kiosk: Kiosk id.
        password: The kiosk's MQTT password (``load_secret("mqtt_password")``).
        commands: Verifier/registry for signed commands; without one every command
            is refused.
        health: Coroutine returning the current :class:`Telemetry`; no telemetry without it.
        telemetry_interval_s: Seconds between telemetry messages.
        version: Software version in the presence message.
        boot_time: When the agent started (presence message).
        client_id: MQTT client id; defaults to the username (one session per kiosk).
    """

    def __init__(
        self,
        mqtt: MqttSection,
        store: str,
        kiosk: str,
        *,
        password: str | None = None,
        commands: CommandDispatcher | None = None,
        health: HealthProvider | None = None,
        telemetry_interval_s: float = 30.0,
        version: str = __version__,
        boot_time: datetime | None = None,
        client_id: str | None = None,
    ) -> None:
        self.mqtt = mqtt
        self.topics = KioskTopics(store, kiosk)
        self.username = mqtt.username or f"{store}-{kiosk}"
        self.password = password
        self.client_id = client_id or self.username
        self.commands = commands or CommandDispatcher(store, kiosk, [])
        self.health = health
        self.telemetry_interval_s = telemetry_interval_s
        self.version = version
        self.boot_time = boot_time or utcnow()
        self.connected = asyncio.Event()
        self.connects = 0
        self._client: aiomqtt.Client | None = None
        self._handlers: dict[str, MessageHandler] = {}
        self._on_connect: list[Callable[[], Awaitable[None]]] = []
        self._on_disconnect: list[Callable[[], None]] = []
        self._pending: dict[str, asyncio.Future[RpcResponse]] = {}
        self._expired: OrderedDict[str, float] = OrderedDict()
        self._tasks: set[asyncio.Task[object]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._telemetry: asyncio.Task[None] | None = None
        self._telemetry_wake = asyncio.Event()
        self._stopping = False
        self._socket_error: str | None = None  # last socket error paho reported
        self._cmd_sem = asyncio.Semaphore(MAX_CONCURRENT_COMMANDS)

    # -- wiring ----------------------------------------------------------------------

    def add_handler(self, topic: str, handler: MessageHandler) -> None:
        """Route messages on ``topic`` (one of the subscribed topics) to ``handler``.

        Handlers run one at a time in arrival order and should be quick; long work
        belongs in a task of the component that registered the handler.
        """
        self._handlers[topic] = handler

    def on_connect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback()`` after each (re)connect, once subscriptions are in place."""
        self._on_connect.append(callback)

    def on_disconnect(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the connection is lost."""
        self._on_disconnect.append(callback)

    def register_command(self, name: str, handler: CommandHandler) -> None:
        """Run ``handler(args) -> dict`` for verified commands called ``name``."""
        self.commands.register(name, handler)

    def set_telemetry_interval(self, interval_s: float) -> None:
        """Change the telemetry interval (shadow); takes effect at once."""
        self.telemetry_interval_s = interval_s
        self._telemetry_wake.set()

    @property
    def subscriptions(self) -> list[str]:
        """The topics the kiosk subscribes to (cloud -> kiosk leaves + the store's
        retained catalog pointer, stock alerts and new mini-program orders)."""
        t = self.topics
        return [t.events_ack, t.rpc_res, t.cmd, t.shadow_desired, t.catalog, t.stock_alerts,
                t.mp_orders]

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Link:
        self._stopping = False
        self._runner = asyncio.create_task(self._run(), name="mqtt-link")
        if self.health is not None:
            self._telemetry = asyncio.create_task(self._telemetry_loop(), name="mqtt-telemetry")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Agent component protocol: work happens in background tasks until ``stop``."""
        await stop.wait()

    async def close(self) -> None:
        """Clean shutdown: publish ``offline`` (retained) ourselves, then disconnect."""
        self._stopping = True
        if self._telemetry:
            self._telemetry.cancel()
        client = self._client
        if client is not None and self.connected.is_set():
            status = KioskStatus(
                state="offline", version=self.version, boot_time=self.boot_time, reason="shutdown"
            )
            try:
                await client.publish(
                    self.topics.status, status.encode(), qos=1, retain=True,
                    timeout=SHUTDOWN_PUBLISH_S,
                )
            except aiomqtt.MqttError as err:
                log.warning("could not publish offline status at shutdown: %s", err)
        for task in [self._runner, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._runner, self._telemetry, *self._tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._tasks.clear()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(LinkDown("link closed"))
        self._pending.clear()

    def _make_client(self) -> aiomqtt.Client:
        connect_props = Properties(PacketTypes.CONNECT)
        connect_props.SessionExpiryInterval = SESSION_EXPIRY_S
        will = aiomqtt.Will(
            topic=self.topics.status,
            payload=KioskStatus(
                state="offline", version=self.version, boot_time=self.boot_time, reason="lwt"
            ).encode(),
            qos=1,
            retain=True,
        )
        client = aiomqtt.Client(
            self.mqtt.host,
            self.mqtt.port,
            username=self.username,
            password=self.password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=connect_props,
            will=will,
            keepalive=self.mqtt.keepalive_s,
            timeout=OPERATION_TIMEOUT_S,
            max_inflight_messages=MAX_INFLIGHT,
            tls_context=tls_context(self.mqtt),
            tls_insecure=True if self.mqtt.tls.insecure_skip_verify else None,
            logger=logging.getLogger(__name__ + ".paho"),
            # Acks and replies are small packets: without this, Nagle + delayed ACK
            # hold each one back ~40 ms and the outbox window stalls on it.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        # Our own windows bound concurrency; aiomqtt's default warns past 10 pending.
        client.pending_calls_threshold = MAX_INFLIGHT
        self._socket_error = None
        self._watch_paho(client)
        return client

    def _watch_paho(self, client: aiomqtt.Client) -> None:
        """Make a connection the broker drops before CONNACK fail at once, with its cause.

        paho says why a socket failed (e.g. ``[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED]``:
        with TLS 1.3 the broker checks the client certificate after the handshake) only
        in its log, at ERROR. The link's own WARNING line carries that cause instead, so
        paho's lines go to DEBUG. And aiomqtt ignores a disconnect before CONNACK, then
        waits its whole operation timeout and reports "Operation timed out".
        """
        paho_client = client._client
        # A logger, not ``on_log``: paho formats every line (two per message) for an
        # ``on_log`` callback, while a logger's level check skips the formatting.
        paho_client.enable_logger(_PahoLog(self))

        aiomqtt_on_disconnect: Callable[..., None] | None = paho_client.on_disconnect

        def on_disconnect(*args: object) -> None:
            if aiomqtt_on_disconnect is not None:
                aiomqtt_on_disconnect(*args)
            # aiomqtt's private CONNACK future; if it ever goes away this is a no-op and
            # we fall back to aiomqtt's timeout.
            connecting = getattr(client, "_connected", None)
            if isinstance(connecting, asyncio.Future) and not connecting.done():
                cause = self._socket_error or "no CONNACK"
                connecting.set_exception(
                    aiomqtt.MqttError(f"connection closed by the broker: {cause}")
                )

        paho_client.on_disconnect = on_disconnect

    async def _run(self) -> None:
        """aiomqtt's outer reconnect loop with capped, fully jittered exponential backoff."""
        backoff = RECONNECT_MIN_S
        while not self._stopping:
            client = self._make_client()
            started = None
            try:
                async with client:
                    started = time.monotonic()
                    await self._connected(client)
                    async for message in client.messages:
                        await self._dispatch(message)
            except aiomqtt.MqttError as err:
                if started is None:
                    log.warning("MQTT connect to %s:%s failed: %s", self.mqtt.host, self.mqtt.port, err)
                elif self._socket_error:
                    log.warning("MQTT connection lost: %s (%s)", err, self._socket_error)
                else:
                    log.warning("MQTT connection lost: %s", err)
            except Exception:
                # Whatever went wrong, the kiosk must keep trying to get its sales out.
                log.exception("MQTT link failed; reconnecting")
            finally:
                self._lost()
            if started is not None and time.monotonic() - started >= STABLE_CONNECTION_S:
                backoff = RECONNECT_MIN_S
            delay = random.uniform(0, backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_S)
            await asyncio.sleep(delay)

    async def _connected(self, client: aiomqtt.Client) -> None:
        # Subscribe every time: the session may be gone (broker lost its state).
        for topic in self.subscriptions:
            await client.subscribe(topic, qos=1)
        status = KioskStatus(state="online", version=self.version, boot_time=self.boot_time)
        await client.publish(self.topics.status, status.encode(), qos=1, retain=True)
        self._client = client
        self.connects += 1
        self.connected.set()
        log.info("MQTT connected to %s:%s as %s", self.mqtt.host, self.mqtt.port, self.username)
        for callback in self._on_connect:
            self._spawn(callback(), "on-connect")

    def _lost(self) -> None:
        was_up = self.connected.is_set()
        self._client = None
        self.connected.clear()
        if was_up:
            for callback in self._on_disconnect:
                try:
                    callback()
                except Exception:
                    log.exception("on_disconnect callback failed")

    def _spawn(self, coro: Awaitable[object], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s task failed", task.get_name(), exc_info=task.exception())

    async def wait_connected(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until connected; ``False`` on timeout."""
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # -- outbound --------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> None:
        """Publish now; raises :class:`LinkDown` when not connected or the connection drops."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise LinkDown("not connected")
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        except aiomqtt.MqttError as err:
            raise LinkDown(str(err)) from err

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Hand a publish to the MQTT client now, without waiting for its PUBACK.

        For a sender with its own end-to-end ack and resend (the outbox): no asyncio
        future, event and timeout per message as :meth:`publish` has. The message is
        queued in paho (sent at once, or after a PUBACK when ``MAX_INFLIGHT`` are on the
        wire); a connection lost before it went out loses it, so the sender must resend
        what was not acked. Raises :class:`LinkDown` when not connected or refused.
        """
        client = self._client
        if client is None or not self.connected.is_set():
            raise LinkDown("not connected")
        # aiomqtt's paho client (as in _watch_paho): its publish is what aiomqtt's calls.
        info = client._client.publish(topic, payload, qos=qos)
        if info.rc != mqtt_client.MQTT_ERR_SUCCESS:
            raise LinkDown(f"publish refused: {mqtt_client.error_string(info.rc)}")

    async def _telemetry_loop(self) -> None:
        assert self.health is not None
        while True:
            await self.connected.wait()
            try:
                telemetry = await self.health()
                await self.publish(self.topics.telemetry, telemetry.encode(), qos=0)
            except LinkDown:
                pass
            except Exception:
                log.exception("telemetry failed")
            self._telemetry_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._telemetry_wake.wait(), self.telemetry_interval_s)

    # -- requests --------------------------------------------------------------------

    async def request(
        self, method: str, params: JsonObject, timeout: float  # noqa: ASYNC109 - sent as deadline
    ) -> JsonObject:
        """Call ``method`` in the cloud and return its result.

        Raises:
            LinkDown: not connected within ``timeout``; the request was NOT sent.
            RpcTimeout: sent, but no reply before the deadline (outcome unknown).
            RpcFailed: the cloud answered with an error (``code``, ``message``).
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        if not await self.wait_connected(timeout):
            raise LinkDown(f"{method}: not connected within {timeout:.1f}s; not sent")
        req_id = uuid7()
        remaining = max(end - loop.time(), 0.0)
        deadline = utcnow() + timedelta(seconds=remaining)
        body = RpcRequest(id=req_id, method=method, params=params, deadline=deadline)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.topics.rpc_res
        props.CorrelationData = req_id.encode()
        # Lets the broker drop a request nobody picked up before its deadline.
        props.MessageExpiryInterval = max(int(remaining) + 1, 1)
        fut: asyncio.Future[RpcResponse] = loop.create_future()
        self._pending[req_id] = fut
        try:
            try:
                await asyncio.wait_for(
                    self.publish(self.topics.rpc_req, body.encode(), qos=1, properties=props),
                    max(end - loop.time(), 0.001),
                )
            except TimeoutError as err:
                raise RpcTimeout(f"{method}: no PUBACK before the deadline") from err
            try:
                response = await asyncio.wait_for(fut, max(end - loop.time(), 0.001))
            except TimeoutError as err:
                raise RpcTimeout(f"{method}: no reply within {timeout:.1f}s") from err
        finally:
            self._pending.pop(req_id, None)
            if not fut.done() or fut.cancelled():
                self._remember_expired(req_id)
        if not response.ok:
            failure = response.error
            raise RpcFailed(failure.code if failure else "error",
                            failure.message if failure else "request failed")
        return response.result or {}

    def _remember_expired(self, req_id: str) -> None:
        self._expired[req_id] = time.time()
        while len(self._expired) > LATE_REPLY_MEMORY:
            self._expired.popitem(last=False)

    def _on_rpc_reply(self, message: aiomqtt.Message) -> None:
        try:
            response = decode(RpcResponse, message.payload)
        except WireError as err:
            log.warning("dropped malformed rpc reply: %s", err.reason)
            return
        corr = getattr(message.properties, "CorrelationData", None) if message.properties else None
        req_id = response.id
        if corr:
            try:
                req_id = bytes(corr).decode()
            except UnicodeDecodeError:
                log.warning("rpc reply with undecodable correlation data; using body id")
            if req_id != response.id:
                log.warning("rpc reply correlation %s != body id %s; dropped", req_id, response.id)
                return
        fut = self._pending.get(req_id)
        if fut is None or fut.done():
            if req_id in self._expired:
                log.warning("late rpc reply %s after its deadline; dropped", req_id)
            else:
                log.warning("rpc reply %s matches no request; dropped", req_id)
            return
        fut.set_result(response)

    # -- inbound ---------------------------------------------------------------------

    async def _dispatch(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        try:
            if not isinstance(message.payload, (bytes, bytearray)):
                log.warning("dropped message on %s: payload is not bytes", topic)
                return
            if topic == self.topics.rpc_res:
                self._on_rpc_reply(message)
            elif topic == self.topics.cmd:
                self._spawn(self._run_command(bytes(message.payload)), "command")
            elif topic in self._handlers:
                await self._handlers[topic](message)
            else:
                log.warning("dropped message on %s: no handler", topic)
        except Exception:
            # Bad input must never take the link down.
            log.exception("handler for %s failed; message dropped", topic)

    async def _run_command(self, payload: bytes) -> None:
        async with self._cmd_sem:
            result = await self.commands.handle(payload)
        try:
            await self.publish(self.topics.cmd_res, result.encode(), qos=1)
        except LinkDown as err:
            log.warning("command result %s not sent: %s", result.cmd_id, err)


def boot_time_from_uptime() -> datetime:
    """The machine's boot time from ``/proc/uptime`` (now, when unreadable)."""
    try:
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return datetime.fromtimestamp(time.time() - uptime, UTC)
    except (OSError, ValueError, IndexError):
        return utcnow()
