"""Control API route for the store's stock alerts (:mod:`kiosk_agent.stock_alerts`).

::

    GET /v1/stock-alerts    {store, as_of, received_at, items: [...], more}; received_at
                            null while the bridge's list has not arrived (or no link)
"""

from __future__ import annotations

from aiohttp import web

from .cart import _agent


async def _get(request: web.Request) -> web.Response:
    agent = _agent(request)
    board = agent.runtime.stock_alerts
    if board is None:  # no MQTT link configured: nothing can arrive
        return web.json_response({"store": agent.config.kiosk.store_id, "received_at": None,
                                  "as_of": None, "items": [], "more": 0})
    return web.json_response(board.view())


def add_stock_alert_routes(app: web.Application) -> None:
    """Add ``GET /v1/stock-alerts`` (after :func:`~.cart.add_cart_routes`, whose key it uses)."""
    app.router.add_get("/v1/stock-alerts", _get)
