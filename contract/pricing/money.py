"""Exact integer arithmetic of prices: half-up rounding, largest-remainder allocation, VAT."""

from __future__ import annotations

from ..wire.events import VatLine
from .model import PricingError


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up, integers only (numerator >= 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split ``amount`` in proportion to ``weights`` exactly, by largest remainder.

    Ties in the remainder go to the earlier weight (the lower ``line_no``). Each share is
    at most its weight whenever ``amount <= sum(weights)``.
    """
    total = sum(weights)
    if amount == 0:
        return [0] * len(weights)
    if total <= 0:
        raise PricingError("cannot allocate a discount over nothing")
    shares = []
    rems = []
    for i, w in enumerate(weights):
        q, r = divmod(amount * w, total)
        shares.append(q)
        rems.append((-r, i))
    left = amount - sum(shares)
    if left:
        for _, i in sorted(rems)[:left]:
            shares[i] += 1
    return shares


def vat_breakdown(amounts_by_rate: dict[int, int]) -> list[VatLine]:
    """Per-rate VAT for tax-inclusive gross amounts, sorted by rate."""
    out = []
    for rate in sorted(amounts_by_rate):
        gross = amounts_by_rate[rate]
        net = round_half_up(gross * 10000, 10000 + rate)
        out.append(VatLine(rate_bp=rate, gross=gross, net=net, tax=gross - net))
    return out
