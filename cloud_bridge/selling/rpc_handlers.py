"""Kiosk RPCs of the selling domain: ``parked.take`` (a kiosk takes over a parked cart of
its own store; :func:`.parked.take_at_kiosk`). The store is the calling kiosk's, from
its topic: a park number of another store is simply not found."""

from __future__ import annotations

import re
from typing import Any

from cloud_bridge import rpc
from cloud_bridge.errors import Conflict, NotFound
from contract.wire import rpc as wire_rpc

from .parked import take_at_kiosk

_PARK_NO = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


async def take(ctx: rpc.RpcContext, params: dict[str, Any]) -> dict[str, Any]:
    park_no = params.get("park_no")
    if not isinstance(park_no, str) or not _PARK_NO.match(park_no):
        raise rpc.RpcFailure(rpc.BAD_REQUEST, "park_no must be a park number")
    if ctx.db is None:
        raise rpc.RpcFailure(rpc.INTERNAL, "no database")
    try:
        async with ctx.db.session() as s:
            return await take_at_kiosk(s, ctx.store, ctx.kiosk, park_no)
    except NotFound as err:
        raise rpc.RpcFailure("not_found", str(err.detail if hasattr(err, "detail") else err)) \
            from None
    except Conflict as err:
        raise rpc.RpcFailure("already_settled",
                             str(err.detail if hasattr(err, "detail") else err)) from None


def register() -> None:
    rpc.register(wire_rpc.PARKED_TAKE, take, replace=True)


register()
