"""Live-push fan-out of chat messages across bridge workers (DESIGN.md "Live pushes").

A signal says only "conversation C of store S has a message with seq N"; a connection
that hears it reads what it has not sent yet from the database, so a lost, late or
repeated signal never loses, repeats or reorders a message, and a periodic poll
(``POLL_S``) covers a signal that never came (a worker on another machine's SQLite is
not a thing; several workers share PostgreSQL).

* :class:`LocalHub`: in-process, for one worker on SQLite.
* :class:`PgNotifyHub`: PostgreSQL ``LISTEN/NOTIFY``. The ``NOTIFY`` is sent inside the
  transaction that stores the message, so it goes out exactly when the message commits
  and never for a message that rolled back; every worker's listener fans it out to its
  own connections.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

CHANNEL = "svc_chat"
# How often a connection reads the database even without a signal: the upper bound of
# delivery delay if a notification is lost (a listener reconnecting, a worker restart).
POLL_S = 2.0
# Listener reconnect backoff after PostgreSQL dropped the LISTEN connection.
RECONNECT_S = 1.0


@dataclass(frozen=True, slots=True)
class Signal:
    conversation_id: int
    store: str
    seq: int

    def encode(self) -> str:
        return json.dumps({"c": self.conversation_id, "s": self.store, "q": self.seq})

    @classmethod
    def decode(cls, payload: str) -> Signal | None:
        try:
            obj = json.loads(payload)
            return cls(int(obj["c"]), str(obj["s"]), int(obj["q"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(eq=False)
class Subscriber:
    """One connection's inbox: the conversations it follows (or a whole store's)."""

    store: str | None = None
    conversations: set[int] = field(default_factory=set)
    pending: set[int] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, sig: Signal) -> None:
        if sig.conversation_id in self.conversations or (
                self.store is not None and sig.store == self.store):
            self.pending.add(sig.conversation_id)
            self.wake.set()


class Hub(Protocol):
    def subscribe(self, sub: Subscriber) -> None: ...
    def unsubscribe(self, sub: Subscriber) -> None: ...
    async def in_transaction(self, session: AsyncSession, sig: Signal) -> None: ...
    def after_commit(self, sig: Signal) -> None: ...


class LocalHub:
    """Fan-out inside one process."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()

    async def __aenter__(self) -> LocalHub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.subscribers.clear()

    def subscribe(self, sub: Subscriber) -> None:
        self.subscribers.add(sub)

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def dispatch(self, sig: Signal) -> None:
        for sub in list(self.subscribers):
            sub.offer(sig)

    async def in_transaction(self, session: AsyncSession, sig: Signal) -> None:
        return None

    def after_commit(self, sig: Signal) -> None:
        self.dispatch(sig)


class PgNotifyHub(LocalHub):
    """``LISTEN svc_chat`` on one dedicated asyncpg connection per worker."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._conn = None
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def __aenter__(self) -> PgNotifyHub:
        self._task = asyncio.create_task(self._listen(), name="svc-chat-listen")
        try:
            await asyncio.wait_for(self.listening.wait(), timeout=10)
        except TimeoutError:
            log.warning("chat fan-out: LISTEN not up yet; polling until it is")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await super().__aexit__(*exc)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        # asyncpg's listener callback: (connection, sender pid, channel, payload).
        sig = Signal.decode(payload)
        if sig is not None:
            self.dispatch(sig)

    async def _listen(self) -> None:
        import asyncpg

        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
                try:
                    await conn.add_listener(CHANNEL, self._on_notify)
                    self.listening.set()
                    closed = asyncio.Event()
                    conn.add_termination_listener(lambda _c, ev=closed: ev.set())
                    await closed.wait()
                finally:
                    self.listening.clear()
                    await conn.close(timeout=2)
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as err:
                log.warning("chat fan-out: LISTEN connection lost (%s); retrying", err)
            # Everything that happened meanwhile is read by the connections' polls.
            await asyncio.sleep(RECONNECT_S)

    async def in_transaction(self, session: AsyncSession, sig: Signal) -> None:
        await session.execute(text("SELECT pg_notify(:channel, :payload)"),
                              {"channel": CHANNEL, "payload": sig.encode()})

    def after_commit(self, sig: Signal) -> None:
        return None  # the NOTIFY went out with the commit, to every worker including this one
