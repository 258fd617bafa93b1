"""The agent's local control API: JSON over HTTP on a Unix socket, for the staff TUI.

Only processes that can open the socket (mode 0660, owner ``kiosk``, group
``config.control.socket_group``) can talk to it. Reading is open to them; every
call that changes state (``POST`` other than ``/v1/session``) also needs a staff
session: ``POST /v1/session {"pin": "..."}`` checks the PIN against an argon2
hash (``config.control.staff_pin_hash`` or the ``staff_pin_hash`` credential) and
returns a token, sent back as ``Authorization: Bearer <token>``. A token expires
after ``config.control.idle_lock_s`` without use; wrong PINs are rate limited.

The server talks to the agent through :class:`AgentControl`, a protocol of small
async methods. Every method is optional: a missing one answers ``501`` so a
partly wired agent still serves the rest. :class:`AgentFacade` merges several
providers (the agent itself, :class:`JournalControl` over its journal, ...).

Routes (all JSON unless noted)::

    GET  /v1/status                      kiosk, state, maintenance, link, queue, last scans
    GET  /v1/health                      {device: {state, ...}} for printer, camera, ...
    GET  /v1/sales/today                 {orders, total, currency, ...}
    GET  /v1/orders?q=&limit=            order search (newest first)
    GET  /v1/orders/{order_no}           order detail
    GET  /v1/outbox                      {stats: {...}, dead_letters: [...]}
    GET  /v1/config                      [{key, value, source}] (default/file/shadow/env/credential)
    GET  /v1/logs?after=&limit=&level=   recent log lines from the ring buffer
    GET  /v1/camera/snapshot             (session) image/png or image/jpeg (?format=json: base64)
    GET  /v1/session                     {authenticated, expires_in, pin_configured}
    POST /v1/session {"pin"}             -> {token, idle_lock_s}
    DELETE /v1/session                   lock now
    POST /v1/dead-letters/{id}/retry     (session)
    POST /v1/dead-letters/{id}/discard   {"reason"} (session)
    POST /v1/printer/test-page           (session) a test page with Chinese text
    POST /v1/orders/{order_no}/reprint   (session) marked 重印 REPRINT
    POST /v1/maintenance {"on", "reason"} (session)
    POST /v1/display/test                (session)
    POST /v1/camera/decode-check         (session) decode one frame now

Errors are ``{"error": code, "message": text}`` with a fitting HTTP status.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import enum
import grp
import hmac
import logging
import os
import secrets
import time
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from .config import AgentConfig, load_secret
from .logbuffer import RecentLogHandler

log = logging.getLogger(__name__)

#: Wrong PINs allowed before the lockout starts (a staff member mistyping twice is normal).
PIN_FREE_ATTEMPTS = 3
#: First lockout after the free attempts; doubles with each further wrong PIN.
PIN_LOCKOUT_BASE_S = 5.0
#: Longest lockout: long enough to make guessing a 4-6 digit PIN hopeless, short
#: enough that a locked-out manager can still fix the till within a few minutes.
PIN_LOCKOUT_MAX_S = 300.0
#: Largest request body: the API only ever receives tiny JSON objects.
MAX_BODY_BYTES = 64 * 1024
#: Longest a single agent call may take before the API answers 504 (printing and
#: snapshots touch hardware; a wedged device must not wedge the staff terminal).
AGENT_CALL_TIMEOUT_S = 20.0

SOCKET_MODE = 0o660
SECRET_KEYS = frozenset({"control.staff_pin_hash"})
REDACTED = "***"


class ControlApiError(Exception):
    """An error answered to the client as ``{"error": code, "message": message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@runtime_checkable
class AgentControl(Protocol):
    """What the control API needs from the agent. Every method is optional.

    Return plain JSON-able values, dataclasses or pydantic models; the API
    converts them. Methods may be sync or async.
    """

    async def status(self) -> Mapping[str, Any]:
        """``{"state", "maintenance", "link": {"connected", ...}, "last_scans": [...], ...}``."""

    async def health(self) -> Mapping[str, Mapping[str, Any]]:
        """Per device: ``{"printer": {"state": "ok", "paper": "ok"}, "camera": {...}}``."""

    async def sales_today(self) -> Mapping[str, Any]:
        """``{"orders": int, "total": fen, "currency": "CNY"}``."""

    async def find_orders(self, query: str, limit: int) -> list[Any]: ...

    async def order_detail(self, order_no: str) -> Any | None: ...

    async def outbox_stats(self) -> Any: ...

    async def dead_letters(self) -> list[Any]: ...

    async def retry_dead_letter(self, event_id: str) -> bool: ...

    async def discard_dead_letter(self, event_id: str, reason: str) -> bool: ...

    async def print_test_page(self) -> Any: ...

    async def reprint(self, order_no: str) -> Any:
        """Queue a reprint; return falsy (or raise KeyError) when the order is unknown."""

    async def set_maintenance(self, on: bool, reason: str) -> Any: ...

    async def display_test(self) -> Any: ...

    async def camera_snapshot(self) -> bytes | None:
        """One frame encoded as PNG or JPEG, or ``None`` when there is no camera."""

    async def decode_check(self) -> Any: ...

    def effective_config(self) -> list[Mapping[str, Any]]:
        """``[{"key", "value", "source"}]``; see :func:`describe_config`."""


class AgentFacade:
    """One object answering every :class:`AgentControl` method from several providers.

    Each attribute is looked up on the providers in order; the first that has it wins.
    ``AgentFacade(agent, JournalControl(agent.journal))`` lets the agent answer what it
    knows and the journal the rest.
    """

    def __init__(self, *providers: object) -> None:
        self._providers = providers

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        for provider in self._providers:
            value = getattr(provider, name, None)
            if callable(value):
                return value
        raise AttributeError(name)


class JournalControl:
    """The journal-backed part of :class:`AgentControl` (outbox, dead letters, print jobs).

    Uses only the journal interface of the team brief; order search and today's sales
    are used when the journal offers ``find_orders``/``sales_today`` (or ``sales_summary``).
    """

    def __init__(self, journal: Any) -> None:
        self.journal = journal

    async def outbox_stats(self) -> Any:
        return await self.journal.outbox_stats()

    async def dead_letters(self) -> list[Any]:
        return await self.journal.dead_letters()

    async def retry_dead_letter(self, event_id: str) -> bool:
        return await self.journal.retry_dead_letter(event_id)

    async def discard_dead_letter(self, event_id: str, reason: str) -> bool:
        return await self.journal.discard_dead_letter(event_id, reason)

    async def print_test_page(self) -> Any:
        return {"job_id": await self.journal.add_print_job(None, "test")}

    async def reprint(self, order_no: str) -> Any:
        if await self.journal.order_receipt(order_no) is None:
            return None
        return {"job_id": await self.journal.add_print_job(order_no, "reprint")}

    async def order_detail(self, order_no: str) -> Any | None:
        return await self.journal.order_receipt(order_no)

    async def find_orders(self, query: str, limit: int) -> list[dict[str, Any]]:
        """Newest orders whose number, member, product name or barcode contains ``query``."""
        own = getattr(self.journal, "find_orders", None)
        if own is not None:
            return await own(query, limit)
        like = f"%{query}%"

        def q(conn: Any) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT order_no, completed_at, total, currency, member_id, offline,"
                " (SELECT count(*) FROM order_lines l WHERE l.order_no = o.order_no)"
                " FROM orders o WHERE ? = '' OR order_no LIKE ? OR member_id LIKE ?"
                " OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_no = o.order_no"
                "   AND (l.name_zh LIKE ? OR l.barcode LIKE ? OR l.product_id LIKE ?))"
                " ORDER BY committed_at DESC LIMIT ?",
                (query, like, like, like, like, like, limit),
            ).fetchall()
            return [
                {
                    "order_no": r[0], "completed_at": r[1], "total": r[2], "currency": r[3],
                    "member_id": r[4], "offline": bool(r[5]), "lines": r[6],
                }
                for r in rows
            ]

        return await self.journal.read(q)

    async def sales_today(self) -> dict[str, Any]:
        """Orders and takings of the current business day."""
        own = getattr(self.journal, "sales_today", None)
        if own is not None:
            return await own()
        day = self.journal.business_day()

        def q(conn: Any) -> dict[str, Any]:
            count, total, offline = conn.execute(
                "SELECT count(*), coalesce(sum(total), 0), coalesce(sum(offline), 0)"
                " FROM orders WHERE business_day = ?",
                (day,),
            ).fetchone()
            row = conn.execute(
                "SELECT currency FROM orders WHERE business_day = ? LIMIT 1", (day,)
            ).fetchone()
            return {
                "business_day": day, "orders": count, "total": total,
                "currency": row[0] if row else "CNY", "offline_orders": offline,
            }

        return await self.journal.read(q)


