"""Users and roles (head office): who may use the console and the admin API, and where."""

from __future__ import annotations

from sqlalchemy import select

from cloud_bridge import auth
from cloud_bridge.errors import BridgeError, Conflict, NotFound
from cloud_bridge.models import AdminUser
from common.jsontypes import JsonObject

from .. import sessions
from ..call import PageCall
from .dashboard import visible_stores


async def users_page(call: PageCall, *, error: str | None = None, done: str | None = None,
                     status: int = 200) -> JsonObject:
    async with call.db.session() as s:
        users = (await s.scalars(select(AdminUser).order_by(AdminUser.username))).all()
    return {"users": users, "roles": auth.ROLES, "stores": await visible_stores(call),
            "error": error, "done": done, "status": status, "template": "users.html"}


async def users(call: PageCall) -> JsonObject:
    return await users_page(call)


async def user_add(call: PageCall) -> JsonObject:
    username = call.ident("username")
    role = call.arg("role")
    store = call.ident("store")
    secret = call.arg("secret", "", max_len=500) or ""
    try:
        if username is None:
            raise Conflict("username is needed")
        async with call.db.session() as s:
            user = await auth.create_admin_user(s, username, secret, role or "", store)
            role, store = user.role, user.store
    except BridgeError as err:
        await call.audit("user.add", username or "?", "refused", detail={"error": err.detail})
        return await users_page(call, error=err.detail, status=err.status)
    await call.audit("user.add", username, "ok", store=store, detail={"role": role})
    return await users_page(call, done=username)


async def user_toggle(call: PageCall) -> JsonObject:
    """Disable (and log out everywhere) or enable a user; nobody disables themselves."""
    user_id = call.path["user_id"]
    async with call.db.session() as s:
        user = await s.get(AdminUser, int(user_id)) if user_id.isdigit() else None
        if user is None:
            raise NotFound(f"user {user_id} not found")
        if user.id == call.active.user.id:
            return await users_page(call, error="you cannot disable yourself", status=409)
        # AdminUser has no service function for this; the flag is what auth checks.
        user.disabled = not user.disabled
        if user.disabled:
            await sessions.end_user_sessions(s, user.id)
        name, disabled, store = user.username, user.disabled, user.store
    await call.audit("user.disable" if disabled else "user.enable", name, "ok", store=store)
    return await users_page(call, done=name)
