"""Order-level discounts (stages 4-6): literal thresholds, category filters, allocation."""

from __future__ import annotations

from ..pricebook import (
    Coupon,
)
from .lines import LinePredicate, _Line
from .money import allocate, round_half_up


class _Threshold:
    """A literal threshold discount: the highest tier reached applies in full (docstring).

    ``tiers`` are ``(threshold, off)`` in ascending threshold order; with ``pct`` the
    discount is that percentage (basis points) of the base, capped at ``cap``.
    """

    __slots__ = ("cap", "offs", "pct", "thresholds")

    def __init__(self, tiers: list[tuple[int, int]], pct: int = 0, cap: int | None = None):
        self.thresholds = [t for t, _ in tiers]
        self.offs = [d for _, d in tiers]
        self.pct = pct
        self.cap = cap

    def discount(self, base: int) -> int:
        """The discount on eligible goods worth ``base`` fen (0 below the first tier)."""
        if base <= 0:
            return 0
        j = -1
        for i, t in enumerate(self.thresholds):
            if base >= t:
                j = i
            else:
                break
        if j < 0:
            return 0
        if self.pct:
            off = round_half_up(base * self.pct, 10000)
            if self.cap is not None:
                off = min(off, self.cap)
        else:
            off = self.offs[j]
        return min(off, base)


def _filter(categories: tuple[str, ...], exclude: tuple[str, ...]) -> LinePredicate:
    if not categories and not exclude:
        return None
    inc = frozenset(categories)
    exc = frozenset(exclude)
    return lambda ln: (not inc or ln.product.category in inc) and ln.product.category not in exc


def _outside(lines: list[_Line], pred: LinePredicate) -> int:
    """What the lines outside ``pred`` cost after the line stages (1-3); 0 without a filter.

    A filtered discount's base is what the order still costs minus this: fixed per line,
    so the base does not depend on how earlier order-level discounts were split between
    lines (the order of the lines changes nothing).
    """
    if pred is None:
        return 0
    return sum(ln.item_amount for ln in lines if not pred(ln))


def _coupon_threshold(c: Coupon) -> _Threshold:
    if c.kind == "fixed":
        return _Threshold([(c.threshold, c.value)])
    return _Threshold([(c.threshold, 0)], pct=c.value, cap=c.cap)


def _allocate_order_discount(lines: list[_Line], pred: LinePredicate, amount: int,
                             tag: str) -> None:
    targets = [ln for ln in lines if pred is None or pred(ln)]
    shares = allocate(amount, [ln.residual for ln in targets])
    for ln, share in zip(targets, shares, strict=True):
        if share:
            ln.residual -= share
            ln.tags.append(tag)
            ln.applied[tag] = ln.applied.get(tag, 0) + share
