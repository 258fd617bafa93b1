"""systemd ``sd_notify`` protocol, stdlib only (used by the kiosk agent and the cloud bridge).

The kiosk agent's component around it lives in :mod:`kiosk_agent.sdnotify`.

A ``Type=notify`` service tells systemd it is ready with ``READY=1``, shows a
one-line ``STATUS=`` in ``systemctl status``, and, with ``WatchdogSec=``, must
send ``WATCHDOG=1`` more often than ``$WATCHDOG_USEC``; otherwise systemd kills
and restarts it. The messages are datagrams on the AF_UNIX socket named by
``$NOTIFY_SOCKET`` (a path, or an abstract address written with a leading ``@``).

:class:`Watchdog` sends ``WATCHDOG=1`` only while the service is healthy: the main
loop must call :meth:`Watchdog.beat` regularly and every health check must pass.
The pinger runs on the same event loop, so a blocked loop stops the pings too,
and systemd restarts a hung process instead of leaving a dead till on the counter.

Usage::

    notifier = SystemdNotifier()           # no-op when not under systemd
    async with Watchdog(notifier, checks=[agent.tasks_healthy]) as wd:
        notifier.ready("serving")
        while running:
            wd.beat()
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping

log = logging.getLogger(__name__)

#: Ping at this fraction of WATCHDOG_USEC: systemd's own advice is "half the interval".
PING_FRACTION = 0.5
#: The main loop's heartbeat period when the watchdog interval does not ask for faster.
HEARTBEAT_S = 1.0
#: Without WATCHDOG_USEC (not under a watchdog) the heartbeat is still judged against
#: this many seconds, so ``healthy`` means the same in tests and in production.
DEFAULT_STALE_S = 30.0


class SystemdNotifier:
    """Send ``sd_notify`` datagrams; every method is a silent no-op without ``$NOTIFY_SOCKET``.

    Args:
        address: the socket (defaults to ``$NOTIFY_SOCKET``); ``@name`` is abstract.
        env: environment to read ``NOTIFY_SOCKET``/``WATCHDOG_USEC``/``WATCHDOG_PID`` from.
    """

    def __init__(self, address: str | None = None, env: Mapping[str, str] | None = None) -> None:
        environ: Mapping[str, str] = os.environ if env is None else env
        self._address = address if address is not None else environ.get("NOTIFY_SOCKET") or None
        self._watchdog_usec = _watchdog_usec(environ)
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True when there is a socket to talk to."""
        return bool(self._address)

    @property
    def watchdog_interval(self) -> float | None:
        """The watchdog timeout in seconds (``$WATCHDOG_USEC``) or ``None`` when off."""
        return self._watchdog_usec / 1_000_000 if self._watchdog_usec else None

    def notify(self, message: str) -> bool:
        """Send one datagram of ``KEY=VALUE`` lines; returns whether it was sent."""
        if not self._address:
            return False
        addr = self._address
        if addr.startswith("@"):
            addr = "\0" + addr[1:]
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(message.encode("utf-8"), addr)
        except OSError as err:
            if not self._warned:  # once: a missing socket would otherwise flood the log
                log.warning("sd_notify to %s failed: %s", self._address, err)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (+ ``STATUS=``, ``MAINPID=``): start-up is complete, we are serving."""
        lines = ["READY=1", f"MAINPID={os.getpid()}"]
        if status:
            lines.append(f"STATUS={_one_line(status)}")
        return self.notify("\n".join(lines))

    def status(self, text: str) -> bool:
        """``STATUS=``: the one line shown by ``systemctl status``."""
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: we are alive and healthy."""
        return self.notify("WATCHDOG=1")

    def reloading(self) -> bool:
        return self.notify("RELOADING=1")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: shutdown has begun (systemd stops expecting pings)."""
        lines = ["STOPPING=1"]
        if status:
            lines.append(f"STATUS={_one_line(status)}")
        return self.notify("\n".join(lines))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Watchdog:
    """Ping systemd's watchdog while the main loop beats and every check passes.

    Args:
        notifier: where pings go.
        checks: callables returning ``True`` while a part is healthy (for example
            "no TaskGroup task has died"); a check that raises counts as unhealthy.
        interval: ping period in seconds; defaults to half of ``$WATCHDOG_USEC``.
        stale_after: a heartbeat older than this counts as a hung main loop; defaults
            to ``$WATCHDOG_USEC`` (or :data:`DEFAULT_STALE_S`).
        require_beat: when False, only the checks and the loop itself are judged.
    """

    def __init__(
        self,
        notifier: SystemdNotifier,
        checks: Iterable[Callable[[], bool]] = (),
        *,
        interval: float | None = None,
        stale_after: float | None = None,
        require_beat: bool = True,
    ) -> None:
        timeout = notifier.watchdog_interval
        self.notifier = notifier
        self.checks = list(checks)
        self.interval = interval if interval is not None else (
            timeout * PING_FRACTION if timeout else None
        )
        self.stale_after = stale_after if stale_after is not None else (timeout or DEFAULT_STALE_S)
        self.require_beat = require_beat
        self._last_beat = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._unhealthy_reason: str | None = None
        self.pings = 0

    def beat(self) -> None:
        """Called by the main loop: "I am still going round"."""
        self._last_beat = time.monotonic()

    def add_check(self, check: Callable[[], bool]) -> None:
        self.checks.append(check)

    def healthy(self) -> bool:
        """True when the heartbeat is fresh and every check passes."""
        reason = None
        if self.require_beat and time.monotonic() - self._last_beat > self.stale_after:
            reason = "main loop heartbeat is stale"
        else:
            for check in self.checks:
                try:
                    ok = bool(check())
                except Exception as err:  # a broken check is a failed check
                    ok = False
                    log.debug("watchdog check %r raised %s", check, err)
                if not ok:
                    reason = f"health check {getattr(check, '__name__', check)!s} failed"
                    break
        if reason != self._unhealthy_reason:
            if reason:
                log.error("watchdog pings withheld: %s", reason)
            elif self._unhealthy_reason:
                log.warning("watchdog pings resumed")
            self._unhealthy_reason = reason
        return reason is None

    async def run(self) -> None:
        """Ping loop; returns at once when there is no watchdog to feed."""
        if not self.interval or not self.notifier.enabled:
            return
        while True:
            if self.healthy() and self.notifier.watchdog():
                self.pings += 1
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> Watchdog:
        self.beat()
        self._task = asyncio.create_task(self.run(), name="systemd-watchdog")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """``$WATCHDOG_USEC`` when it is meant for this process (``$WATCHDOG_PID`` unset or ours)."""
    raw = env.get("WATCHDOG_USEC")
    if not raw:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not an integer", raw)
        return None
    return usec if usec > 0 else None


def _one_line(text: str) -> str:
    return " ".join(text.split())