class AgentControlAdapter:
    """The :class:`AgentControl` methods derived from a running :class:`~kiosk_agent.agent.Agent`.

    Status comes from the checkout; health from every registered component that has a
    ``health()`` method (the print spooler, the camera, the link, ...); device checks
    from the first component offering the method (``snapshot``/``camera_snapshot``,
    ``display_test``, ``decode_check``). Journal queries are answered by
    :class:`JournalControl` (combine both with :class:`AgentFacade`).
    """

    def __init__(self, agent: Any, config_path: Path | str | None = None) -> None:
        self.agent = agent
        self.config_path = config_path
        self.started_at = time.time()

    def _components(self) -> list[tuple[str, Any]]:
        # The agent keeps its registrations in ``_components`` (name, component, restart).
        regs = getattr(self.agent, "_components", None) or []
        return [(r.name, r.component) for r in regs]

    def _component_method(self, *names: str) -> Any:
        for _, component in self._components():
            for name in names:
                method = getattr(component, name, None)
                if callable(method):
                    return method
        return None

    async def status(self) -> dict[str, Any]:
        cfg = self.agent.config
        checkout = getattr(self.agent, "checkout", None)
        state = str(checkout.state) if checkout is not None else "starting"
        link = getattr(self.agent, "link", None) or self._component_attr("connected")
        link_info: dict[str, Any] = {"connected": None}
        connected = getattr(link, "connected", None)
        if isinstance(connected, asyncio.Event):
            link_info["connected"] = connected.is_set()
        elif isinstance(connected, bool):
            link_info["connected"] = connected
        if not cfg.mqtt.enabled:
            link_info["disabled"] = True
        snapshot = None
        if checkout is not None and callable(getattr(checkout, "snapshot", None)):
            snap = checkout.snapshot()
            snapshot = {
                "lines": len(getattr(snap, "lines", []) or []),
                "total": getattr(snap, "total", 0),
                "currency": getattr(snap, "currency", cfg.kiosk.currency),
                "order_no": getattr(snap, "order_no", None),
            }
        from . import __version__

        return {
            "store_id": cfg.kiosk.store_id,
            "kiosk_id": cfg.kiosk.kiosk_id,
            "version": __version__,
            "started_at": self.started_at,
            "state": state,
            "maintenance": state == "maintenance",
            "healthy": bool(getattr(self.agent, "tasks_healthy", lambda: True)()),
            "link": link_info,
            "cart": snapshot,
            "last_scans": list(getattr(self.agent, "last_scans", []) or [])[-10:],
        }

    def _component_attr(self, attr: str) -> Any:
        for _, component in self._components():
            if hasattr(component, attr):
                return component
        return None

    async def health(self) -> dict[str, Any]:
        report: dict[str, Any] = {}
        for name, component in self._components():
            method = getattr(component, "health", None)
            if not callable(method):
                continue
            try:
                value = method()
                if asyncio.iscoroutine(value):
                    value = await value
            except Exception as err:
                value = {"state": "error", "reason": f"health check failed: {err}"}
            report[name] = value
        healthy = getattr(self.agent, "tasks_healthy", None)
        if callable(healthy):
            report.setdefault("agent", {"state": "ok" if healthy() else "error"})
        return report

    async def set_maintenance(self, on: bool, reason: str) -> dict[str, Any]:
        checkout = getattr(self.agent, "checkout", None)
        if checkout is None:
            raise ValueError("the checkout is not running yet")
        try:
            checkout.maintenance_on() if on else checkout.maintenance_off()
        except Exception as err:  # Refusal: not allowed in this state (e.g. paying)
            message = getattr(err, "en", None) or str(err)
            raise ValueError(f"maintenance {'on' if on else 'off'} refused: {message}") from err
        return {"state": str(checkout.state)}

    async def print_test_page(self) -> dict[str, Any]:
        return {"job_id": await self.agent.journal.add_print_job(None, "test")}

    async def camera_snapshot(self) -> bytes | None:
        method = self._component_method("camera_snapshot", "snapshot")
        if method is None:
            raise ControlApiError(501, "not_supported", "no camera component offers a snapshot")
        result = method()
        return await result if asyncio.iscoroutine(result) else result

    async def display_test(self) -> Any:
        method = self._component_method("display_test")
        if method is None:
            raise ControlApiError(501, "not_supported", "no display component offers a test")
        result = method()
        return await result if asyncio.iscoroutine(result) else result

    async def decode_check(self) -> Any:
        method = self._component_method("decode_check")
        if method is None:
            raise ControlApiError(501, "not_supported", "no camera component offers a decode check")
        result = method()
        return await result if asyncio.iscoroutine(result) else result


