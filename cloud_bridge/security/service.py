"""Security rules: admin login with throttling and lockout, revocation, audit lines.

The login never holds a database transaction while argon2 runs: the user row and
the lockout state are read in a deferred (read-only) transaction, the secret is
verified in the bounded :class:`.throttle.HashPool`, and only then a short write
records the failure or opens the session. A flood of wrong secrets therefore costs
the money path nothing but the short failure writes, which the throttles bound.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.db import Database
from cloud_bridge.errors import Conflict, NotFound, TooManyRequests, Unauthorized
from cloud_bridge.models import AdminUser, ApiSession, Base, now

from .models import AuditLine, LoginFailure
from .throttle import HashPool, TokenBuckets, retry_after

log = logging.getLogger(__name__)

WRONG = "wrong username or secret"  # one message for every failure: names do not leak


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How hard the admin login pushes back (tests shrink these)."""

    max_failures: int = 5  # wrong secrets in a row before a lockout: a typo or two is fine
    lockout_s: int = 300  # long enough to make guessing useless, short for a real user
    source_burst: int = 20  # attempts one address may make at once (a shop's NAT: several)
    source_per_min: float = 20.0
    user_burst: int = 5  # attempts on one username at once: never past max_failures
    user_per_min: float = 10.0
    # One argon2 thread: logins are rare, and the event loop (the money path) keeps a core.
    hash_workers: int = 1
    hash_queue: int = 8  # logins waiting for it before one is answered 429


@dataclass
class LoginGuard:
    """The per-worker throttles of the admin login."""

    settings: LoginLimits = field(default_factory=LoginLimits)
    by_source: TokenBuckets = field(init=False)
    by_user: TokenBuckets = field(init=False)
    hashes: HashPool = field(init=False)

    def __post_init__(self) -> None:
        self.apply(self.settings)

    def apply(self, limits: LoginLimits) -> None:
        """Use ``limits`` from now on (fresh buckets; tests shrink the limits)."""
        self.settings = s = limits
        if hasattr(self, "hashes"):
            self.hashes.close()
        self.by_source = TokenBuckets(s.source_burst, s.source_per_min)
        self.by_user = TokenBuckets(s.user_burst, s.user_per_min)
        self.hashes = HashPool(s.hash_workers, s.hash_queue)

    def close(self) -> None:
        self.hashes.close()


async def audit(session: AsyncSession, actor: str, action: str, subject: str,
                source: str | None = None, detail: str = "") -> None:
    """One audit line in the table and the log (never a secret in ``detail``)."""
    session.add(AuditLine(at=now(), actor=actor[:128], action=action[:32],
                          subject=subject[:128], source=(source or None) and source[:64],
                          detail=detail[:500]))
    log.warning("audit: %s %s %s from %s %s", actor, action, subject, source or "-", detail)


