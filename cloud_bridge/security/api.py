"""Security routes: log out, disable and enable console users, the audit trail, retention.

The login itself stays ``POST /api/v1/admin/session`` (:mod:`cloud_bridge.api_admin`),
which calls :func:`.service.login`.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from cloud_bridge import auth
from cloud_bridge.db import Database
from cloud_bridge.keys import DB_KEY
from cloud_bridge.models import AdminUser
from cloud_bridge.openapi import Call, Ident, QueryModel, RequestModel, Route, ShortText, Text
from common.jsontypes import JsonObject

from . import jobs, schemas, service

A = "/api/v1/admin"
USERNAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^\\x00/]+$"}


def _db(call: Call) -> Database:
    return call.app[DB_KEY]


def _token(call: Call) -> str:
    return call.request.headers.get("Authorization", "").partition(" ")[2].strip()


def _source(call: Call) -> str:
    return service.caller_source(call.request.remote)


async def logout(call: Call) -> web.Response:
    """End this session: the token is refused from now on."""
    await service.logout(_db(call), _token(call), call.principal, _source(call))
    return web.Response(status=204)


def _user_state(user: AdminUser) -> JsonObject:
    return {"username": user.username, "role": user.role, "store": user.store,
            "disabled": bool(user.disabled)}


class NewUser(RequestModel):
    username: ShortText
    secret: Text = Field(description="at least 8 characters; only its argon2 hash is kept")
    role: auth.Role
    store: Ident | None = None


async def create_user(call: Call) -> JsonObject:
    """Add a console user (head office); store staff need a store."""
    b = call.body_as(NewUser)
    user = await service.create_user(_db(call), call.principal, b.username, b.secret, b.role,
                                      b.store, _source(call))
    return _user_state(user)


async def disable_user(call: Call) -> JsonObject:
    """Disable a console user and end all of its sessions (head office)."""
    user = await service.set_disabled(_db(call), call.principal, call.path["username"], True,
                                      _source(call))
    return _user_state(user)


async def enable_user(call: Call) -> JsonObject:
    """Re-enable a console user and lift a login lockout (head office)."""
    user = await service.set_disabled(_db(call), call.principal, call.path["username"], False,
                                      _source(call))
    return _user_state(user)


class AuditQuery(QueryModel):
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


async def audit_trail(call: Call) -> JsonObject:
    """Security audit lines, newest first (head office)."""
    async with _db(call).read() as s:
        q = call.query_as(AuditQuery)
        rows = await service.list_audit(s, q.limit, q.offset)
    return {"items": [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                       "subject": r.subject, "source": r.source, "detail": r.detail}
                      for r in rows]}


async def purge(call: Call) -> JsonObject:
    """Run retention now: expired sessions, old replay keys, events, audit (head office)."""
    return {"deleted": await jobs.run_retention(_db(call))}


HEAD = (auth.HEAD_OFFICE,)
ROUTES = [
    Route("POST", f"{A}/users", create_user, "Add a console user", "admin", auth="admin",
          roles=HEAD, body=NewUser, status=201, response=schemas.UserState),
    Route("DELETE", f"{A}/session", logout, "Log out (end this token)", "admin", auth="admin",
          roles=auth.ROLES, status=204, response_type=None),
    Route("POST", f"{A}/users/{{username}}/disable", disable_user, "Disable a console user",
          "admin", auth="admin", roles=HEAD, path_params={"username": USERNAME},
          response=schemas.UserState),
    Route("POST", f"{A}/users/{{username}}/enable", enable_user,
          "Enable a console user and lift its lockout", "admin", auth="admin", roles=HEAD,
          path_params={"username": USERNAME}, response=schemas.UserState),
    Route("GET", f"{A}/security/audit", audit_trail, "Security audit trail", "admin",
          auth="admin", roles=HEAD, query=AuditQuery, response=schemas.AuditList),
    Route("POST", f"{A}/security/purge", purge, "Run retention now", "admin", auth="admin",
          roles=HEAD, response=schemas.Purged),
]
