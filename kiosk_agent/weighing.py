"""Loose produce on the kiosk's scale: a weighed product scanned without a weight is
weighed on the ``[scale]`` (``drivers.scale``) with its stable-weight rule.

A product barcode of a weighed product (not a scale label, which carries its own weight
or price) needs the goods on the scale: the scan waits up to ``stable_timeout_s`` for a
stable weight and is refused with the reason (放上秤 / still moving / over capacity)
otherwise, so a line is never priced on a guessed weight.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from contract import variable_measure
from drivers.scale import ScaleNotStable, SerialScale

from .checkout import Refusal, State

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger(__name__)

SCALE_COMPONENT = "scale"


def scale_component(agent: Agent) -> SerialScale | None:
    """The scale the config's ``[scale]`` asks for, or ``None`` (``kind = "none"``)."""
    cfg = agent.config.scale
    if cfg.kind == "none" or not cfg.port:
        return None
    return SerialScale(cfg.port, cfg.baudrate)


def _scale_of(agent: Agent) -> SerialScale | None:
    for name, component in agent.components():
        if name == SCALE_COMPONENT and isinstance(component, SerialScale):
            return component
    return None


async def weight_for_scan(agent: Agent, code: str, weight_g: int | None) -> int | None:
    """The weight to price ``code`` with: the scan's own, else the scale's stable weight
    when ``code`` is a weighed product's barcode and a scale is configured.

    Raises:
        Refusal: a weighed product and no stable weight in time.
    """
    if weight_g is not None or agent.book is None:
        return weight_g
    product = agent.book.by_barcode(code)
    if product is None or not product.weighed or variable_measure.lookup(agent.book, code):
        return None
    scale = _scale_of(agent)
    if scale is None:
        return None
    state = agent.checkout.state if agent.checkout is not None else State.IDLE
    try:
        grams = await scale.stable_weight(agent.config.scale.stable_timeout_s)
    except ScaleNotStable as err:
        log.info("weighed scan of %s refused: %s", product.product_id, err.reason)
        zh = ("请将商品放在秤上" if "nothing" in err.reason or "no reading" in err.reason
              else "请等待秤稳定后再扫码")
        raise Refusal("scan_product", state, "weight_unstable", zh,
                      f"put the item on the scale and hold still ({err.reason})") from None
    return grams