def _insert(session: AsyncSession, table: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` of the session's backend (both have ``ON CONFLICT DO NOTHING``)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _check(secret_hash: str, secret: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return auth._HASHER.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


async def login(db: Database, guard: LoginGuard, username: str, secret: str,
                source: str, ttl_s: int) -> tuple[str, datetime, AdminUser]:
    """Check the secret and open a session, or raise 401 / 429 (with Retry-After).

    Args:
        db: the bridge database.
        guard: this worker's throttles.
        username: as typed.
        secret: as typed (never logged).
        source: the caller's address (the throttle key of the source).
        ttl_s: session lifetime.
    """
    wait = guard.by_source.take(source)
    if wait:
        raise TooManyRequests("too many login attempts from this address", retry_after(wait))
    wait = guard.by_user.take(username)
    if wait:
        raise TooManyRequests("too many login attempts for this user", retry_after(wait))
    with guard.hashes.place():  # before any database work: a flood beyond it costs nothing
        user = await _verify(db, guard, username, secret, source)
    guard.by_source.give_back(source)
    guard.by_user.give_back(username)
    token = "adm_" + secrets.token_urlsafe(32)
    expires = now() + timedelta(seconds=ttl_s)

    async def open_session(s: AsyncSession) -> None:
        await s.execute(delete(LoginFailure).where(LoginFailure.username == username))
        s.add(ApiSession(token_hash=auth.hash_token(token), kind="admin", admin_id=user.id,
                         created_at=now(), expires_at=expires))

    await db.transact(open_session)
    return token, expires, user


async def verify_user(db: Database, guard: LoginGuard, username: str, secret: str,
                      source: str) -> AdminUser:
    """Check a console user's secret with the login's throttles and lockout, opening no
    session (a second person approving at the counter); raise 401 / 429 like a login."""
    for bucket, key, what in ((guard.by_source, source, "address"),
                              (guard.by_user, username, "user")):
        wait = bucket.take(key)
        if wait:
            raise TooManyRequests(f"too many attempts for this {what}", retry_after(wait))
    with guard.hashes.place():
        user = await _verify(db, guard, username, secret, source)
    guard.by_source.give_back(source)
    guard.by_user.give_back(username)
    return user


async def _verify(db: Database, guard: LoginGuard, username: str, secret: str,
                  source: str) -> AdminUser:
    async with db.read() as s:
        user = await s.scalar(select(AdminUser).where(AdminUser.username == username))
        failure = await s.get(LoginFailure, username)
    if failure is not None and failure.locked_until and failure.locked_until > now():
        left = (failure.locked_until - now()).total_seconds()
        raise TooManyRequests("locked after too many wrong secrets", retry_after(left))
    secret_hash = user.secret_hash if user else await guard.hashes.run(auth._dummy_hash)
    ok = await guard.hashes.run(_check, secret_hash, secret)
    if not ok or user is None or user.disabled:
        await db.transact(lambda s: _record_failure(s, username, source, guard.settings))
        raise Unauthorized(WRONG)
    return user


async def _record_failure(s: AsyncSession, username: str, source: str,
                          settings: LoginLimits) -> None:
    await s.execute(_insert(s, LoginFailure).values(
        username=username, failures=0, last_failure_at=now()).on_conflict_do_nothing())
    row = await s.get(LoginFailure, username, with_for_update=True, populate_existing=True)
    assert row is not None
    at = now()
    if row.locked_until is not None and row.locked_until <= at:  # a lockout ran out
        row.failures, row.locked_until = 0, None
    row.failures += 1
    row.last_failure_at = at
    if row.failures >= settings.max_failures and row.locked_until is None:
        row.locked_until = at + timedelta(seconds=settings.lockout_s)
        await audit(s, "system", "login.lockout", username, source,
                    f"{row.failures} wrong secrets; locked {settings.lockout_s}s")


async def logout(db: Database, token: str, principal: auth.Principal, source: str) -> None:
    """End the caller's own session (the token stops working at once)."""
    async def work(s: AsyncSession) -> None:
        await auth.logout(s, token)
        await audit(s, principal.actor, "logout", principal.actor, source)

    await db.transact(work)


async def set_disabled(db: Database, principal: auth.Principal, username: str,
                       disabled: bool, source: str) -> AdminUser:
    """Disable (and sign out everywhere) or re-enable a console user; enabling also unlocks."""
    async def work(s: AsyncSession) -> AdminUser:
        user = await s.scalar(select(AdminUser).where(AdminUser.username == username))
        if user is None:
            raise NotFound(f"no user {username}")
        if disabled and user.username == principal.username:
            raise Conflict("you cannot disable yourself")
        await s.execute(update(AdminUser).where(AdminUser.id == user.id)
                        .values(disabled=disabled))
        user.disabled = disabled
        if disabled:
            await s.execute(delete(ApiSession).where(ApiSession.admin_id == user.id))
        else:
            await s.execute(delete(LoginFailure).where(LoginFailure.username == username))
        await audit(s, principal.actor, "user.disable" if disabled else "user.enable",
                    username, source)
        return user

    return await db.transact(work)


async def create_user(db: Database, principal: auth.Principal, username: str, secret: str,
                      role: str, store: str | None, source: str) -> AdminUser:
    """A new console user (head office through the API), with an audit line."""
    async def work(s: AsyncSession) -> AdminUser:
        user = await auth.create_admin_user(s, username, secret, role, store)
        await audit(s, principal.actor, "user.create", username, source, f"role {role}")
        return user

    return await db.transact(work)


async def list_audit(session: AsyncSession, limit: int, offset: int) -> list[AuditLine]:
    rows = await session.scalars(select(AuditLine).order_by(AuditLine.id.desc())
                                 .limit(limit).offset(offset))
    return list(rows)


async def purge_expired_sessions(session: AsyncSession) -> int:
    """Delete expired admin and mini-program sessions; the number deleted."""
    return await auth.purge_expired(session)


def caller_source(remote: str | None) -> str:
    """The throttle key of a caller: its address (never a forwarded header, which it sets)."""
    return (remote or "unknown")[:64]
