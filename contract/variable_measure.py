"""Variable-measure EAN-13: the labels a shop's label scale prints for loose goods.

GS1 reserves EAN-13 codes starting with ``2`` for in-store use. A label scale (大华/
Dahua TM, 顶尖/Aclas LS2, 凯士/CAS CL) prints one per weighed pack: a product number
(PLU) and either the price or the weight, then the EAN check digit. Where each part
sits is the chain's choice (set on the scales), so it is configured per chain in the
price book as :class:`BarcodeLayout` patterns of 13 characters:

``0-9``
    a literal digit that must match (the prefix, e.g. ``2`` or ``20``-``29``);
``F``
    a flag digit that is ignored (some scales put a department or format digit here);
``P``
    the PLU digits (matched to :attr:`Product.plu`);
``V``
    the value digits: fen (``value = "price"``) or grams (``value = "weight"``);
``X``
    a price check digit some scales add, ignored (the EAN check covers the code);
``C``
    the EAN-13 check digit (last).

Examples: ``2FPPPPPVVVVVC`` (2 + flag + 5-digit PLU + 5-digit price + check, Dahua's
common default) and ``2PPPPPPVVVVVC`` (2 + 6-digit PLU + 5-digit weight + check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .codes import valid_gtin

if TYPE_CHECKING:
    from .pricebook import PriceBook, Product


class BarcodeLayout(BaseModel):
    """One variable-measure layout of the chain (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    pattern: str = Field(pattern=r"^[0-9FPVXC]{13}$")
    value: Literal["price", "weight"]

    @model_validator(mode="after")
    def _shape(self) -> BarcodeLayout:
        p = self.pattern
        if not p[0].isdigit():
            raise ValueError("pattern must start with a literal prefix digit (2 for in-store)")
        if p[-1] != "C" or p.count("C") != 1:
            raise ValueError("pattern must end with the one check digit C")
        for part in ("P", "V"):
            run = re.search(f"{part}+", p)
            if run is None or p.count(part) != len(run.group(0)):
                raise ValueError(f"pattern needs one contiguous run of {part}")
        if p.count("P") > 6 or p.count("V") > 6:
            raise ValueError("at most 6 P and 6 V digits")
        return self


@dataclass(frozen=True, slots=True)
class VariableMeasure:
    """What a variable-measure label says."""

    layout: str
    plu: str
    value: Literal["price", "weight"]
    amount: int  # fen for price, grams for weight


def parse_label(code: str, layouts: tuple[BarcodeLayout, ...] | list[BarcodeLayout]
                ) -> VariableMeasure | None:
    """The first layout ``code`` fits, parsed; ``None`` when it is not such a label."""
    if len(code) != 13 or not code.isdigit() or not valid_gtin(code):
        return None
    for layout in layouts:
        p = layout.pattern
        if any(c.isdigit() and c != d for c, d in zip(p, code, strict=True)):
            continue
        plu = "".join(d for c, d in zip(p, code, strict=True) if c == "P")
        value = int("".join(d for c, d in zip(p, code, strict=True) if c == "V"))
        if value <= 0:
            continue
        return VariableMeasure(layout.name, plu, layout.value, value)
    return None


def make_label(layout: BarcodeLayout, plu: str, amount: int, flag: str = "0") -> str:
    """The code a scale prints for ``plu`` and ``amount`` (tests, the demo, label printing)."""
    p = layout.pattern
    n_plu, n_val = p.count("P"), p.count("V")
    if len(plu) != n_plu or not plu.isdigit():
        raise ValueError(f"plu must be {n_plu} digits")
    if not 0 < amount < 10**n_val:
        raise ValueError(f"amount must fit {n_val} digits")
    plus, vals = iter(plu), iter(f"{amount:0{n_val}d}")
    body = "".join(c if c.isdigit() else next(plus) if c == "P" else next(vals) if c == "V"
                   else flag for c in p[:-1])
    from .codes import gtin_check_digit

    return body + str(gtin_check_digit(body))


def lookup(book: PriceBook, code: str) -> tuple[Product, VariableMeasure] | None:
    """The weighed product a label of ``book``'s layouts names, with what the label says."""
    layouts = getattr(book, "barcode_layouts", ())
    if not layouts:
        return None
    label = parse_label(code, layouts)
    if label is None:
        return None
    for product in book.products:
        if product.plu is not None and product.plu.lstrip("0") == label.plu.lstrip("0") \
                and product.weighed:
            return product, label
    return None
