"""The control API's HTTP routes, its auth/error middleware and :func:`create_app`.

Routes (all JSON unless noted)::

    GET  /v1/status                      kiosk, state, maintenance, link, queue, last scans
    GET  /v1/health                      {device: {state, ...}} for printer, camera, ...
    GET  /v1/sales/today                 {orders, total, currency, ...}
    GET  /v1/orders?q=&limit=            order search (newest first)
    GET  /v1/orders/{order_no}           order detail
    GET  /v1/outbox                      {stats: {...}, dead_letters: [...]}
    GET  /v1/config                      [{key, value, source}] (default/file/shadow/env/credential)
    GET  /v1/logs?after=&limit=&level=   recent log lines from the ring buffer
    GET  /v1/camera/snapshot             (session) image/png or image/jpeg (?format=json: base64)
    GET  /v1/session                     {authenticated, expires_in, pin_configured}
    POST /v1/session {"pin"}             -> {token, idle_lock_s}
    DELETE /v1/session                   lock now
    POST /v1/dead-letters/{id}/retry     (session)
    POST /v1/dead-letters/{id}/discard   {"reason"} (session)
    POST /v1/printer/test-page           (session) a test page with Chinese text
    POST /v1/orders/{order_no}/reprint   (session) marked 重印 REPRINT
    POST /v1/maintenance {"on", "reason"} (session)
    POST /v1/display/test                (session)
    POST /v1/camera/decode-check         (session) decode one frame now
    GET  /v1/cart, PUT|DELETE /v1/cart/lines/{n}, POST /v1/cart/void|approve
                                         cart edits and staff voids (control/cart.py)
    GET  /v1/staff-call, POST /v1/staff-call/answer   呼叫店员 (control/staff_call.py)
    GET  /v1/stock-alerts                the store's stock alerts (control/stock_alerts.py)
    GET  /v1/mp-orders, POST /v1/mp-orders/{id}/ack   new mini-program orders (control/mp_orders.py)

Errors are ``{"error": code, "message": text}`` with a fitting HTTP status.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.jsontypes import JsonObject

from ..logbuffer import RecentLogHandler
from .cart import add_cart_routes
from .errors import ControlApiError
from .facade import resolve
from .jsonable import to_jsonable
from .mp_orders import add_mp_order_routes
from .sessions import StaffSessions
from .staff_call import add_staff_call_routes
from .stock_alerts import add_stock_alert_routes

log = logging.getLogger(__name__)

#: Largest request body: the API only ever receives tiny JSON objects.
MAX_BODY_BYTES = 64 * 1024
#: Longest a single agent call may take before the API answers 504 (printing and
#: snapshots touch hardware; a wedged device must not wedge the staff terminal).
AGENT_CALL_TIMEOUT_S = 20.0

AGENT_KEY = web.AppKey("agent", object)
SESSIONS_KEY = web.AppKey("sessions", StaffSessions)
LOGS_KEY: web.AppKey[RecentLogHandler | None] = web.AppKey("logs")
CONFIG_KEY: web.AppKey[Callable[[], list[JsonObject]] | None] = web.AppKey("config_view")


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


#: Reads that need a staff session too: a camera frame can show a shopper's phone
#: with its payment code on it, a one-time secret nobody but the shopper may see.
SESSION_READS = frozenset({"/v1/camera/snapshot"})


@web.middleware
async def _errors_and_auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        needs_session = request.path in SESSION_READS or (
            request.method not in ("GET", "HEAD")
            and request.path not in ("/v1/session", "/v1/session/unlock")
        )
        if needs_session:
            if not request.app[SESSIONS_KEY].touch(_token(request)):
                raise ControlApiError(
                    401, "locked", "staff PIN required: open a session with POST /v1/session"
                )
        elif request.method == "GET":
            # Looking around keeps an open session alive too (staff are at the screen).
            request.app[SESSIONS_KEY].touch(_token(request))
        return await handler(request)
    except ControlApiError as err:
        return web.json_response({"error": err.code, "message": err.message}, status=err.status)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return web.json_response(
            {"error": err.reason.lower().replace(" ", "_"), "message": err.text or err.reason},
            status=err.status,
        )
    except Exception as err:
        log.exception("control API %s %s failed", request.method, request.path)
        return web.json_response(
            {"error": "internal", "message": f"{type(err).__name__}: {err}"}, status=500
        )


async def _call(request: web.Request, name: str, *args: object) -> object:
    """Call an agent method by name; 501 when the agent has none."""
    agent = request.app[AGENT_KEY]
    method = getattr(agent, name, None)
    if method is None:
        raise ControlApiError(501, "not_supported", f"the agent does not provide {name}")
    try:
        async with asyncio.timeout(AGENT_CALL_TIMEOUT_S):
            result = await resolve(method(*args))
    except TimeoutError as err:
        raise ControlApiError(504, "timeout", f"{name} took longer than {AGENT_CALL_TIMEOUT_S:.0f} s") from err
    except KeyError as err:
        raise ControlApiError(404, "not_found", f"not found: {err.args[0] if err.args else ''}") from err
    except (ValueError, PermissionError) as err:
        # The agent refused (e.g. reprint while a sale is in progress): say why.
        raise ControlApiError(409, "refused", str(err)) from err
    return result


async def _json_body(request: web.Request) -> JsonObject:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as err:
        raise ControlApiError(400, "bad_json", "request body is not JSON") from err
    if not isinstance(body, dict):
        raise ControlApiError(400, "bad_json", "request body must be a JSON object")
    return body


def _ok(value: object, status: int = 200) -> web.Response:
    return web.json_response(to_jsonable(value), status=status)


async def _status(request: web.Request) -> web.Response:
    return _ok(await _call(request, "status"))


async def _health(request: web.Request) -> web.Response:
    return _ok(await _call(request, "health"))


async def _sales_today(request: web.Request) -> web.Response:
    return _ok(await _call(request, "sales_today"))


async def _orders(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()
    limit = _int_query(request, "limit", 50, 1, 500)
    return _ok({"orders": await _call(request, "find_orders", query, limit)})


async def _order(request: web.Request) -> web.Response:
    order_no = request.match_info["order_no"]
    detail = await _call(request, "order_detail", order_no)
    if detail is None:
        raise ControlApiError(404, "not_found", f"no order {order_no}")
    return _ok(detail)


async def _outbox(request: web.Request) -> web.Response:
    stats = to_jsonable(await _call(request, "outbox_stats"))
    if isinstance(stats, dict) and stats.get("oldest_created_at"):
        stats["oldest_age_s"] = round(max(0.0, time.time() - float(stats["oldest_created_at"])), 1)
    return _ok({"stats": stats, "dead_letters": await _call(request, "dead_letters")})


async def _retry(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    if not await _call(request, "retry_dead_letter", event_id):
        raise ControlApiError(404, "not_found", f"no dead letter {event_id}")
    log.info("staff retried dead letter %s", event_id)
    return _ok({"ok": True, "event_id": event_id})


async def _discard(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    reason = str((await _json_body(request)).get("reason", "")).strip()
    if not reason:
        raise ControlApiError(400, "reason_required", "a reason is required to discard")
    if not await _call(request, "discard_dead_letter", event_id, reason):
        raise ControlApiError(404, "not_found", f"no dead letter {event_id}")
    log.warning("staff discarded dead letter %s: %s", event_id, reason)
    return _ok({"ok": True, "event_id": event_id})


async def _test_page(request: web.Request) -> web.Response:
    result = await _call(request, "print_test_page")
    log.info("staff printed a test page")
    return _ok({"ok": True, "result": result})


async def _reprint(request: web.Request) -> web.Response:
    order_no = request.match_info["order_no"]
    result = await _call(request, "reprint", order_no)
    if not result:
        raise ControlApiError(404, "not_found", f"no order {order_no}")
    log.info("staff reprinted order %s", order_no)
    return _ok({"ok": True, "order_no": order_no, "result": result})


async def _maintenance(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if not isinstance(body.get("on"), bool):
        raise ControlApiError(400, "bad_request", 'body must be {"on": true|false, "reason": "..."}')
    reason = str(body.get("reason") or "staff")
    result = await _call(request, "set_maintenance", body["on"], reason)
    log.warning("staff turned maintenance %s (%s)", "on" if body["on"] else "off", reason)
    return _ok({"ok": True, "maintenance": body["on"], "result": result})


async def _display_test(request: web.Request) -> web.Response:
    return _ok({"ok": True, "result": await _call(request, "display_test")})


async def _decode_check(request: web.Request) -> web.Response:
    return _ok(await _call(request, "decode_check"))


async def _snapshot(request: web.Request) -> web.Response:
    frame = await _call(request, "camera_snapshot")
    if not frame:
        raise ControlApiError(404, "no_frame", "no camera frame available")
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise TypeError(f"a camera snapshot is bytes, not {type(frame).__name__}")
    image = bytes(frame)
    content_type = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    if request.query.get("format") == "json":
        return _ok(
            {
                "content_type": content_type,
                "bytes": len(image),
                "base64": base64.b64encode(image).decode("ascii"),
            }
        )
    return web.Response(body=image, content_type=content_type)


async def _config(request: web.Request) -> web.Response:
    agent = request.app[AGENT_KEY]
    if getattr(agent, "effective_config", None) is not None:
        return _ok({"values": await _call(request, "effective_config")})
    view = request.app[CONFIG_KEY]
    if view is None:
        raise ControlApiError(501, "not_supported", "the agent does not provide effective_config")
    return _ok({"values": view()})


async def _logs(request: web.Request) -> web.Response:
    handler: RecentLogHandler | None = request.app[LOGS_KEY]
    if handler is None:
        raise ControlApiError(501, "not_supported", "no log buffer installed")
    after = _int_query(request, "after", 0, 0, 2**62)
    limit = _int_query(request, "limit", 200, 1, 5000)
    level = request.query.get("level", "NOTSET")
    lines = handler.lines(after=after, limit=limit, min_level=level)
    return _ok({"last_seq": handler.last_seq, "lines": [line.to_dict() for line in lines]})


async def _session_get(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS_KEY]
    expires = sessions.expires_in(_token(request))
    return _ok(
        {
            "authenticated": expires is not None,
            "expires_in": expires,
            "idle_lock_s": sessions.idle_lock_s,
            "pin_configured": sessions.pin_configured,
            "retry_after": sessions.retry_after(caller_source(request)),
        }
    )


async def _session_post(request: web.Request) -> web.Response:
    body = await _json_body(request)
    pin = body.get("pin")
    if not isinstance(pin, str) or not pin:
        raise ControlApiError(400, "bad_request", 'body must be {"pin": "..."}')
    sessions = request.app[SESSIONS_KEY]
    token = await sessions.login(pin, caller_source(request))
    return _ok({"token": token, "idle_lock_s": sessions.idle_lock_s}, status=201)


def caller_source(request: web.Request) -> str:
    """Who is trying a PIN: the peer's uid on the unix socket (SO_PEERCRED), else its
    address; the wrong-PIN lockout is kept per source."""
    import socket
    import struct

    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None and sock.family == socket.AF_UNIX:
        try:
            _pid, uid, _gid = struct.unpack(
                "3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            return f"uid:{uid}"
        except OSError:
            return "local"
    return request.remote or "local"


async def _session_unlock(request: web.Request) -> web.Response:
    """Lift the wrong-PIN lockout with a signed staff badge (scanned or typed)."""
    body = await _json_body(request)
    badge = body.get("badge")
    if not isinstance(badge, str) or not 0 < len(badge) <= 2000:
        raise ControlApiError(400, "bad_request", 'body must be {"badge": "S1...."}')
    staff, lifted = request.app[SESSIONS_KEY].unlock_with_badge(badge)
    return _ok({"unlocked": lifted, "staff": staff})


async def _session_delete(request: web.Request) -> web.Response:
    request.app[SESSIONS_KEY].logout(_token(request))
    return _ok({"ok": True})


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise ControlApiError(400, "bad_request", f"{name} must be an integer") from err
    return min(high, max(low, value))


def create_app(
    agent: object,
    sessions: StaffSessions,
    log_handler: RecentLogHandler | None = None,
    config_view: Callable[[], list[JsonObject]] | None = None,
) -> web.Application:
    """The control API as an aiohttp application (served by :class:`ControlServer`)."""
    app = web.Application(middlewares=[_errors_and_auth], client_max_size=MAX_BODY_BYTES)
    app[AGENT_KEY] = agent
    app[SESSIONS_KEY] = sessions
    app[LOGS_KEY] = log_handler
    app[CONFIG_KEY] = config_view
    app.router.add_get("/v1/status", _status)
    app.router.add_get("/v1/health", _health)
    app.router.add_get("/v1/sales/today", _sales_today)
    app.router.add_get("/v1/orders", _orders)
    app.router.add_get("/v1/orders/{order_no}", _order)
    app.router.add_post("/v1/orders/{order_no}/reprint", _reprint)
    app.router.add_get("/v1/outbox", _outbox)
    app.router.add_post("/v1/dead-letters/{event_id}/retry", _retry)
    app.router.add_post("/v1/dead-letters/{event_id}/discard", _discard)
    app.router.add_post("/v1/printer/test-page", _test_page)
    app.router.add_post("/v1/maintenance", _maintenance)
    app.router.add_post("/v1/display/test", _display_test)
    app.router.add_get("/v1/camera/snapshot", _snapshot)
    app.router.add_post("/v1/camera/decode-check", _decode_check)
    app.router.add_get("/v1/config", _config)
    app.router.add_get("/v1/logs", _logs)
    app.router.add_get("/v1/session", _session_get)
    app.router.add_post("/v1/session", _session_post)
    app.router.add_post("/v1/session/unlock", _session_unlock)
    app.router.add_delete("/v1/session", _session_delete)
    add_cart_routes(app, AGENT_KEY)  # /v1/cart... (cart edits, staff voids)
    add_staff_call_routes(app)  # /v1/staff-call (呼叫店员)
    add_stock_alert_routes(app)  # /v1/stock-alerts (the bridge's list for the store)
    add_mp_order_routes(app)  # /v1/mp-orders (new mini-program orders; staff acknowledge)
    return app
