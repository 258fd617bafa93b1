"""Kiosk -> cloud requests (``rpc/req``): a registry of handlers by method name.

Other parts of the bridge register their methods at import time::

    from cloud_bridge import rpc

    async def charge(ctx: rpc.RpcContext, params: dict) -> dict:
        ...
        raise rpc.RpcFailure("insufficient_funds", "余额不足 / insufficient balance")

    rpc.register("payment.charge", charge)

Modules listed in ``[rpc] handler_modules`` of the bridge config are imported at
start. The ingest decodes each request, calls :func:`dispatch` and publishes the
reply on the kiosk's ``rpc/res`` with the request's correlation data. An unknown
method, a handler failure or a request past its deadline gets an error reply
(``unknown_method``, the handler's code or ``internal``, ``deadline_exceeded``);
a request that cannot be decoded gets ``bad_request`` when its id is readable.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from common.jsontypes import JsonMapping, JsonObject
from contract.wire.base import utcnow
from contract.wire.rpc import RpcError, RpcRequest, RpcResponse

if TYPE_CHECKING:
    from .config import BridgeConfig
    from .db import Database
    from .services import BridgeServices

log = logging.getLogger(__name__)

UNKNOWN_METHOD = "unknown_method"
BAD_REQUEST = "bad_request"
DEADLINE_EXCEEDED = "deadline_exceeded"
INTERNAL = "internal"


@dataclass(slots=True)
class RpcContext:
    """What a handler knows about the request and the bridge it runs in."""

    store: str
    kiosk: str
    request_id: str
    method: str
    deadline: datetime
    db: Database | None = None
    config: BridgeConfig | None = None
    publish: Callable[..., Awaitable[None]] | None = None  # publish(topic, payload, qos=1)
    services: BridgeServices | None = None  # the app's shared services (payments, ...)

    def seconds_left(self) -> float:
        return (self.deadline - utcnow()).total_seconds()


Handler = Callable[[RpcContext, JsonObject], Awaitable[JsonMapping]]


class RpcFailure(Exception):
    """Raised by a handler for an expected failure: replied as ``{code, message}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


_HANDLERS: dict[str, Handler] = {}


def register(method: str, handler: Handler, *, replace: bool = False) -> None:
    """Serve ``method`` with ``handler(ctx, params) -> dict``."""
    if not method or len(method) > 64:
        raise ValueError("method must be 1-64 characters")
    if method in _HANDLERS and not replace and _HANDLERS[method] is not handler:
        raise ValueError(f"rpc method {method!r} is already registered")
    _HANDLERS[method] = handler


def unregister(method: str) -> None:
    _HANDLERS.pop(method, None)


def registered_methods() -> list[str]:
    return sorted(_HANDLERS)


def load_handler_modules(modules: list[str]) -> list[str]:
    """Import each module (which registers its handlers); missing ones are logged, skipped."""
    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and name.startswith(err.name):
                log.info("rpc handler module %s not installed; skipped", name)
                continue
            raise
        loaded.append(name)
    return loaded


def error_response(request_id: str, code: str, message: str) -> RpcResponse:
    return RpcResponse(id=request_id, ok=False, error=RpcError(code=code, message=message))


async def dispatch(ctx: RpcContext, request: RpcRequest) -> RpcResponse:
    """Run the handler for ``request.method`` and build the reply (never raises)."""
    handler = _HANDLERS.get(request.method)
    if handler is None:
        return error_response(request.id, UNKNOWN_METHOD, f"unknown method {request.method!r}")
    if ctx.seconds_left() <= 0:
        # The kiosk has given up waiting; doing the work now (a charge!) would surprise it.
        log.warning("rpc %s from %s/%s arrived past its deadline; not run",
                    request.method, ctx.store, ctx.kiosk)
        return error_response(request.id, DEADLINE_EXCEEDED, "request arrived after its deadline")
    try:
        result = await handler(ctx, request.params)
    except RpcFailure as fail:
        return error_response(request.id, fail.code, fail.message)
    except Exception:
        log.exception("rpc handler for %s failed", request.method)
        return error_response(request.id, INTERNAL, "internal error")
    if not isinstance(result, dict):
        log.error("rpc handler for %s returned %s, not a dict", request.method,
                  type(result).__name__)
        return error_response(request.id, INTERNAL, "internal error")
    return RpcResponse(id=request.id, ok=True, result=result)
