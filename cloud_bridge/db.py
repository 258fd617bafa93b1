"""Database engine and sessions: SQLite (aiosqlite, embedded default) or PostgreSQL (asyncpg).

SQLite runs in WAL mode and opens every write transaction with ``BEGIN IMMEDIATE``
so that two writers (several workers on one file) wait on ``busy_timeout`` instead
of failing half-way through a transaction (SQLAlchemy's documented aiosqlite recipe).
Reads (:meth:`Database.read`) open a deferred ``BEGIN``: in WAL mode they never take
the write lock, so token checks and listings cannot queue behind (or in front of)
the money path.

:meth:`Database.transact_sync` runs a synchronous SQLAlchemy Core transaction. On a
SQLite file it is ONE call into a thread of its own (a ``pysqlite`` engine on the same
file, same pragmas and ``BEGIN IMMEDIATE``): aiosqlite hops between the event loop and
its thread for every statement, and under load each hop waits for a busy loop, which
made those hops, not SQLite, most of a short transaction's time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy import (
    Enum,
    String,
    Table,
    Text,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine
from sqlalchemy.engine.interfaces import BindTyping
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from .errors import NotFound
from .models import Base

if TYPE_CHECKING:
    from .config import BridgeConfig

log = logging.getLogger(__name__)

T = TypeVar("T")
RowT = TypeVar("RowT")

# Backoff between retries of a transaction that lost a lock race (deadlock on
# PostgreSQL, "database is locked" on SQLite): short, the other side commits fast.
RETRY_BASE_S = 0.02
# Execution option of read sessions: SQLite begins them deferred (no write lock).
READ_ONLY_OPTION = "bridge_read_only"


class DatabaseError(Exception):
    """The database cannot be opened or used."""


class Database:
    """One engine plus a session factory; an async context manager."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 5,
        max_overflow: int = 5,
        busy_timeout_ms: int = 10000,
    ) -> None:
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        self.engine: AsyncEngine
        if self.dialect == "sqlite":
            _ensure_sqlite_dir(url)
            self.engine = create_async_engine(url, echo=echo)
        else:
            self.engine = create_async_engine(url, echo=echo, pool_size=pool_size,
                                              max_overflow=max_overflow, pool_pre_ping=True)
        # transact_sync on a SQLite file: a pysqlite engine and the one thread it runs in.
        self._sync_engine: Engine | None = None
        self._sync_thread: ThreadPoolExecutor | None = None
        if self.dialect == "sqlite":
            _sqlite_pragmas(self.engine.sync_engine, busy_timeout_ms)
            if _is_sqlite_file(self.engine.url.database, self.engine.url.query):
                self._sync_engine = create_engine(
                    self.engine.url.set(drivername="sqlite+pysqlite"), echo=echo)
                _sqlite_pragmas(self._sync_engine, busy_timeout_ms)
                self._sync_thread = ThreadPoolExecutor(1, thread_name_prefix="db-sync")
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Same pool and listeners; the option tells _on_begin to defer the lock.
        self.read_sessions = async_sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._sync_thread is not None:
            self._sync_thread.shutdown(wait=True)
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        await self.engine.dispose()

    async def create_all(self) -> None:
        """Create every table (tests and throwaway databases; production uses migrate)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only: a deferred transaction, ended (rolled back) on close.

        Objects read stay usable afterwards (closing detaches them without expiring).
        Never write in it: on SQLite a write inside a deferred transaction can fail
        with "database is locked" without waiting (the snapshot is stale).
        """
        async with self.read_sessions() as session:
            yield session

    async def transact(
        self, work: Callable[[AsyncSession], Awaitable[T]], retries: int = 5
    ) -> T:
        """Run ``work(session)`` in one transaction, retried on lock conflicts."""
        attempt = 0
        while True:
            try:
                async with self.session() as session:
                    return await work(session)
            except (OperationalError, DBAPIError) as err:
                if attempt >= retries or not _retryable(err):
                    raise
                attempt += 1
                log.warning("transaction conflict (%s), retry %d", _short(err), attempt)
                await asyncio.sleep(RETRY_BASE_S * 2**attempt)

    async def transact_sync(self, work: Callable[[Connection], T], retries: int = 5) -> T:
        """Run the synchronous ``work(connection)`` (SQLAlchemy Core) in one transaction,
        committed before this returns; retried on lock conflicts like :meth:`transact`.

        On a SQLite file the whole transaction, from ``BEGIN IMMEDIATE`` to the commit,
        is one call into this database's own thread: its statements run back to back
        without waiting for the event loop between them. Elsewhere (PostgreSQL, an
        in-memory SQLite) it runs on the async engine through ``run_sync``.
        """
        attempt = 0
        while True:
            try:
                if self._sync_thread is not None:
                    loop = asyncio.get_running_loop()
                    return await loop.run_in_executor(self._sync_thread, self._run_sync, work)
                async with self.engine.begin() as conn:
                    return await conn.run_sync(work)
            except (OperationalError, DBAPIError) as err:
                if attempt >= retries or not _retryable(err):
                    raise
                attempt += 1
                log.warning("transaction conflict (%s), retry %d", _short(err), attempt)
                await asyncio.sleep(RETRY_BASE_S * 2**attempt)

    def _run_sync(self, work: Callable[[Connection], T]) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as conn:
            return work(conn)


