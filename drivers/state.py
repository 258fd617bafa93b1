"""One device-state tracker for the printer, customer display, scanner and camera.

Every device reports the same way: a state (``unknown``, ``starting``, ``ok``,
``warning``, ``error``, and the camera's ``ended`` / ``stopped``) and a reason, in its
health entry. A device that keeps failing retries every second or so; the log must
show the outage, not every retry, so :meth:`DeviceState.set` logs on transitions only:
the first error at ERROR (later reasons of the same outage at DEBUG), a warning at
WARNING, a recovery from an error at WARNING with what the outage was, any other
``ok`` at INFO.

Capture and serial threads set the state while the event loop reads it, so the pair
is guarded by a lock and read as one :meth:`DeviceState.snapshot`.
"""

from __future__ import annotations

import logging
import threading

OK = "ok"
WARNING = "warning"
ERROR = "error"


class DeviceState:
    """State and reason of one device, logged once per transition.

    Args:
        name: how the device appears in the log (``"printer"``, ``"customer display
            /dev/ttyUSB0"``).
        logger: the device module's logger, so log filters keep working per driver.
        state: the state before the device is started.
        reason: why it is in that state.
    """

    __slots__ = ("_lock", "_reason", "_state", "log", "name")

    def __init__(self, name: str, logger: logging.Logger, *, state: str = "unknown",
                 reason: str | None = "not started") -> None:
        self.name = name
        self.log = logger
        self._state = state
        self._reason = reason
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """The current state."""
        return self._state

    @property
    def reason(self) -> str | None:
        """Why the device is in its state (``None`` or ``""`` when there is nothing to say)."""
        return self._reason

    def snapshot(self) -> tuple[str, str | None]:
        """``(state, reason)`` read together."""
        with self._lock:
            return self._state, self._reason

    def set(self, state: str, reason: str | None = None) -> bool:
        """Move to ``state`` for ``reason``, logging the transition; whether anything changed."""
        with self._lock:
            if (state, reason) == (self._state, self._reason):
                return False
            previous, previous_reason = self._state, self._reason
            self._state, self._reason = state, reason
        if state == OK:
            if previous == ERROR:
                self.log.warning("%s ok, recovered after: %s", self.name, previous_reason)
            elif previous != OK:
                self.log.info("%s ok", self.name)
        elif state == WARNING:
            self.log.warning("%s: %s", self.name, reason)
        elif state == ERROR:
            if previous != ERROR:
                self.log.error("%s: %s", self.name, reason)
            else:
                self.log.debug("%s still failing: %s", self.name, reason)
        return True

    def mark(self, state: str, reason: str | None = None) -> None:
        """Set a lifecycle state (``starting``, ``stopped``, ``ended``) without logging."""
        with self._lock:
            self._state, self._reason = state, reason
