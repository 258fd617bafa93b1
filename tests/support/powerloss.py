"""Power loss for SQLite, the way SQLite's own crash tests simulate it.

:class:`PowerLossVFS` is an ``apsw`` VFS over the default one in which a write reaches
the disk only when the file is synced (``xSync``): until then it lives in the file's
in-memory image, like the OS page cache. :meth:`PowerLossVFS.cut` is the power going
off: from then on nothing reaches the disk (writes, syncs, truncates, deletes are
dropped), so what is on disk afterwards is exactly what was synced before the cut.
A SIGKILL cannot show this: the killed process' writes are in the page cache and
survive it, so a journal with ``synchronous=OFF`` passes a SIGKILL test.

The standard library's ``sqlite3`` and ``apsw`` link different SQLite libraries (apsw
bundles its own), so a VFS registered through apsw is not visible to ``sqlite3``
(``sqlite3.connect("file:x?vfs=powerloss", uri=True)`` fails with "no such vfs").
:class:`ApswConnection` therefore runs the journal's own statements, PRAGMAs and
transactions through apsw: it is the small part of ``sqlite3.Connection`` the journal
uses (``execute``, ``executemany``, ``total_changes``, ``close``, ``rowcount``,
``lastrowid``, sqlite3's exception types).
"""

from __future__ import annotations

import re
import sqlite3
import types
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apsw


class PowerLossVFS(apsw.VFS):
    """A VFS whose unsynced writes are lost when :meth:`cut` is called.

    Args:
        name: the VFS name to open connections with (``vfs=name``).
        cut_at: cut the power by itself at this VFS operation (writes, truncates and
            syncs counted together), or never when ``None``.
    """

    def __init__(self, name: str, *, cut_at: int | None = None) -> None:
        super().__init__(name, "")
        self.name = name
        self.cut_at = cut_at
        self.is_cut = False
        self.operations = 0
        self.syncs = 0
        self.dropped_writes = 0

    def cut(self) -> None:
        """The power goes off: nothing written from now on reaches the disk."""
        self.is_cut = True

    def _tick(self) -> bool:
        """Count one operation; whether the power is (now) off."""
        if not self.is_cut:
            self.operations += 1
            if self.cut_at is not None and self.operations >= self.cut_at:
                self.cut()
        return self.is_cut

    def xOpen(self, name: Any, flags: list[int]) -> PowerLossFile:
        return PowerLossFile(self, name, flags)

    def xDelete(self, filename: str, syncdir: bool) -> None:
        if self.is_cut:
            return
        super().xDelete(filename, syncdir)


class PowerLossFile(apsw.VFSFile):
    """One file: writes go to an in-memory image; ``xSync`` writes the dirty ranges out."""

    def __init__(self, vfs: PowerLossVFS, name: Any, flags: list[int]) -> None:
        super().__init__("", name, flags)
        self.vfs = vfs
        self.image: bytearray | None = None  # what a reader sees (the "page cache")
        self.dirty: list[tuple[int, int]] = []  # ranges written since the last sync
        self.truncated_to: int | None = None  # lowest size truncated to since the last sync

    def _load(self) -> bytearray:
        if self.image is None:
            size = super().xFileSize()
            self.image = bytearray(super().xRead(size, 0)) if size else bytearray()
        return self.image

    def xRead(self, amount: int, offset: int) -> bytes:
        if self.image is None:
            return super().xRead(amount, offset)
        # Fewer bytes than asked is a short read: apsw zero-fills, as SQLite expects.
        return bytes(self.image[offset : offset + amount])

    def xWrite(self, data: Any, offset: int) -> None:
        if self.vfs._tick():
            self.vfs.dropped_writes += 1
            return
        image = self._load()
        data = bytes(data)
        end = offset + len(data)
        if end > len(image):
            image.extend(bytes(end - len(image)))
        image[offset:end] = data
        self.dirty.append((offset, end))

    def xTruncate(self, newsize: int) -> None:
        if self.vfs._tick():
            return
        del self._load()[newsize:]
        self.truncated_to = min(newsize, self.truncated_to if self.truncated_to is not None
                                else newsize)

    def xFileSize(self) -> int:
        return len(self.image) if self.image is not None else super().xFileSize()

    def xSync(self, flags: int) -> None:
        if self.vfs._tick():
            return
        image = self.image
        if image is not None:
            ranges = list(self.dirty)
            if self.truncated_to is not None:
                # Everything past the truncation point is the image's now (or gone).
                ranges.append((self.truncated_to, len(image)))
                super().xTruncate(self.truncated_to)
            for start, end in ranges:
                end = min(end, len(image))
                if start < end:
                    super().xWrite(bytes(image[start:end]), start)
            self.dirty.clear()
            self.truncated_to = None
        super().xSync(flags)
        self.vfs.syncs += 1