def _is_sqlite_file(database: str | None, query: Mapping[str, object]) -> bool:
    """Whether a SQLite URL names a file (not ``:memory:``, not a ``file:`` URI): one
    that a second engine opens as the same database."""
    return bool(database) and database != ":memory:" and not (
        database or "").startswith("file:") and "uri" not in query


def _retryable(err: Exception) -> bool:
    text = str(err).lower()
    return any(
        needle in text
        for needle in ("deadlock", "database is locked", "could not serialize", "serialization")
    )


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:160]


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


class _PragmaCursor(Protocol):
    """What the connect hook uses of a DB-API cursor."""

    def execute(self, operation: str) -> object: ...

    def close(self) -> object: ...


class _SqliteDbapiConnection(Protocol):
    """What the connect hook uses of a SQLite DB-API connection (pysqlite or aiosqlite's)."""

    isolation_level: str | None

    def cursor(self) -> _PragmaCursor: ...


def _sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: _SqliteDbapiConnection, _record: object) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions defer locking).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL, not NORMAL: a payment attempt must be on disk before the provider is
        # called, and an event before it is acked to the kiosk, even across a power cut.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


BulkRows = Sequence[Mapping[str, object]]


def bulk_insert(
    session: AsyncSession, model: type[Base], rows: BulkRows
) -> tuple[sqlite.Insert | postgresql.Insert, BulkRows | dict[str, list[object]]]:
    """An ``INSERT`` of many rows for the session's backend: ``(statement, parameters)``.

    Chain ``on_conflict_do_*`` and ``returning`` on the statement as usual, then
    ``session.execute(statement, parameters)``. Every row has the keys of the first.

    On PostgreSQL the rows go as one array per column into
    ``INSERT ... SELECT unnest($1::type[]), ...``: one statement text whatever the
    number of rows, so asyncpg prepares it once and the server plans it once
    (``executemany`` renders a new multi-row ``VALUES`` text, and a new prepared
    statement, for every batch size). On SQLite it is ``executemany``.
    """
    table = table_of(model)
    if session.get_bind().dialect.name != "postgresql":
        return sqlite.insert(table), rows
    names = list(rows[0]) if rows else [c.name for c in table.columns]
    columns = [table.c[n] for n in names]
    # dimensions=1: the bind processor maps the items without probing each for nesting.
    # Strings go as text[]: an explicit cast to varchar(n)[] would silently TRUNCATE a
    # longer value, while the INSERT's own assignment to the column refuses it.
    arrays = [postgresql.ARRAY(_uncapped(c.type), dimensions=1) for c in columns]
    source = select(*(
        func.unnest(cast(bindparam(f"bulk_{c.name}", type_=a), a))
        for c, a in zip(columns, arrays, strict=True)
    ))
    params = {f"bulk_{n}": [r[n] for r in rows] for n in names}
    return postgresql.insert(table).from_select(names, source), params


