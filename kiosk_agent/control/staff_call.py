"""Control API routes for 呼叫店员 (staff calls; :mod:`kiosk_agent.staff_calls`).

::

    GET  /v1/staff-call                       the call: {active, call_id, called_at, ...} or null
    POST /v1/staff-call/answer {"badge"?}     (session) staff answered it; with a badge,
                                              answered by that staff member (verified)
"""

from __future__ import annotations

from aiohttp import web

from .cart import _agent, _badge, _body
from .errors import ControlApiError


async def _get(request: web.Request) -> web.Response:
    from ..staff_calls import staff_calls

    return web.json_response({"call": staff_calls(_agent(request)).view()})


async def _answer(request: web.Request) -> web.Response:
    from ..checkout import Refusal
    from ..staff_calls import staff_calls

    agent, body = _agent(request), await _body(request)
    try:
        staff = _badge(agent, body)
    except Refusal as refusal:
        raise ControlApiError(409, refusal.code, f"{refusal.zh} / {refusal.en}") from None
    answered = await staff_calls(agent).answer(staff.subject if staff else "kiosk-tui")
    if answered is None:
        raise ControlApiError(404, "no_call", "no staff call is open")
    return web.json_response({"call": staff_calls(agent).view()})


def add_staff_call_routes(app: web.Application) -> None:
    """Add the staff call routes (after :func:`~.cart.add_cart_routes`, whose key they use)."""
    app.router.add_get("/v1/staff-call", _get)
    app.router.add_post("/v1/staff-call/answer", _answer)


__all__ = ["add_staff_call_routes"]