# --------------------------------------------------------------------------- sqlite3 façade
_ERRORS: tuple[tuple[type[apsw.Error], type[sqlite3.Error]], ...] = (
    (apsw.ConstraintError, sqlite3.IntegrityError),
    (apsw.BusyError, sqlite3.OperationalError),
    (apsw.LockedError, sqlite3.OperationalError),
    (apsw.SQLError, sqlite3.OperationalError),
    (apsw.IOError, sqlite3.OperationalError),
)
_DML = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _sqlite3_error(err: apsw.Error) -> sqlite3.Error:
    for apsw_type, sqlite3_type in _ERRORS:
        if isinstance(err, apsw_type):
            return sqlite3_type(str(err))
    return sqlite3.DatabaseError(str(err))


class _Cursor:
    """The rows of one statement, fetched at once, with sqlite3's cursor attributes."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int, lastrowid: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class ApswConnection:
    """The part of ``sqlite3.Connection`` the journal uses, on an apsw connection.

    Args:
        path: the database file.
        vfs: the VFS to open it with.
        pragmas: replacements for the journal's own PRAGMAs, e.g.
            ``{"synchronous": "OFF"}`` turns its ``PRAGMA synchronous = FULL`` into OFF.
    """

    def __init__(self, path: str, vfs: str, pragmas: dict[str, str] | None = None) -> None:
        self._db = apsw.Connection(path, vfs=vfs)
        self._pragmas = pragmas or {}

    def _rewrite(self, sql: str) -> str:
        for name, value in self._pragmas.items():
            sql = re.sub(rf"(?i)^\s*PRAGMA\s+{name}\s*=\s*\w+\s*$", f"PRAGMA {name} = {value}", sql)
        return sql

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> _Cursor:
        try:
            rows = [tuple(r) for r in self._db.execute(self._rewrite(sql), params)]
        except apsw.Error as err:
            raise _sqlite3_error(err) from err
        rowcount = self._db.changes() if _DML.match(sql) else -1
        return _Cursor(rows, rowcount, self._db.last_insert_rowid())

    def executemany(self, sql: str, seq: Iterable[Sequence[Any] | dict[str, Any]]) -> _Cursor:
        before = self._db.total_changes()
        try:
            rows = [tuple(r) for r in self._db.executemany(sql, list(seq))]
        except apsw.Error as err:
            raise _sqlite3_error(err) from err
        return _Cursor(rows, self._db.total_changes() - before, self._db.last_insert_rowid())

    @property
    def total_changes(self) -> int:
        return self._db.total_changes()

    def close(self) -> None:
        try:
            self._db.close()
        except apsw.Error as err:
            raise _sqlite3_error(err) from err


def sqlite3_through(vfs: str, pragmas: dict[str, str] | None = None) -> types.ModuleType:
    """A stand-in for the ``sqlite3`` module whose ``connect`` opens an :class:`ApswConnection`."""
    module = types.ModuleType("sqlite3_through_apsw")
    module.__dict__.update(
        {k: v for k, v in vars(sqlite3).items() if not k.startswith("__")})

    def connect(path: Any, *args: Any, **kwargs: Any) -> ApswConnection:
        return ApswConnection(str(path), vfs, pragmas)

    module.connect = connect  # type: ignore[attr-defined]
    return module
