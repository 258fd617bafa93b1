"""Who is calling: admin users (argon2-hashed secrets, roles) and mini-program sessions.

Roles: ``head_office`` sees every store; ``store_staff`` sees one store only.
A login returns a random bearer token; only its SHA-256 is stored, with an expiry.
Mini-program sessions belong to one WeChat ``openid`` and see only its orders.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .db import rows_changed
from .errors import Conflict, Forbidden, InvalidRequest, Unauthorized
from .models import AdminUser, ApiSession, MpUser, now

HEAD_OFFICE: Role = "head_office"
STORE_STAFF: Role = "store_staff"
FINANCE: Role = "finance"  # finance clerks: ledger, bills, close, reports, payouts
BUYER: Role = "buyer"  # buyers: suppliers, purchasing, replenishment
Role = Literal["head_office", "store_staff", "finance", "buyer"]
ROLES: tuple[Role, ...] = get_args(Role)
# Roles a route admits when it names none: the store-operations roles it was built for.
OPERATIONS_ROLES = (HEAD_OFFICE, STORE_STAFF)
# Roles that may be bound to one store; without a store a finance or buyer user is
# chain-wide for their own domain (head office is always chain-wide).
STORE_BOUND_ROLES = (STORE_STAFF, FINANCE, BUYER)

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified for unknown users so that timing does not reveal which names exist.

    Made on first use (an argon2 hash costs tens of milliseconds; importing
    this module, e.g. for ``cloud-bridge --help``, should not pay it).
    """
    return _HASHER.hash("not-a-user-" + secrets.token_hex(8))


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    kind: str  # admin | mp
    username: str | None = None
    role: str | None = None
    store: str | None = None
    openid: str | None = None

    @property
    def actor(self) -> str:
        """How order history names this caller."""
        return f"admin:{self.username}" if self.kind == "admin" else f"mp:{self.openid}"

    @property
    def chain_wide(self) -> bool:
        """Head office, or a finance/buyer user bound to no store."""
        return self.role == HEAD_OFFICE or (self.role in (FINANCE, BUYER) and self.store is None)

    def store_scope(self, requested: str | None) -> str | None:
        """The store this caller may look at: ``None`` means every store (chain-wide)."""
        if self.chain_wide:
            return requested
        if requested is not None and requested != self.store:
            raise Forbidden(f"staff of {self.store} cannot see store {requested}")
        return self.store

    def check_store(self, store: str) -> None:
        if not self.chain_wide and store != self.store:
            raise Forbidden(f"staff of {self.store} cannot see store {store}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, secret)


async def verify_secret(secret_hash: str, secret: str) -> bool:
    def check() -> bool:
        try:
            return _HASHER.verify(secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


async def create_admin_user(
    session: AsyncSession, username: str, secret: str, role: str, store: str | None = None
) -> AdminUser:
    """Add a console user; store staff must name their store."""
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}")
    if role == STORE_STAFF and not store:
        raise InvalidRequest("store staff need a store")
    if role == HEAD_OFFICE:
        store = None
    if len(secret) < 8:
        raise InvalidRequest("secret must have at least 8 characters")
    if await session.scalar(select(AdminUser).where(AdminUser.username == username)):
        raise Conflict(f"user {username} exists")
    user = AdminUser(username=username, secret_hash=await hash_secret(secret), role=role,
                     store=store if role in STORE_BOUND_ROLES else None, created_at=now())
    session.add(user)
    await session.flush()
    return user


async def admin_login(
    session: AsyncSession, username: str, secret: str, ttl_s: int
) -> tuple[str, datetime, AdminUser]:
    """Check the secret and open a session; the same message for every failure."""
    user = await session.scalar(select(AdminUser).where(AdminUser.username == username))
    ok = await verify_secret(
        user.secret_hash if user else await asyncio.to_thread(_dummy_hash), secret)
    if not user or not ok or user.disabled:
        raise Unauthorized("wrong username or secret")
    token = "adm_" + secrets.token_urlsafe(32)
    expires = now() + timedelta(seconds=ttl_s)
    session.add(ApiSession(token_hash=hash_token(token), kind="admin", admin_id=user.id,
                           created_at=now(), expires_at=expires))
    return token, expires, user


async def mp_login(session: AsyncSession, openid: str, ttl_s: int) -> tuple[str, datetime]:
    """A mini-program session for ``openid`` (after code2session said who it is)."""
    user = await session.get(MpUser, openid)
    if user is None:
        session.add(MpUser(openid=openid, created_at=now(), last_login=now()))
    else:
        user.last_login = now()
    token = "mp_" + secrets.token_urlsafe(32)
    expires = now() + timedelta(seconds=ttl_s)
    session.add(ApiSession(token_hash=hash_token(token), kind="mp", openid=openid,
                           created_at=now(), expires_at=expires))
    return token, expires


async def resolve_token(session: AsyncSession, token: str) -> Principal | None:
    """The principal of a bearer token, or ``None`` if unknown or expired."""
    row = await session.get(ApiSession, hash_token(token))
    if row is None or row.expires_at <= now():
        return None
    if row.kind == "mp":
        return Principal(kind="mp", openid=row.openid)
    user = await session.get(AdminUser, row.admin_id)
    if user is None or user.disabled:
        return None
    return Principal(kind="admin", username=user.username, role=user.role, store=user.store)


async def logout(session: AsyncSession, token: str) -> None:
    await session.execute(delete(ApiSession).where(ApiSession.token_hash == hash_token(token)))


async def purge_expired(session: AsyncSession) -> int:
    return await rows_changed(session, delete(ApiSession).where(ApiSession.expires_at <= now()))
