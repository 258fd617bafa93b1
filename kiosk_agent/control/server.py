"""Serving the control API: the Unix socket (mode, group, stale socket) and the agent component."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from common.jsontypes import JsonMapping, JsonObject

from ..config import AgentConfig
from ..logbuffer import RecentLogHandler
from .config_view import describe_config
from .errors import ControlApiError
from .facade import AgentControlAdapter, AgentFacade, JournalControl
from .routes import create_app
from .sessions import StaffSessions, resolve_pin_hash

if TYPE_CHECKING:
    from contract.pricebook import PriceBook
    from kiosk_agent.agent import Agent
    from kiosk_agent.badges import StaffBadges

log = logging.getLogger(__name__)

SOCKET_MODE = 0o660


def _socket_in_use(path: Path) -> bool:
    """True when something accepts connections on the Unix socket ``path``."""
    import socket

    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


class ControlServer:
    """Serve the control API on ``config.control.socket_path`` (an async context manager).

    Args:
        agent: an :class:`AgentControl` (any object; missing methods answer 501).
        config: the agent config (socket path, group, PIN hash, idle lock).
        log_handler: the ring buffer for ``/v1/logs``; installed on the root logger
            when not given.
        config_path: the TOML file the config came from (for the sources view).
        shadow: callable returning the dotted keys applied from the shadow, for the view.
        env: dotted keys set from the environment, for the view.
        socket_path: overrides ``config.control.socket_path``.
        book: callable returning the price book the kiosk sells on (its staff
            revocation list decides which badges may lift a PIN lockout).
    """

    def __init__(
        self,
        agent: object,
        config: AgentConfig,
        *,
        log_handler: RecentLogHandler | None = None,
        config_path: Path | str | None = None,
        shadow: Callable[[], JsonMapping] | None = None,
        env: JsonMapping | None = None,
        socket_path: Path | str | None = None,
        pin_hash: str | None = None,
        book: Callable[[], PriceBook | None] | None = None,
    ) -> None:
        from .. import logbuffer

        self.config = config
        self.socket_path = Path(socket_path or config.control.socket_path)
        self.sessions = StaffSessions(
            pin_hash or resolve_pin_hash(config), config.control.idle_lock_s
        )
        self.sessions.badge_verifier = _badge_verifier(config, book)
        self.log_handler = log_handler or logbuffer.install(config.logging.recent_lines)

        def config_view() -> list[JsonObject]:
            return describe_config(config, config_path, shadow() if shadow else None, env)

        self.app = create_app(agent, self.sessions, self.log_handler, config_view)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if not self.sessions.pin_configured:
            log.warning("no staff PIN hash configured: state-changing control calls are refused")
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.is_socket():
            if _socket_in_use(self.socket_path):
                raise ControlApiError(
                    409, "in_use", f"another process is serving on {self.socket_path}"
                )
            # A socket left by a killed agent would make bind() fail.
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        # Create the socket with no access for others from the first instant.
        old_umask = os.umask(0o117)
        try:
            site = web.UnixSite(self._runner, str(self.socket_path))
            await site.start()
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, SOCKET_MODE)
        self._apply_group()
        log.info("control API listening on %s", self.socket_path)

    def _apply_group(self) -> None:
        group = self.config.control.socket_group
        if not group:
            return
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            log.warning("group %r does not exist: control socket stays group %d", group,
                        self.socket_path.stat().st_gid)
            return
        try:
            os.chown(self.socket_path, -1, gid)
        except PermissionError as err:
            log.warning("cannot give control socket to group %r: %s", group, err)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class ControlComponent:
    """The control API as an agent component: serves from ``run`` until the stop event.

    The socket is opened inside ``run`` (not on entering), so a failure (e.g. no
    permission on the socket directory) is logged and retried by the agent's
    supervisor instead of stopping the whole agent. ``serving`` is set once the
    socket accepts connections (the systemd component waits for it before READY=1).
    """

    def __init__(self, agent: Agent, config_path: Path | str | None = None) -> None:
        adapter = AgentControlAdapter(agent, config_path)
        self.serving = asyncio.Event()
        self.server = ControlServer(
            AgentFacade(agent, adapter, JournalControl(agent.journal)),
            agent.config,
            config_path=config_path or getattr(agent, "config_path", None),
            shadow=lambda: agent.runtime.shadow_applied,
            book=lambda: agent.book,
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.server.start()
        self.serving.set()
        try:
            await stop.wait()
        finally:
            self.serving.clear()
            await self.server.stop()


def control_component(agent: Agent) -> ControlComponent:
    """Factory: the staff control socket (called by ``build_agent``)."""
    agent.runtime.control = ControlComponent(agent)
    return agent.runtime.control


def _badge_verifier(config: AgentConfig,
                    book: Callable[[], PriceBook | None] | None = None) -> Callable[[str], str]:
    """Badge text -> the staff member's id; raises ``TokenError`` when not acceptable.

    Built on first use (reads the ``badge_pubkey`` credential then). Every check reads
    the current price book (``book()``): its staff revocation list refuses a revoked
    badge here as at the camera. A kiosk with no book yet has no list (logged).
    """
    badges: list[StaffBadges] = []

    def verify(text: str) -> str:
        from ..badges import StaffBadges

        if not badges:
            badges.append(StaffBadges(config.kiosk.store_id, config.staff.badge_max_days))
        current = book() if book is not None else None
        if current is None:
            log.warning("badge checked without a price book: no revocation list to consult")
        return str(badges[0].verify(text, current).subject)

    return verify