# PostgreSQL statements frozen by compiled_once, by the caller's key.
_FROZEN: dict[tuple[str, ...], Executable] = {}


def _named_pg() -> Dialect:
    """PostgreSQL compiling ``:name`` parameters, the form ``text()`` reads back, without
    ``::type`` casts after them (the executing driver's dialect adds its own)."""
    dialect = postgresql.dialect(paramstyle="named")
    dialect.bind_typing = BindTyping.NONE
    return dialect


_NAMED_PG = _named_pg()


def compiled_once(session: AsyncSession, key: tuple[str, ...],
                  build: Callable[[], UpdateBase]) -> Executable:
    """``build()``'s statement, compiled once per process on PostgreSQL.

    SQLAlchemy 2.0 never caches the compiled form of the dialect's own ``INSERT``
    (``postgresql.insert``, the one that has ``ON CONFLICT``, is ``inherit_cache = False``),
    so every ingest batch compiled its six bulk statements again: storing a batch of 200
    sales on PostgreSQL took 76 ms of CPU, 62 ms with them compiled once. Here the
    statement is compiled once into a text statement with the same typed parameters and
    result columns, which the engine's compiled cache then keeps like any other.

    ``key`` names the statement and everything ``build`` depends on (with
    :func:`bulk_insert`, the columns of its rows). Elsewhere (SQLite) ``build()`` is
    returned as is.
    """
    if session.get_bind().dialect.name != "postgresql":
        return build()
    frozen = _FROZEN.get(key)
    if frozen is None:
        frozen = _FROZEN[key] = _freeze(build())
    return frozen


def _freeze(statement: UpdateBase) -> Executable:
    compiled = statement.compile(dialect=_NAMED_PG)
    if compiled.insert_prefetch or compiled.update_prefetch:
        # Python-side defaults are evaluated per execution, which a text cannot do.
        raise ValueError(f"{statement} has Python-side defaults; it cannot be frozen")
    binds = [bindparam(name, b.value, type_=b.type, required=b.required)
             for name, b in compiled.binds.items()]
    frozen = text(compiled.string).bindparams(*binds)
    returning: list[ColumnElement[object]] = list(statement.exported_columns)
    return frozen.columns(*returning) if returning else frozen


def _uncapped(kind: TypeEngine[T]) -> TypeEngine[T] | Text:
    """``kind`` without a length cap (a ``String(n)`` becomes ``Text``)."""
    if isinstance(kind, String) and kind.length and not isinstance(kind, Enum):
        return Text()
    return kind


def open_database(config: BridgeConfig) -> Database:
    """A :class:`Database` from a :class:`cloud_bridge.config.BridgeConfig`."""
    db = config.database
    return Database(
        config.database_url(),
        echo=db.echo,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        busy_timeout_ms=db.sqlite_busy_timeout_ms,
    )


async def rows_changed(session: AsyncSession, statement: UpdateBase) -> int:
    """Run an INSERT, UPDATE or DELETE and say how many rows it changed.

    The compare-and-set writes (claim a coupon, take a slot, win a payment) read the
    count to know whether they won. SQLAlchemy types ``execute`` as ``Result`` whatever
    the statement; a DML statement's result is a ``CursorResult``, which has the count.
    """
    result = await session.execute(statement)
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(statement).__name__} returned rows, not a row count")
    return int(result.rowcount or 0)


async def get_row(session: AsyncSession, model: type[RowT], key: object) -> RowT:
    """The row of ``model`` with primary key ``key``, which must exist.

    For rows a foreign key or an earlier step vouches for (a slot's service, a refund
    request's order): ``session.get`` is typed ``Optional``, and a row that vanished
    anyway is answered as not found rather than as an ``AttributeError`` on ``None``.
    """
    row = await session.get(model, key)
    if row is None:
        raise NotFound(f"{model.__name__} {key} not found")
    return row


def table_of(model: type[Base]) -> Table:
    """The Core table of an ORM model, typed (``model.__table__`` is typed ``FromClause``).

    For bulk statements that skip the ORM's per-row bookkeeping.
    """
    return model.metadata.tables[model.__tablename__]
