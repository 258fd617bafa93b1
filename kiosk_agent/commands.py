"""Signed fleet commands on the kiosk: verify, refuse with a reason, or run a handler.

A command runs only when every check passes, in this order: it decodes; it is
signed by a trusted key; it is addressed to this store and kiosk; it has not
expired; it is not dated in the future beyond the allowed clock skew; its
validity window is not absurdly long; its nonce was not seen before; its name
has a registered handler. Anything else is answered on ``cmd/res`` with
``ok=false`` and the reason, and nothing runs.

The agent fills the registry (:meth:`CommandDispatcher.register`);
:func:`register_builtin_handlers` adds ``ping``, ``status`` and ``log_level``, and
:func:`register_agent_handlers` wraps the agent's callbacks for ``maintenance``,
``reprint``, ``sync_catalog``, ``restart``, ``collect_logs`` and ``self_test``
with argument checking.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from common.jsontypes import JsonList, JsonObject
from contract.signing import NonceCache, SignatureError, verify_command
from contract.wire import commands as names
from contract.wire.base import WireError, decode, utcnow
from contract.wire.commands import Command, CommandResult

log = logging.getLogger(__name__)

# Kiosk clocks drift (NTP may be unreachable in a shop for days): accept commands
# issued up to this far in the future.
MAX_CLOCK_SKEW_S = 120.0
# A command valid for longer than this is refused: a long window makes a captured
# command replayable for long, and the nonce cache would have to hold it that long.
MAX_VALIDITY_S = 24 * 3600.0
# How long a handler may run before the command is answered as failed.
HANDLER_TIMEOUT_S = 30.0

CommandHandler = Callable[[JsonObject], Awaitable[JsonObject | None]]


class CommandRefused(Exception):
    """Raised by a handler to refuse a command with a reason (bad arguments, busy, ...)."""


class CommandDispatcher:
    """Verifies signed commands and runs the registered handler.

    Args:
        store: This kiosk's store id.
        kiosk: This kiosk's id.
        public_keys: Trusted command verification keys (the bridge's public key).
        nonces: Replay cache (persisted across restarts when it has a path).
    """

    def __init__(
        self,
        store: str,
        kiosk: str,
        public_keys: list[Ed25519PublicKey],
        nonces: NonceCache | None = None,
    ) -> None:
        self.store = store
        self.kiosk = kiosk
        self.public_keys = list(public_keys)
        self.nonces = nonces if nonces is not None else NonceCache()
        self._handlers: dict[str, CommandHandler] = {}

    def register(self, name: str, handler: CommandHandler) -> None:
        """Run ``handler(args) -> result dict`` for verified commands called ``name``."""
        self._handlers[name] = handler

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def check(self, command: Command) -> str | None:
        """The reason ``command`` must be refused, or ``None`` (does not record the nonce)."""
        try:
            verify_command(command, self.public_keys)
        except SignatureError as err:
            return str(err)
        if command.store != self.store or command.kiosk != self.kiosk:
            return f"addressed to {command.store}/{command.kiosk}, not this kiosk"
        now = utcnow()
        if command.expires_at.tzinfo is None or command.issued_at.tzinfo is None:
            return "timestamps must carry a time zone"
        if command.expires_at <= now:
            return "expired"
        if command.issued_at > now + timedelta(seconds=MAX_CLOCK_SKEW_S):
            return "issued in the future (clock skew too large)"
        if command.expires_at - command.issued_at > timedelta(seconds=MAX_VALIDITY_S):
            return "validity window too long"
        if command.expires_at <= command.issued_at:
            return "expires before it was issued"
        if self.nonces.seen(command.nonce):
            return "replayed (nonce already used)"
        if command.name not in self._handlers:
            return f"unknown command {command.name!r}"
        return None

    async def handle(self, payload: bytes) -> CommandResult:
        """Verify and run one raw ``cmd`` payload; never raises; the result goes on ``cmd/res``."""
        try:
            command = decode(Command, payload)
        except WireError as err:
            cmd_id = _guess_cmd_id(payload)
            log.warning("command %s refused: malformed: %s", cmd_id, err.reason)
            return CommandResult(cmd_id=cmd_id, ok=False, error=f"malformed: {err.reason}")
        reason = self.check(command)
        if reason is None:
            # Record the nonce before running: a crash mid-command must not let a
            # replay run it again.
            try:
                if not self.nonces.add(command.nonce, command.expires_at.timestamp()):
                    reason = "replayed (nonce already used)"
            except OSError as err:
                reason = f"cannot record nonce: {err}"
        if reason is not None:
            log.warning("command %s (%s) refused: %s", command.cmd_id, command.name, reason)
            return CommandResult(cmd_id=command.cmd_id, ok=False, error=reason)
        handler = self._handlers[command.name]
        log.info("running command %s (%s)", command.cmd_id, command.name)
        try:
            result = await asyncio.wait_for(handler(dict(command.args)), HANDLER_TIMEOUT_S)
        except CommandRefused as err:
            log.warning("command %s (%s) refused by handler: %s", command.cmd_id, command.name, err)
            return CommandResult(cmd_id=command.cmd_id, ok=False, error=str(err))
        except TimeoutError:
            log.error("command %s (%s) timed out", command.cmd_id, command.name)
            return CommandResult(cmd_id=command.cmd_id, ok=False, error="handler timed out")
        except Exception as err:
            log.exception("command %s (%s) failed", command.cmd_id, command.name)
            return CommandResult(
                cmd_id=command.cmd_id, ok=False, error=f"failed: {type(err).__name__}: {err}"
            )
        return CommandResult(cmd_id=command.cmd_id, ok=True, result=result or {})


def _guess_cmd_id(payload: bytes) -> str:
    """The ``cmd_id`` of a malformed command when one can be read, so the sender can match."""
    try:
        obj = json.loads(payload)
        cmd_id = obj.get("cmd_id") if isinstance(obj, dict) else None
        if isinstance(cmd_id, str) and 0 < len(cmd_id) <= 64:
            return cmd_id
    except (ValueError, TypeError, RecursionError):
        pass
    return "?"


# -- built-in and agent handlers --------------------------------------------------------

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def register_builtin_handlers(
    dispatcher: CommandDispatcher,
    status: Callable[[], Awaitable[JsonObject]] | None = None,
    boot_time: float | None = None,
) -> None:
    """``ping``, ``status`` (from the agent's ``status`` callback) and ``log_level``."""
    started = boot_time or time.time()

    async def ping(args: JsonObject) -> JsonObject:
        return {"pong": True, "ts": utcnow().isoformat(), "uptime_s": round(time.time() - started, 1)}

    async def status_handler(args: JsonObject) -> JsonObject:
        return dict(await status()) if status else {"uptime_s": round(time.time() - started, 1)}

    async def log_level(args: JsonObject) -> JsonObject:
        level = str(args.get("level", "")).upper()
        if level not in LOG_LEVELS:
            raise CommandRefused(f"level must be one of {', '.join(LOG_LEVELS)}")
        target = args.get("logger") or ""
        if not isinstance(target, str):
            raise CommandRefused("logger must be a string")
        logging.getLogger(target or None).setLevel(level)
        return {"logger": target or "root", "level": level}

    dispatcher.register(names.PING, ping)
    dispatcher.register(names.STATUS, status_handler)
    dispatcher.register(names.LOG_LEVEL, log_level)


def register_agent_handlers(
    dispatcher: CommandDispatcher,
    *,
    maintenance: Callable[[bool, str | None], Awaitable[None]] | None = None,
    reprint: Callable[[str], Awaitable[int | None]] | None = None,
    sync_catalog: Callable[[], Awaitable[JsonObject | None]] | None = None,
    restart: Callable[[], Awaitable[None]] | None = None,
    collect_logs: Callable[[int], Awaitable[JsonList]] | None = None,
    self_test: Callable[[], Awaitable[JsonObject]] | None = None,
) -> None:
    """Register the agent-side commands for which a callback is given, checking arguments.

    - ``maintenance {"on": bool, "reason"?: str}`` -> ``maintenance(on, reason)``
    - ``reprint {"order_no": str}`` -> ``reprint(order_no)`` (returns a print job id)
    - ``sync_catalog {}`` -> ``sync_catalog()``
    - ``restart {}`` -> ``restart()`` (the callback schedules the restart after the reply)
    - ``collect_logs {"lines"?: int}`` -> ``collect_logs(lines)``
    - ``self_test {}`` -> ``self_test()``
    """
    if maintenance:
        async def _maintenance(args: JsonObject) -> JsonObject:
            on = args.get("on")
            if not isinstance(on, bool):
                raise CommandRefused("'on' must be true or false")
            reason = args.get("reason")
            await maintenance(on, reason if isinstance(reason, str) else None)
            return {"maintenance": on}

        dispatcher.register(names.MAINTENANCE, _maintenance)
    if reprint:
        async def _reprint(args: JsonObject) -> JsonObject:
            order_no = args.get("order_no")
            if not isinstance(order_no, str) or not order_no:
                raise CommandRefused("'order_no' is required")
            job = await reprint(order_no)
            return {"order_no": order_no, "job_id": job}

        dispatcher.register(names.REPRINT, _reprint)
    if sync_catalog:
        async def _sync(args: JsonObject) -> JsonObject:
            return dict(await sync_catalog() or {})

        dispatcher.register(names.SYNC_CATALOG, _sync)
    if restart:
        async def _restart(args: JsonObject) -> JsonObject:
            await restart()
            return {"restarting": True}

        dispatcher.register(names.RESTART, _restart)
    if collect_logs:
        async def _logs(args: JsonObject) -> JsonObject:
            lines = args.get("lines", 200)
            if not isinstance(lines, int) or isinstance(lines, bool) or not 1 <= lines <= 5000:
                raise CommandRefused("'lines' must be an integer 1..5000")
            return {"lines": await collect_logs(lines)}

        dispatcher.register(names.COLLECT_LOGS, _logs)
    if self_test:
        async def _self_test(args: JsonObject) -> JsonObject:
            return dict(await self_test())

        dispatcher.register(names.SELF_TEST, _self_test)