class ControlComponent:
    """The control API as an agent component: serves from ``run`` until the stop event.

    The socket is opened inside ``run`` (not on entering), so a failure (e.g. no
    permission on the socket directory) is logged and retried by the agent's
    supervisor instead of stopping the whole agent. ``serving`` is set once the
    socket accepts connections (the systemd component waits for it before READY=1).
    """

    def __init__(self, agent: Any, config_path: Path | str | None = None) -> None:
        adapter = AgentControlAdapter(agent, config_path)
        self.serving = asyncio.Event()
        self.server = ControlServer(
            AgentFacade(agent, adapter, JournalControl(agent.journal)),
            agent.config,
            config_path=config_path or getattr(agent, "config_path", None),
            shadow=lambda: getattr(agent, "shadow_applied", None) or {},
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.server.start()
        self.serving.set()
        try:
            await stop.wait()
        finally:
            self.serving.clear()
            await self.server.stop()


def control_component(agent: Any) -> ControlComponent:
    """Factory for ``agent.COMPONENT_FACTORIES`` (``"kiosk_agent.control_api:control_component"``)."""
    return ControlComponent(agent)


# --------------------------------------------------------------------------- sessions


@dataclasses.dataclass
class _Session:
    last_used: float


class StaffSessions:
    """Staff PIN check (argon2), rate limit on wrong PINs, idle-expiring tokens.

    Args:
        pin_hash: argon2 encoded hash, or ``None`` (then no session can be opened).
        idle_lock_s: a token unused this long is gone.
        clock: monotonic clock, replaceable in tests.
    """

    def __init__(
        self,
        pin_hash: str | None,
        idle_lock_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pin_hash = pin_hash
        self.idle_lock_s = idle_lock_s
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._failures = 0
        self._locked_until = 0.0
        self._verify_lock = asyncio.Lock()

    @property
    def pin_configured(self) -> bool:
        return bool(self.pin_hash)

    def retry_after(self) -> float:
        """Seconds until the next PIN may be tried (0 when allowed now)."""
        return max(0.0, self._locked_until - self._clock())

    async def login(self, pin: str) -> str:
        """Check ``pin``; return a new token or raise :class:`ControlApiError`."""
        if not self.pin_hash:
            raise ControlApiError(403, "pin_not_configured", "no staff PIN is configured")
        # One check at a time: parallel guesses must not slip past the lockout.
        async with self._verify_lock:
            wait = self.retry_after()
            if wait > 0:
                raise ControlApiError(
                    429, "too_many_attempts", f"too many wrong PINs; retry in {wait:.0f} s"
                )
            ok = await asyncio.to_thread(_verify_pin, self.pin_hash, pin)
            if not ok:
                self._failures += 1
                if self._failures >= PIN_FREE_ATTEMPTS:
                    lockout = min(
                        PIN_LOCKOUT_MAX_S,
                        PIN_LOCKOUT_BASE_S * 2 ** (self._failures - PIN_FREE_ATTEMPTS),
                    )
                    self._locked_until = self._clock() + lockout
                log.warning("wrong staff PIN (%d in a row)", self._failures)
                raise ControlApiError(401, "wrong_pin", "wrong PIN")
            self._failures = 0
            self._locked_until = 0.0
        self._expire()
        token = secrets.token_urlsafe(32)
        self._sessions[token] = _Session(self._clock())
        log.info("staff session opened")
        return token

    def touch(self, token: str | None) -> bool:
        """True (and the idle timer restarts) when ``token`` is a live session."""
        self._expire()
        if not token:
            return False
        for known, session in self._sessions.items():
            if hmac.compare_digest(known, token):
                session.last_used = self._clock()
                return True
        return False

    def expires_in(self, token: str | None) -> float | None:
        self._expire()
        session = self._sessions.get(token or "")
        if session is None:
            return None
        return max(0.0, session.last_used + self.idle_lock_s - self._clock())

    def logout(self, token: str | None) -> None:
        if token:
            self._sessions.pop(token, None)

    def _expire(self) -> None:
        now = self._clock()
        for token in [t for t, s in self._sessions.items() if now - s.last_used > self.idle_lock_s]:
            del self._sessions[token]
            log.info("staff session locked after %.0f s idle", self.idle_lock_s)


def _verify_pin(pin_hash: str, pin: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return PasswordHasher().verify(pin_hash, pin)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError) as err:
        log.error("staff PIN hash cannot be used: %s", err)
        return False


def hash_pin(pin: str) -> str:
    """The argon2 hash to put in ``control.staff_pin_hash`` or the ``staff_pin_hash`` credential."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(pin)


def resolve_pin_hash(config: AgentConfig) -> str | None:
    """``config.control.staff_pin_hash``, else the ``staff_pin_hash`` credential/env."""
    return config.control.staff_pin_hash or load_secret("staff_pin_hash")


# --------------------------------------------------------------------------- config view


def describe_config(
    config: AgentConfig,
    file_path: Path | str | None = None,
    shadow: Mapping[str, Any] | None = None,
    env: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every effective config value with where it came from.

    Args:
        config: the config in force.
        file_path: the TOML it was loaded from (re-read only to see which keys it sets).
        shadow: dotted keys applied from the cloud's shadow (``{"receipt.footer": ...}``).
        env: dotted keys set from the environment.

    Returns:
        ``[{"key": "mqtt.host", "value": ..., "source": "default|file|shadow|env|credential"}]``,
        sorted by key; secret values are redacted.
    """
    in_file: set[str] = set()
    if file_path is not None:
        try:
            raw = tomllib.loads(Path(file_path).read_text(encoding="utf-8"))
            in_file = set(_flatten(raw))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            log.warning("cannot re-read %s for the config view: %s", file_path, err)
    shadow_keys = set(_flatten_keys(shadow or {}))
    env_keys = set(_flatten_keys(env or {}))
    rows = []
    for key, value in sorted(_flatten(config.model_dump(mode="json")).items()):
        if key in shadow_keys:
            source = "shadow"
        elif key in env_keys:
            source = "env"
        elif key in in_file or any(key.startswith(k + ".") for k in in_file):
            source = "file"
        else:
            source = "default"
        if key in SECRET_KEYS:
            if value is None and key == "control.staff_pin_hash" and load_secret("staff_pin_hash"):
                source = "credential"
                value = REDACTED
            elif value is not None:
                value = REDACTED
        rows.append({"key": key, "value": value, "source": source})
    return rows


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _flatten_keys(tree: Mapping[str, Any]) -> list[str]:
    # Accept both {"receipt.footer": x} and {"receipt": {"footer": x}}.
    return list(_flatten(tree))


# --------------------------------------------------------------------------- JSON


def to_jsonable(value: Any) -> Any:
    """Plain JSON values from dataclasses, pydantic models, bytes, paths, times, enums."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json")
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode("ascii")}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


# --------------------------------------------------------------------------- server

AGENT_KEY = web.AppKey("agent", object)
SESSIONS_KEY = web.AppKey("sessions", StaffSessions)
LOGS_KEY = web.AppKey("logs", object)
CONFIG_KEY = web.AppKey("config_view", object)


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


#: Reads that need a staff session too: a camera frame can show a shopper's phone
#: with its payment code on it, a one-time secret nobody but the shopper may see.
SESSION_READS = frozenset({"/v1/camera/snapshot"})


@web.middleware
async def _errors_and_auth(request: web.Request, handler: Callable) -> web.StreamResponse:
    try:
        needs_session = request.path in SESSION_READS or (
            request.method not in ("GET", "HEAD") and request.path != "/v1/session"
        )
        if needs_session:
            if not request.app[SESSIONS_KEY].touch(_token(request)):
                raise ControlApiError(
                    401, "locked", "staff PIN required: open a session with POST /v1/session"
                )
        elif request.method == "GET":
            # Looking around keeps an open session alive too (staff are at the screen).
            request.app[SESSIONS_KEY].touch(_token(request))
        return await handler(request)
    except ControlApiError as err:
        return web.json_response({"error": err.code, "message": err.message}, status=err.status)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return web.json_response(
            {"error": err.reason.lower().replace(" ", "_"), "message": err.text or err.reason},
            status=err.status,
        )
    except Exception as err:
        log.exception("control API %s %s failed", request.method, request.path)
        return web.json_response(
            {"error": "internal", "message": f"{type(err).__name__}: {err}"}, status=500
        )


async def _call(request: web.Request, name: str, *args: Any) -> Any:
    """Call an agent method by name; 501 when the agent has none."""
    agent = request.app[AGENT_KEY]
    method = getattr(agent, name, None)
    if method is None:
        raise ControlApiError(501, "not_supported", f"the agent does not provide {name}")
    try:
        async with asyncio.timeout(AGENT_CALL_TIMEOUT_S):
            result = method(*args)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
    except TimeoutError as err:
        raise ControlApiError(504, "timeout", f"{name} took longer than {AGENT_CALL_TIMEOUT_S:.0f} s") from err
    except KeyError as err:
        raise ControlApiError(404, "not_found", f"not found: {err.args[0] if err.args else ''}") from err
    except (ValueError, PermissionError) as err:
        # The agent refused (e.g. reprint while a sale is in progress): say why.
        raise ControlApiError(409, "refused", str(err)) from err
    return result


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as err:
        raise ControlApiError(400, "bad_json", "request body is not JSON") from err
    if not isinstance(body, dict):
        raise ControlApiError(400, "bad_json", "request body must be a JSON object")
    return body


def _ok(value: Any, status: int = 200) -> web.Response:
    return web.json_response(to_jsonable(value), status=status)


async def _status(request: web.Request) -> web.Response:
    return _ok(await _call(request, "status"))


async def _health(request: web.Request) -> web.Response:
    return _ok(await _call(request, "health"))


async def _sales_today(request: web.Request) -> web.Response:
    return _ok(await _call(request, "sales_today"))


async def _orders(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()
    limit = _int_query(request, "limit", 50, 1, 500)
    return _ok({"orders": await _call(request, "find_orders", query, limit)})


async def _order(request: web.Request) -> web.Response:
    order_no = request.match_info["order_no"]
    detail = await _call(request, "order_detail", order_no)
    if detail is None:
        raise ControlApiError(404, "not_found", f"no order {order_no}")
    return _ok(detail)


async def _outbox(request: web.Request) -> web.Response:
    stats = to_jsonable(await _call(request, "outbox_stats"))
    if isinstance(stats, dict) and stats.get("oldest_created_at"):
        stats["oldest_age_s"] = round(max(0.0, time.time() - float(stats["oldest_created_at"])), 1)
    return _ok({"stats": stats, "dead_letters": await _call(request, "dead_letters")})


async def _retry(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    if not await _call(request, "retry_dead_letter", event_id):
        raise ControlApiError(404, "not_found", f"no dead letter {event_id}")
    log.info("staff retried dead letter %s", event_id)
    return _ok({"ok": True, "event_id": event_id})


async def _discard(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    reason = str((await _json_body(request)).get("reason", "")).strip()
    if not reason:
        raise ControlApiError(400, "reason_required", "a reason is required to discard")
    if not await _call(request, "discard_dead_letter", event_id, reason):
        raise ControlApiError(404, "not_found", f"no dead letter {event_id}")
    log.warning("staff discarded dead letter %s: %s", event_id, reason)
    return _ok({"ok": True, "event_id": event_id})


async def _test_page(request: web.Request) -> web.Response:
    result = await _call(request, "print_test_page")
    log.info("staff printed a test page")
    return _ok({"ok": True, "result": result})


async def _reprint(request: web.Request) -> web.Response:
    order_no = request.match_info["order_no"]
    result = await _call(request, "reprint", order_no)
    if not result:
        raise ControlApiError(404, "not_found", f"no order {order_no}")
    log.info("staff reprinted order %s", order_no)
    return _ok({"ok": True, "order_no": order_no, "result": result})


async def _maintenance(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if not isinstance(body.get("on"), bool):
        raise ControlApiError(400, "bad_request", 'body must be {"on": true|false, "reason": "..."}')
    reason = str(body.get("reason") or "staff")
    result = await _call(request, "set_maintenance", body["on"], reason)
    log.warning("staff turned maintenance %s (%s)", "on" if body["on"] else "off", reason)
    return _ok({"ok": True, "maintenance": body["on"], "result": result})


async def _display_test(request: web.Request) -> web.Response:
    return _ok({"ok": True, "result": await _call(request, "display_test")})


async def _decode_check(request: web.Request) -> web.Response:
    return _ok(await _call(request, "decode_check"))


async def _snapshot(request: web.Request) -> web.Response:
    image = await _call(request, "camera_snapshot")
    if not image:
        raise ControlApiError(404, "no_frame", "no camera frame available")
    image = bytes(image)
    content_type = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    if request.query.get("format") == "json":
        return _ok(
            {
                "content_type": content_type,
                "bytes": len(image),
                "base64": base64.b64encode(image).decode("ascii"),
            }
        )
    return web.Response(body=image, content_type=content_type)


async def _config(request: web.Request) -> web.Response:
    agent = request.app[AGENT_KEY]
    if getattr(agent, "effective_config", None) is not None:
        return _ok({"values": await _call(request, "effective_config")})
    view = request.app[CONFIG_KEY]
    if view is None:
        raise ControlApiError(501, "not_supported", "the agent does not provide effective_config")
    return _ok({"values": view()})


async def _logs(request: web.Request) -> web.Response:
    handler: RecentLogHandler | None = request.app[LOGS_KEY]
    if handler is None:
        raise ControlApiError(501, "not_supported", "no log buffer installed")
    after = _int_query(request, "after", 0, 0, 2**62)
    limit = _int_query(request, "limit", 200, 1, 5000)
    level = request.query.get("level", "NOTSET")
    lines = handler.lines(after=after, limit=limit, min_level=level)
    return _ok({"last_seq": handler.last_seq, "lines": [line.to_dict() for line in lines]})


async def _session_get(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS_KEY]
    expires = sessions.expires_in(_token(request))
    return _ok(
        {
            "authenticated": expires is not None,
            "expires_in": expires,
            "idle_lock_s": sessions.idle_lock_s,
            "pin_configured": sessions.pin_configured,
            "retry_after": sessions.retry_after(),
        }
    )


async def _session_post(request: web.Request) -> web.Response:
    body = await _json_body(request)
    pin = body.get("pin")
    if not isinstance(pin, str) or not pin:
        raise ControlApiError(400, "bad_request", 'body must be {"pin": "..."}')
    sessions = request.app[SESSIONS_KEY]
    token = await sessions.login(pin)
    return _ok({"token": token, "idle_lock_s": sessions.idle_lock_s}, status=201)


async def _session_delete(request: web.Request) -> web.Response:
    request.app[SESSIONS_KEY].logout(_token(request))
    return _ok({"ok": True})


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise ControlApiError(400, "bad_request", f"{name} must be an integer") from err
    return min(high, max(low, value))


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


def create_app(
    agent: object,
    sessions: StaffSessions,
    log_handler: RecentLogHandler | None = None,
    config_view: Callable[[], list[dict[str, Any]]] | None = None,
) -> web.Application:
    """The control API as an aiohttp application (served by :class:`ControlServer`)."""
    app = web.Application(middlewares=[_errors_and_auth], client_max_size=MAX_BODY_BYTES)
    app[AGENT_KEY] = agent
    app[SESSIONS_KEY] = sessions
    app[LOGS_KEY] = log_handler
    app[CONFIG_KEY] = config_view
    app.router.add_get("/v1/status", _status)
    app.router.add_get("/v1/health", _health)
    app.router.add_get("/v1/sales/today", _sales_today)
    app.router.add_get("/v1/orders", _orders)
    app.router.add_get("/v1/orders/{order_no}", _order)
    app.router.add_post("/v1/orders/{order_no}/reprint", _reprint)
    app.router.add_get("/v1/outbox", _outbox)
    app.router.add_post("/v1/dead-letters/{event_id}/retry", _retry)
    app.router.add_post("/v1/dead-letters/{event_id}/discard", _discard)
    app.router.add_post("/v1/printer/test-page", _test_page)
    app.router.add_post("/v1/maintenance", _maintenance)
    app.router.add_post("/v1/display/test", _display_test)
    app.router.add_get("/v1/camera/snapshot", _snapshot)
    app.router.add_post("/v1/camera/decode-check", _decode_check)
    app.router.add_get("/v1/config", _config)
    app.router.add_get("/v1/logs", _logs)
    app.router.add_get("/v1/session", _session_get)
    app.router.add_post("/v1/session", _session_post)
    app.router.add_delete("/v1/session", _session_delete)
    return app


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
    """

    def __init__(
        self,
        agent: object,
        config: AgentConfig,
        *,
        log_handler: RecentLogHandler | None = None,
        config_path: Path | str | None = None,
        shadow: Callable[[], Mapping[str, Any]] | None = None,
        env: Mapping[str, Any] | None = None,
        socket_path: Path | str | None = None,
        pin_hash: str | None = None,
    ) -> None:
        from . import logbuffer

        self.config = config
        self.socket_path = Path(socket_path or config.control.socket_path)
        self.sessions = StaffSessions(
            pin_hash or resolve_pin_hash(config), config.control.idle_lock_s
        )
        self.log_handler = log_handler or logbuffer.install(config.logging.recent_lines)

        def config_view() -> list[dict[str, Any]]:
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
