"""Taking over a parked cart (挂单) of another kiosk of the store, from this kiosk's TUI.

Staff key in the park number the shopper was shown (``P{yyyymmdd}-{kiosk}-{seq}``); the
kiosk asks the cloud (RPC ``parked.take``), which closes the cart once for the whole
store (a staffed till or another kiosk can no longer settle it) and answers with its
lines; they are scanned into this kiosk's checkout at today's prices and sold as its
own order (the shopper pays here as usual). Only at a kiosk with no sale in progress.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from common.jsontypes import JsonObject
from contract.wire.rpc import PARKED_TAKE

from .checkout import CheckoutError, State

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger(__name__)

# The cloud answers from its database; a till's staff wait this long at most.
TAKE_TIMEOUT_S = 10.0


async def take_parked(agent: Agent, park_no: str) -> JsonObject:
    """Take the parked cart ``park_no`` into this kiosk's checkout.

    Raises:
        ValueError: refused (a sale in progress, offline, unknown or already settled
            number, a product this kiosk cannot sell); the message says why.
    """
    from .link import LinkError, RpcFailed

    co = agent.checkout
    if co is None or co.state not in (State.IDLE, State.COMPLETED):
        raise ValueError("a sale is in progress at this kiosk: finish or cancel it first")
    link = agent.runtime.link
    if link is None:
        raise ValueError("this kiosk has no link to the cloud")
    try:
        cart = await link.request(PARKED_TAKE, {"park_no": park_no}, TAKE_TIMEOUT_S)
    except RpcFailed as err:
        raise ValueError(f"{err.code}: {err.message}") from err
    except LinkError as err:  # offline, or no answer: nothing was taken for sure
        raise ValueError(f"the cloud did not answer ({type(err).__name__}); try again") from err
    body = cart.get("cart")  # {"lines": [{"barcode", "qty", "weight_g", ...}], ...}
    found = body.get("lines") if isinstance(body, dict) else None
    lines = found if isinstance(found, list) else []
    try:
        for line in lines:
            co.scan_product(str(line.get("barcode") or ""), line.get("weight_g"))
            qty = int(line.get("qty") or 1)
            if qty > 1 and not line.get("weight_g"):
                co.set_quantity(len(co.items), qty)
    except CheckoutError as err:
        # The cloud closed the cart: staff finish it at a staffed till with its lines.
        log.error("parked cart %s taken but not loadable here: %s", park_no, err)
        if co.state != State.IDLE:
            await co.cancel("parked cart not loadable")
        raise ValueError(f"taken, but this kiosk cannot sell it ({err}); settle it at a "
                         f"staffed till") from err
    if cart.get("kiosk") == agent.config.kiosk.kiosk_id:
        await agent.journal.close_parked_order(park_no, "resumed")
    log.info("parked cart %s (from %s) taken over: %d lines", park_no, cart.get("kiosk"),
             len(lines))
    total = co.priced.total if co.priced is not None else 0
    return {"park_no": park_no, "from_kiosk": cart.get("kiosk"), "lines": len(co.items),
            "total": total, "parked_total": cart.get("total"), "state": str(co.state)}
