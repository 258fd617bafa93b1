"""Control API routes for the store's new mini-program orders (:mod:`kiosk_agent.mp_orders`).

::

    GET  /v1/mp-orders                     {store, as_of, received_at, items: [...], more};
                                           received_at null while the bridge's list has not
                                           arrived (or no link)
    POST /v1/mp-orders/{alert_id}/ack {"badge"?}   (session) staff acknowledged the order:
                                           resolved at the bridge; 503 offline, 404 not one
                                           of the store's open orders
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from common.jsontypes import JsonObject

from .cart import _agent, _badge, _body
from .errors import ControlApiError

if TYPE_CHECKING:
    from ..agent import Agent

#: AckFailed.code -> HTTP status of the control API's answer
_STATUS = {"offline": 503, "no_reply": 504, "not_found": 404}


def _empty(agent: Agent) -> JsonObject:
    return {"store": agent.config.kiosk.store_id, "received_at": None, "as_of": None,
            "items": [], "more": 0}


async def _get(request: web.Request) -> web.Response:
    agent = _agent(request)
    board = agent.runtime.mp_orders
    return web.json_response(_empty(agent) if board is None else board.view())


async def _ack(request: web.Request) -> web.Response:
    from ..checkout import Refusal
    from ..mp_orders import AckFailed

    agent, body = _agent(request), await _body(request)
    try:
        alert_id = int(request.match_info["alert_id"])
    except ValueError:
        raise ControlApiError(400, "bad_request", "the order's alert id is a number") from None
    try:
        staff = _badge(agent, body)
    except Refusal as refusal:
        raise ControlApiError(409, refusal.code, f"{refusal.zh} / {refusal.en}") from None
    board = agent.runtime.mp_orders
    if board is None:  # no MQTT link configured: no list, nothing to acknowledge
        raise ControlApiError(503, "offline", "no link to the cloud")
    try:
        ack = await board.acknowledge(alert_id, staff.subject if staff else "kiosk-tui")
    except AckFailed as err:
        raise ControlApiError(_STATUS.get(err.code, 502), err.code, str(err)) from None
    return web.json_response({"ack": ack, "orders": board.view()})


def add_mp_order_routes(app: web.Application) -> None:
    """Add the routes (after :func:`~.cart.add_cart_routes`, whose key they use)."""
    app.router.add_get("/v1/mp-orders", _get)
    app.router.add_post(r"/v1/mp-orders/{alert_id}/ack", _ack)
