"""In-memory ring buffer of recent log records, served to staff by the control API.

A :class:`RecentLogHandler` keeps the last N formatted records (``config.logging.
recent_lines``) so that the TUI's log screen and the ``collect recent logs`` fleet
command can read them without touching the disk. Each record gets an increasing
``seq`` so a reader can follow the log by asking for records after the last one
it has seen.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import asdict, dataclass

from common.jsontypes import JsonObject

#: Records kept when the caller does not say; ``config.logging.recent_lines`` overrides.
DEFAULT_CAPACITY = 2000


@dataclass(frozen=True, slots=True)
class LogLine:
    """One formatted log record."""

    seq: int
    ts: float
    level: str
    logger: str
    message: str

    def to_dict(self) -> JsonObject:
        return asdict(self)


class RecentLogHandler(logging.Handler):
    """A logging handler that keeps the most recent records in a bounded deque.

    Thread-safe: records come from the event loop and from worker threads alike.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._lines: collections.deque[LogLine] = collections.deque(maxlen=max(1, capacity))
        self._seq = 0
        self._guard = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._lines.maxlen or 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[0] is not None:
                # Keep the exception type and text, not the whole traceback: the ring
                # is for staff at a terminal, the journal (stderr) has the rest.
                exc = record.exc_info[1]
                message = f"{message} [{type(exc).__name__}: {exc}]"
        except Exception:  # a bad %-format must not break logging
            self.handleError(record)
            return
        with self._guard:
            self._seq += 1
            self._lines.append(
                LogLine(self._seq, record.created, record.levelname, record.name, message)
            )

    def lines(
        self, after: int = 0, limit: int = 200, min_level: int | str = logging.NOTSET
    ) -> list[LogLine]:
        """Records with ``seq > after`` at or above ``min_level``, oldest first, at most
        ``limit`` (the newest ones when more match)."""
        if isinstance(min_level, str):
            min_level = logging.getLevelName(min_level.upper())
            if not isinstance(min_level, int):
                min_level = logging.NOTSET
        with self._guard:
            snapshot = list(self._lines)
        picked = [
            line
            for line in snapshot
            if line.seq > after and logging.getLevelName(line.level) >= min_level
        ]
        return picked[-limit:] if limit > 0 else []

    @property
    def last_seq(self) -> int:
        with self._guard:
            return self._seq

    def clear(self) -> None:
        with self._guard:
            self._lines.clear()


def install(capacity: int = DEFAULT_CAPACITY, logger: logging.Logger | None = None) -> RecentLogHandler:
    """Attach a :class:`RecentLogHandler` to ``logger`` (the root logger by default).

    Idempotent: an already installed handler is returned (with its capacity kept).
    """
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        if isinstance(handler, RecentLogHandler):
            return handler
    handler = RecentLogHandler(capacity)
    target.addHandler(handler)
    return handler
