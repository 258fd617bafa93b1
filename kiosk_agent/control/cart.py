"""Control API routes for the cart at the kiosk (staff at ``kiosk-tui``).

::

    GET    /v1/cart                          the cart: lines (line_no, name, qty, amount), total
    PUT    /v1/cart/lines/{n} {"qty", "badge"?}   (session) change a quantity
    DELETE /v1/cart/lines/{n} {"badge"?}          (session) take a line out
    POST   /v1/cart/void {"badge"?}               (session) void the whole cart
    POST   /v1/cart/approve {"badge"}             (session) approve the void the shopper asked for
    POST   /v1/parked/{park_no}/take             (session) take over a parked cart of the store

A void (a line out or lowered, the whole cart) that needs staff (see
:mod:`kiosk_agent.cart_edits`) answers ``409 void_needs_staff`` without a ``badge``:
the staff PIN opens the TUI, but only a badge says who approved the void. A bad badge
is ``409 badge_<reason>``; a state that does not allow the edit ``409`` with its code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aiohttp import web

from common.jsontypes import JsonMapping, JsonObject

from .errors import ControlApiError

if TYPE_CHECKING:
    from contract.tokens import Token

    from ..agent import Agent

#: the control app's agent key, given by :func:`add_cart_routes` (routes imports this)
_AGENT_KEY: list[web.AppKey[object]] = []


@runtime_checkable
class _RunsAgent(Protocol):
    """A control API agent that drives a running agent (``AgentControlAdapter``)."""

    def running_agent(self) -> Agent: ...


def _agent(request: web.Request) -> Agent:
    facade = request.app[_AGENT_KEY[0]]
    if not isinstance(facade, _RunsAgent):
        raise ControlApiError(501, "not_supported", "the agent has no checkout")
    return facade.running_agent()


def cart_view(agent: Agent) -> JsonObject:
    """The cart as staff see it: numbered lines, totals, what waits for a badge."""
    from ..cart_edits import cart_edits

    co = agent.checkout
    if co is None:
        return {"state": "starting", "lines": [], "total": 0}
    snap = co.snapshot()
    lines: list[JsonObject] = []
    for n, item in enumerate(co.items, start=1):
        priced = snap.lines[n - 1] if n - 1 < len(snap.lines) else None
        lines.append({
            "line_no": n, "product_id": item.product.product_id,
            "name_zh": item.product.name_zh, "name_en": item.product.name_en,
            "qty": item.qty, "weight_g": item.weight_g,
            "amount": None if priced is None else priced.amount,
        })
    edits = cart_edits(agent)
    pending = edits.pending
    return {
        "state": str(snap.state), "lines": lines, "subtotal": snap.subtotal,
        "discount_total": snap.discount_total, "total": snap.total, "currency": snap.currency,
        "order_no": snap.order_no,
        "pending_void": None if pending is None else {
            "action": pending.action, "line_no": pending.line_no, "qty": pending.qty},
        "void_needs_staff": edits.void_needs_staff(co) if co.items else False,
    }


async def _body(request: web.Request) -> JsonObject:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as err:
        raise ControlApiError(400, "bad_json", "request body is not JSON") from err
    if not isinstance(body, dict):
        raise ControlApiError(400, "bad_json", "request body must be a JSON object")
    return body


def _badge(agent: Agent, body: JsonMapping, required: bool = False) -> Token | None:
    from ..cart_edits import verify_badge_text

    text = body.get("badge")
    if text is None and not required:
        return None
    if not isinstance(text, str) or not 0 < len(text) <= 2000:
        raise ControlApiError(400, "bad_request", '"badge" must be the badge text "S1...."')
    return verify_badge_text(agent, text)


def _line_no(request: web.Request) -> int:
    try:
        return int(request.match_info["line_no"])
    except ValueError as err:
        raise ControlApiError(400, "bad_request", "line number must be an integer") from err


async def _run(agent: Agent, coro_fn: Callable[[], Awaitable[str]]) -> web.Response:
    from ..checkout import Refusal

    try:
        result = await coro_fn()
    except Refusal as refusal:
        raise ControlApiError(409, refusal.code, f"{refusal.zh} / {refusal.en}") from None
    if result == "pending":
        raise ControlApiError(409, "void_needs_staff",
                              "删除商品需店员刷工牌 / a void needs a staff badge: send \"badge\"")
    return web.json_response({"result": result, "cart": cart_view(agent)})


async def _get(request: web.Request) -> web.Response:
    return web.json_response(cart_view(_agent(request)))


async def _put_line(request: web.Request) -> web.Response:
    from ..cart_edits import cart_edits

    agent, body = _agent(request), await _body(request)
    qty = body.get("qty")
    if not isinstance(qty, int) or isinstance(qty, bool):
        raise ControlApiError(400, "bad_request", 'body must be {"qty": n, "badge"?: "S1..."}')
    line_no = _line_no(request)

    async def edit() -> str:
        staff = _badge(agent, body)
        return await cart_edits(agent).set_quantity(line_no, qty, staff)

    return await _run(agent, edit)


async def _delete_line(request: web.Request) -> web.Response:
    from ..cart_edits import cart_edits

    agent, body = _agent(request), await _body(request)
    line_no = _line_no(request)

    async def edit() -> str:
        return await cart_edits(agent).remove_line(line_no, _badge(agent, body))

    return await _run(agent, edit)


async def _void(request: web.Request) -> web.Response:
    from ..cart_edits import cart_edits

    agent, body = _agent(request), await _body(request)

    async def edit() -> str:
        return await cart_edits(agent).void_cart(_badge(agent, body))

    return await _run(agent, edit)


async def _approve(request: web.Request) -> web.Response:
    from ..cart_edits import cart_edits

    agent, body = _agent(request), await _body(request)

    async def edit() -> str:
        staff = _badge(agent, body, required=True)
        assert staff is not None  # required: no badge is a 400
        if not await cart_edits(agent).approve_pending(staff):
            raise ControlApiError(404, "nothing_pending", "no void waits for a badge")
        return "done"

    return await _run(agent, edit)


async def _take_parked(request: web.Request) -> web.Response:
    """A parked cart of the store taken over into this kiosk's checkout (kiosk_agent.parked_till)."""
    from ..parked_till import take_parked

    agent = _agent(request)
    park_no = request.match_info["park_no"]
    if not 0 < len(park_no) <= 64:
        raise ControlApiError(400, "bad_request", "a park number is 1-64 characters")
    try:
        taken = await take_parked(agent, park_no)
    except ValueError as err:
        raise ControlApiError(409, "refused", str(err)) from None
    return web.json_response({"taken": taken, "cart": cart_view(agent)})


def add_cart_routes(app: web.Application, agent_key: web.AppKey[object]) -> None:
    """Add the cart routes to the control API application (``agent_key``: its agent)."""
    _AGENT_KEY[:] = [agent_key]
    app.router.add_get("/v1/cart", _get)
    app.router.add_put("/v1/cart/lines/{line_no}", _put_line)
    app.router.add_delete("/v1/cart/lines/{line_no}", _delete_line)
    app.router.add_post("/v1/cart/void", _void)
    app.router.add_post("/v1/cart/approve", _approve)
    app.router.add_post("/v1/parked/{park_no}/take", _take_parked)
