"""Staff sessions: the PIN check (argon2), the wrong-PIN lockout and idle-expiring tokens."""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import secrets
import time
from collections.abc import Callable

from ..config import AgentConfig, load_secret
from .errors import ControlApiError

log = logging.getLogger(__name__)

#: Wrong PINs allowed before the lockout starts (a staff member mistyping twice is normal).
PIN_FREE_ATTEMPTS = 3
#: First lockout after the free attempts; doubles with each further wrong PIN.
PIN_LOCKOUT_BASE_S = 5.0
#: Longest lockout: long enough to make guessing a 4-6 digit PIN hopeless, short
#: enough that a locked-out manager can still fix the till within a few minutes.
PIN_LOCKOUT_MAX_S = 300.0


#: Attempt sources remembered (each caller uid of the socket is one): bounded.
MAX_SOURCES = 256


@dataclasses.dataclass
class _Session:
    last_used: float


@dataclasses.dataclass
class _Attempts:
    failures: int = 0
    locked_until: float = 0.0


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
        # Per attempt source (the caller's uid on the control socket): whoever guesses
        # at the console locks out the console, not staff coming in over SSH.
        self._sources: dict[str, _Attempts] = {}
        self._verify_lock = asyncio.Lock()
        # Badge text -> staff id, raising on a bad badge (set by the control server).
        self.badge_verifier: Callable[[str], str] | None = None

    @property
    def pin_configured(self) -> bool:
        return bool(self.pin_hash)

    def retry_after(self, source: str = "local") -> float:
        """Seconds until ``source`` may try the next PIN (0 when allowed now)."""
        state = self._sources.get(source)
        return 0.0 if state is None else max(0.0, state.locked_until - self._clock())

    def unlock_with_badge(self, badge: str) -> tuple[str, int]:
        """Lift every PIN lockout when ``badge`` is a valid signed staff badge.

        Returns ``(staff id, lockouts lifted)``; raises :class:`ControlApiError` 403.
        """
        from contract.tokens import TokenError

        if self.badge_verifier is None:
            raise ControlApiError(403, "badge_refused", "badge check not configured")
        try:
            staff = self.badge_verifier(badge)
        except TokenError as err:
            log.warning("PIN unlock refused: badge %s", err.reason)
            raise ControlApiError(403, "badge_refused",
                                  f"badge not accepted: {err.reason}") from err
        locked = sum(1 for s in self._sources.values() if s.locked_until > self._clock())
        self._sources.clear()
        log.warning("PIN lockout lifted by staff badge of %s (%d source(s))", staff, locked)
        return staff, locked

    def _attempts(self, source: str) -> _Attempts:
        state = self._sources.get(source)
        if state is None:
            if len(self._sources) >= MAX_SOURCES:  # forget the oldest unlocked source
                now = self._clock()
                for key in [k for k, s in self._sources.items() if s.locked_until <= now]:
                    del self._sources[key]
                    break
            state = self._sources[source] = _Attempts()
        return state

    async def login(self, pin: str, source: str = "local") -> str:
        """Check ``pin`` from ``source``; return a new token or raise :class:`ControlApiError`."""
        if not self.pin_hash:
            raise ControlApiError(403, "pin_not_configured", "no staff PIN is configured")
        # One check at a time: parallel guesses must not slip past the lockout.
        async with self._verify_lock:
            wait = self.retry_after(source)
            if wait > 0:
                raise ControlApiError(
                    429, "too_many_attempts", f"too many wrong PINs; retry in {wait:.0f} s"
                )
            state = self._attempts(source)
            ok = await asyncio.to_thread(_verify_pin, self.pin_hash, pin)
            if not ok:
                state.failures += 1
                if state.failures >= PIN_FREE_ATTEMPTS:
                    lockout = min(
                        PIN_LOCKOUT_MAX_S,
                        PIN_LOCKOUT_BASE_S * 2 ** (state.failures - PIN_FREE_ATTEMPTS),
                    )
                    state.locked_until = self._clock() + lockout
                log.warning("wrong staff PIN from %s (%d in a row)", source, state.failures)
                raise ControlApiError(401, "wrong_pin", "wrong PIN")
            self._sources.pop(source, None)
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
