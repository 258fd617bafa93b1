"""Console sessions: random ids in a cookie, only their SHA-256 stored, CSRF per session.

* Login always creates a new session id and deletes the one the browser came with,
  so an id planted before login (session fixation) never becomes a logged-in one.
* A session ends after ``idle_timeout_s`` without use or ``session_ttl_s`` after login.
* Every state-changing request carries the session's synchronizer CSRF token; the
  login form itself (no session yet) uses a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.db import rows_changed
from cloud_bridge.models import AdminUser, now

from .config import ConsoleSection
from .models import ConsoleSession

COOKIE = "cb_console"
LOGIN_CSRF_COOKIE = "cb_console_login"
# last_seen is written at most this often: a page view should not cost a durable
# write every time (SQLite runs synchronous=FULL), and the idle timeout is minutes.
TOUCH_EVERY_S = 30


def hash_id(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def same(a: object, b: str | None) -> bool:
    """Constant-time comparison of a sent token with the expected one.

    ``a`` is whatever the request carried (a form field may be a file upload): ``False``
    unless both are non-empty text.
    """
    if not (isinstance(a, str) and a and b):
        return False
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(slots=True)
class Active:
    """A resolved, live session and its user."""

    row: ConsoleSession
    user: AdminUser

    @property
    def principal(self) -> auth.Principal:
        u = self.user
        return auth.Principal(kind="admin", username=u.username, role=u.role, store=u.store)


async def login(session: AsyncSession, cfg: ConsoleSection, username: str, secret: str,
                old_ids: list[str], language: str) -> tuple[str, Active]:
    """Check the secret (:func:`auth.admin_login`) and open a fresh console session.

    Raises:
        cloud_bridge.errors.Unauthorized: wrong username/secret or disabled user.
    """
    # The API's login does the argon2 check (and its timing guard); its bearer token
    # is not needed here and is dropped in the same transaction.
    token, _, user = await auth.admin_login(session, username, secret, 60)
    await auth.logout(session, token)
    if old_ids:  # rotation: whatever id the browser came with dies here
        await session.execute(delete(ConsoleSession).where(
            ConsoleSession.id_hash.in_([hash_id(raw) for raw in old_ids])))
    raw = secrets.token_urlsafe(32)
    at = now()
    row = ConsoleSession(id_hash=hash_id(raw), admin_id=user.id,
                         csrf_token=secrets.token_urlsafe(32), language=language,
                         created_at=at, last_seen=at,
                         expires_at=at + timedelta(seconds=cfg.session_ttl_s))
    session.add(row)
    return raw, Active(row, user)


async def resolve(session: AsyncSession, cfg: ConsoleSection, raw: str | None,
                  touch: bool = True) -> Active | None:
    """The live session of cookie value ``raw``; expired or idle ones are deleted."""
    if not raw or len(raw) > 128:
        return None
    row = await session.get(ConsoleSession, hash_id(raw))
    if row is None:
        return None
    at = now()
    if row.expires_at <= at or (at - row.last_seen).total_seconds() > cfg.idle_timeout_s:
        await session.delete(row)
        return None
    user = await session.get(AdminUser, row.admin_id)
    if user is None or user.disabled:
        await session.delete(row)
        return None
    if touch and (at - row.last_seen).total_seconds() >= TOUCH_EVERY_S:
        row.last_seen = at
    return Active(row, user)


async def end(session: AsyncSession, raw: str | None) -> None:
    if raw:
        await session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == hash_id(raw)))


async def end_user_sessions(session: AsyncSession, admin_id: int) -> None:
    """Log a user out everywhere (when head office disables the user)."""
    await session.execute(delete(ConsoleSession).where(ConsoleSession.admin_id == admin_id))


async def purge(session: AsyncSession) -> int:
    return await rows_changed(
        session, delete(ConsoleSession).where(ConsoleSession.expires_at <= now()))


async def count_for(session: AsyncSession, admin_id: int) -> int:
    rows = await session.scalars(select(ConsoleSession.id_hash).where(
        ConsoleSession.admin_id == admin_id))
    return len(rows.all())
