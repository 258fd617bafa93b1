"""Multi-unit offers (stage 3): buy X get Y and bundles, all-or-nothing per offer."""

from __future__ import annotations

from ..pricebook import (
    BundlePromotion,
    BuyXGetYPromotion,
)
from .lines import _Line, _unit
from .money import allocate


def _bxgy(promo: BuyXGetYPromotion, lines: list[_Line]) -> bool:
    """Step 3, buy X get Y. Returns True when the offer beats simple prices."""
    group = promo.buy + promo.get

    def paid_before(n: int) -> int:
        return (n // group) * promo.buy + min(n % group, promo.buy)

    pos = 0
    paid: dict[int, int] = {}
    # Equal prices: product id before line order, so which unit is free (and so what each
    # category costs, the base of a category offer) does not depend on scan order.
    for ln in sorted(lines, key=lambda x: (-x.list_unit, x.product.product_id, x.line_no)):
        q = ln.cart.qty
        paid[ln.line_no] = (paid_before(pos + q) - paid_before(pos)) * ln.list_unit
        pos += q
    offer = sum(paid.values())
    if offer >= sum(ln.simple_amount for ln in lines):
        return False
    for ln in lines:
        ln.residual = paid[ln.line_no]
        ln.tags.append(promo.promo_id)
        if ln.residual < ln.list_amount:
            ln.applied[promo.promo_id] = ln.list_amount - ln.residual
    return True


def _bundle(promo: BundlePromotion, lines: list[_Line]) -> bool:
    """Step 3, bundle. Returns True when the offer beats simple prices."""
    units: dict[str, int] = {}
    for ln in lines:
        units[ln.product.product_id] = units.get(ln.product.product_id, 0) + ln.cart.qty
    sets = min(units.get(item.product_id, 0) // item.qty for item in promo.items)
    if sets == 0:
        return False
    need = {item.product_id: item.qty * sets for item in promo.items}
    in_bundle: list[int] = []
    for ln in lines:  # lines arrive in line_no order
        take = min(need.get(ln.product.product_id, 0), ln.cart.qty)
        if take:
            need[ln.product.product_id] -= take
        in_bundle.append(take)
    bundle_list = sum(take * ln.list_unit for take, ln in zip(in_bundle, lines, strict=True))
    rest = sum((ln.cart.qty - t) * _unit(ln) for t, ln in zip(in_bundle, lines, strict=True))
    offer = sets * promo.price + rest
    if offer >= sum(ln.simple_amount for ln in lines):
        return False
    # Allocated in product order (ties go to the earlier product), not scan order: what
    # each category costs must not depend on the order of the lines.
    pids = sorted({ln.product.product_id for ln in lines})
    of_pid = {pid: [i for i, ln in enumerate(lines) if ln.product.product_id == pid]
              for pid in pids}
    per_pid = allocate(bundle_list - sets * promo.price,
                       [sum(in_bundle[i] * lines[i].list_unit for i in of_pid[pid])
                        for pid in pids])
    shares = [0] * len(lines)
    for pid, amount in zip(pids, per_pid, strict=True):
        idx = of_pid[pid]
        if not amount:
            continue
        for i, share in zip(idx, allocate(amount, [in_bundle[i] * lines[i].list_unit
                                                  for i in idx]), strict=True):
            shares[i] = share
    for take, share, ln in zip(in_bundle, shares, lines, strict=True):
        rest_units = ln.cart.qty - take
        ln.residual = take * ln.list_unit - share + rest_units * _unit(ln)
        if take:
            ln.tags.append(promo.promo_id)
            if share:
                ln.applied[promo.promo_id] = share
        if rest_units and ln.simple_tag is not None and _unit(ln) < ln.list_unit:
            ln.tags.append(ln.simple_tag)
            ln.applied[ln.simple_tag] = rest_units * (ln.list_unit - _unit(ln))
    return True
