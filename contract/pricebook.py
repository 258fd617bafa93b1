"""The price book: products, promotions, full-reduction tiers, coupon definitions.

A :class:`PriceBook` is what a store sells on. The cloud publishes it per store
(``kiosk/v1/{store}/catalog`` points at a version and its SHA-256); the kiosk keeps
a copy in its journal so it can sell offline. The same file prices a cart on the
kiosk and, authoritatively, in the cloud (see :mod:`contract.pricing`).

Money is integer fen; VAT rates are basis points (1300 = 13 %); weighed products
are priced per kilogram. Every model forbids unknown fields so a typo in a price
book fails loudly instead of silently dropping a promotion.

Loading: :func:`load_price_book` reads JSON (the whole book) or CSV (products
only). Errors are :class:`CatalogError` with one line naming the field path.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .campaigns import Campaign
from .money import DEFAULT_CURRENCY
from .offers import (
    MULTI_UNIT_KINDS,
    BundleItem,
    BundlePromotion,
    BuyXGetYPromotion,
    FixedPricePromotion,
    FullReduction,
    PercentagePromotion,
    Promotion,
    Tier,
)
from .variable_measure import BarcodeLayout

__all__ = [
    "BundleItem",
    "BundlePromotion",
    "BuyXGetYPromotion",
    "Campaign",
    "CatalogError",
    "Coupon",
    "FixedPricePromotion",
    "FullReduction",
    "PercentagePromotion",
    "PointsRules",
    "PriceBook",
    "Product",
    "Promotion",
    "Tier",
    "ean_check_digit",
    "load_price_book",
    "parse_price_book",
]


class CatalogError(ValueError):
    """A price book that cannot be used; ``str()`` is one line naming the field and reason."""


def ean_check_digit(body: str) -> int:
    """GS1 check digit for the digits of an EAN-8/UPC-A/EAN-13 code without its last digit."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def _gs1_valid(code: str) -> bool:
    return int(code[-1]) == ean_check_digit(code[:-1])



class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Product(_Model):
    """One sellable item. ``unit_price`` is fen per unit, or fen per kg when ``weighed``."""

    product_id: str = Field(min_length=1, max_length=64)
    barcodes: tuple[str, ...] = Field(default=(), description="EAN-13/EAN-8/UPC-A/Code128")
    name_zh: str = Field(min_length=1)
    name_en: str | None = None
    unit_price: int = Field(ge=0, description="fen per unit, or per kg when weighed")
    member_price: int | None = Field(default=None, ge=0, description="fen; None = no member price")
    vat_rate_bp: int = Field(default=1300, ge=0, le=10000)
    category: str = Field(default="general", min_length=1)
    tax_code: str | None = Field(default=None, pattern=r"^[0-9]{19}$",
                                 description="税收分类编码 printed on e-invoices (19 digits)")
    age_restricted: bool = False
    weighed: bool = False
    active: bool = True
    plu: str | None = Field(default=None, pattern=r"^[0-9]{1,6}$",
                            description="scale PLU of a weighed product (variable-measure labels)")

    @field_validator("barcodes")
    @classmethod
    def _codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        for code in codes:
            if not code or code != code.strip() or len(code) > 48:
                raise ValueError(f"bad barcode {code!r}")
            # A GS1 code with a wrong check digit could never be scanned: refuse it here.
            if code.isdigit() and len(code) in (8, 12, 13) and not _gs1_valid(code):
                raise ValueError(f"barcode {code} has a wrong check digit")
        if len(set(codes)) != len(codes):
            raise ValueError("a barcode is listed twice")
        return codes

    @model_validator(mode="after")
    def _member_price(self) -> Product:
        if self.member_price is not None and self.member_price > self.unit_price:
            raise ValueError("member_price must not exceed unit_price")
        return self

    @property
    def has_member_price(self) -> bool:
        """The member-price flag: members pay ``member_price``."""
        return self.member_price is not None


class Coupon(_Model):
    """A coupon: the definition in the book, and (with ``code``) one shopper's instance.

    ``kind="fixed"``: ``value`` fen off. ``kind="percentage"``: ``value`` basis points off,
    at most ``cap`` fen. ``threshold``: the eligible goods must reach this many fen.
    ``categories``/``exclude_categories`` limit which goods count and get the discount.
    Only one non-stackable coupon applies per order; stackable ones add on.
    """

    coupon_id: str = Field(min_length=1, max_length=64)
    code: str | None = Field(default=None, max_length=64, description="instance serial")
    kind: Literal["fixed", "percentage"]
    value: int = Field(gt=0)
    cap: int | None = Field(default=None, gt=0, description="percentage coupons: max fen off")
    threshold: int = Field(default=0, ge=0)
    categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    stackable: bool = False
    member_only: bool = False
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    label_zh: str = Field(default="优惠券", min_length=1)
    label_en: str | None = "Coupon"

    @model_validator(mode="after")
    def _value(self) -> Coupon:
        if self.kind == "percentage" and self.value > 10000:
            raise ValueError("percentage coupon value is basis points, at most 10000")
        if self.kind == "fixed" and self.cap is not None:
            raise ValueError("cap applies to percentage coupons only")
        return self

    @property
    def key(self) -> str:
        """The identity used on receipts and for dedupe: the code, else the definition id."""
        return self.code or self.coupon_id


class PointsRules(_Model):
    """MEM-8 / MKT-8: points earned on money paid and redeemed as money off."""

    earn_fen_per_point: int = Field(default=100, ge=1, description="100: 1 point per yuan paid")
    level_multiplier_bp: dict[str, int] = Field(
        default_factory=lambda: {"regular": 10000, "silver": 12000, "gold": 15000, "platinum": 20000},
        description="earning multiplier per member level; unknown levels earn 1x",
    )
    redeem_points_per_fen: int = Field(default=1, ge=1, description="1: 100 points = 1 yuan")
    redeem_max_share_bp: int = Field(default=5000, ge=0, le=10000, description="of the order")

    @field_validator("level_multiplier_bp")
    @classmethod
    def _mult(cls, value: dict[str, int]) -> dict[str, int]:
        for level, bp in value.items():
            if bp < 0 or bp > 100000:
                raise ValueError(f"multiplier for {level!r} out of range")
        return value


UnitOffers = dict[str, tuple[PercentagePromotion | FixedPricePromotion, ...]]


class BookIndex:
    """Dict indexes of a :class:`PriceBook`, built once when the book is validated.

    ``unit_offers`` and ``reductions`` include the book's campaigns (compiled);
    ``base_unit_offers`` and ``base_reductions`` are the same without them (the engine
    prices a cart both ways when the book has campaigns: :mod:`contract.campaigns`).
    """

    __slots__ = ("base_reductions", "base_unit_offers", "by_barcode", "by_id", "canonical",
                 "coupons", "multi", "reductions", "unit_offers")

    def __init__(
        self, by_id: dict[str, Product], by_barcode: dict[str, Product],
        coupons: dict[str, Coupon],
        unit_offers: dict[str, tuple[PercentagePromotion | FixedPricePromotion, ...]],
        multi: dict[str, BuyXGetYPromotion | BundlePromotion],
    ) -> None:
        self.by_id: dict[str, Product] = by_id
        self.by_barcode: dict[str, Product] = by_barcode
        self.coupons: dict[str, Coupon] = coupons
        self.unit_offers: dict[str, tuple[PercentagePromotion | FixedPricePromotion, ...]] = (
            unit_offers
        )
        self.multi: dict[str, BuyXGetYPromotion | BundlePromotion] = multi
        self.canonical: bytes | None = None
        self.base_unit_offers: UnitOffers = unit_offers
        self.reductions: tuple[FullReduction, ...] = ()
        self.base_reductions: tuple[FullReduction, ...] = ()


class StaffRevocations(_Model):
    """Staff badges no kiosk may accept any more (:class:`contract.tokens.RevocationList`).

    Pushed with the price book so that a revoked badge stops working at every kiosk
    with the next book switch, online or not.
    """

    version: int = Field(default=0, ge=0)
    token_ids: tuple[str, ...] = ()
    subjects: dict[str, int] = Field(
        default_factory=dict, description="staff id -> epoch s: badges issued up to then")


class PriceBook(_Model):
    """A versioned price book. Build once; look-ups are dict-backed."""

    version: str = Field(min_length=1, max_length=64)
    currency: str = Field(default=DEFAULT_CURRENCY, pattern=r"^[A-Z]{3}$")
    products: tuple[Product, ...] = ()
    promotions: tuple[Promotion, ...] = ()
    full_reductions: tuple[FullReduction, ...] = ()
    coupons: tuple[Coupon, ...] = Field(default=(), description="coupon definitions")
    points: PointsRules = Field(default_factory=PointsRules)
    staff_revocations: StaffRevocations | None = None
    barcode_layouts: tuple[BarcodeLayout, ...] = Field(
        default=(), description="the chain's variable-measure EAN-13 layouts (label scales)")
    campaigns: tuple[Campaign, ...] = Field(
        default=(), description="marketing campaigns running or scheduled (contract.campaigns)")

    # All look-up tables live in one plain object: a pydantic private attribute costs a
    # __getattr__ round trip per access, so the hot path fetches this once.
    _ix: BookIndex = PrivateAttr()  # set by the validator below, before any use

    @model_validator(mode="after")
    def _consistent(self) -> PriceBook:
        by_id: dict[str, Product] = {}
        by_code: dict[str, Product] = {}
        for i, p in enumerate(self.products):
            if p.product_id in by_id:
                raise ValueError(f"products[{i}]: duplicate product_id {p.product_id!r}")
            by_id[p.product_id] = p
            for code in p.barcodes:
                other = by_code.get(code)
                if other is not None:
                    raise ValueError(
                        f"products[{i}]: duplicate barcode {code} "
                        f"({other.product_id!r} and {p.product_id!r})"
                    )
                by_code[code] = p
        self._check_promotions(by_id)
        categories = {p.category for p in self.products}
        for i, fr in enumerate(self.full_reductions):
            for c in (*fr.categories, *fr.exclude_categories):
                if c not in categories:
                    raise ValueError(f"full_reductions[{i}]: unknown category {c!r}")
        seen: set[str] = set()
        for i, fr in enumerate(self.full_reductions):
            if fr.reduction_id in seen:
                raise ValueError(f"full_reductions[{i}]: duplicate id {fr.reduction_id!r}")
            seen.add(fr.reduction_id)
        coupons: dict[str, Coupon] = {}
        for i, coupon in enumerate(self.coupons):
            if coupon.coupon_id in coupons:
                raise ValueError(f"coupons[{i}]: duplicate coupon_id {coupon.coupon_id!r}")
            coupons[coupon.coupon_id] = coupon
        simple_by_product: dict[str, list[PercentagePromotion | FixedPricePromotion]] = {}
        simple_by_category: dict[str, list[PercentagePromotion | FixedPricePromotion]] = {}
        multi: dict[str, BuyXGetYPromotion | BundlePromotion] = {}
        for promo in self.promotions:
            if isinstance(promo, BuyXGetYPromotion):
                for pid in promo.products:
                    multi[pid] = promo
            elif isinstance(promo, BundlePromotion):
                for item in promo.items:
                    multi[item.product_id] = promo
            else:
                for pid in promo.products:
                    simple_by_product.setdefault(pid, []).append(promo)
                for cat in getattr(promo, "categories", ()):
                    simple_by_category.setdefault(cat, []).append(promo)
        unit_offers: dict[str, tuple[PercentagePromotion | FixedPricePromotion, ...]] = {}
        for pid, p in by_id.items():
            own = simple_by_product.get(pid, [])
            cat = [x for x in simple_by_category.get(p.category, ()) if x not in own]
            if own or cat:
                unit_offers[pid] = (*own, *cat)
        self._ix = BookIndex(by_id, by_code, coupons, unit_offers, multi)
        self._ix.reductions = self._ix.base_reductions = self.full_reductions
        if self.campaigns:
            self._index_campaigns(by_id, ids={p.promo_id for p in self.promotions}
                                  | {fr.reduction_id for fr in self.full_reductions})
        return self

    def _index_campaigns(self, by_id: dict[str, Product], ids: set[str]) -> None:
        """Compile the campaigns into unit offers and full reductions (see BookIndex)."""
        categories = {p.category for p in by_id.values()}
        offers: dict[str, list[PercentagePromotion | FixedPricePromotion]] = {}
        reductions = list(self.full_reductions)
        for i, c in enumerate(self.campaigns):
            where = f"campaigns[{i}] ({c.campaign_id})"
            if c.campaign_id in ids:
                raise ValueError(f"{where}: id already used by an offer or a campaign")
            ids.add(c.campaign_id)
            for pid in c.products:
                if pid not in by_id:
                    raise ValueError(f"{where}: unknown product {pid!r}")
            for cat in (*c.categories, *c.exclude_categories):
                if cat not in categories:
                    raise ValueError(f"{where}: unknown category {cat!r}")
            if c.is_reduction:
                reductions.append(c.reduction())
                continue
            offer = c.offer()
            targets = set(c.products) | {pid for pid, p in by_id.items()
                                         if p.category in c.categories}
            for pid in sorted(targets):
                offers.setdefault(pid, []).append(offer)
        ix = self._ix
        merged = dict(ix.unit_offers)
        for pid, extra in offers.items():
            merged[pid] = (*merged.get(pid, ()), *extra)
        ix.unit_offers = merged
        ix.reductions = tuple(reductions)

    @property
    def index(self) -> BookIndex:
        """The look-up tables (built once at load); the pricing engine's fast path."""
        return self._ix

    def _check_promotions(self, by_id: dict[str, Product]) -> None:
        categories = {p.category for p in by_id.values()}
        in_multi: dict[str, str] = {}
        ids: set[str] = set()
        for i, promo in enumerate(self.promotions):
            where = f"promotions[{i}] ({promo.promo_id})"
            if promo.promo_id in ids:
                raise ValueError(f"{where}: duplicate promo_id")
            ids.add(promo.promo_id)
            if isinstance(promo, BundlePromotion):
                pids = [item.product_id for item in promo.items]
            else:
                pids = list(promo.products)
            for pid in pids:
                if pid not in by_id:
                    raise ValueError(f"{where}: unknown product {pid!r}")
            for c in getattr(promo, "categories", ()):
                if c not in categories:
                    raise ValueError(f"{where}: unknown category {c!r}")
            if promo.kind in MULTI_UNIT_KINDS:
                for pid in pids:
                    if by_id[pid].weighed:
                        raise ValueError(f"{where}: weighed product {pid!r} in a multi-unit offer")
                    # One multi-unit offer per product keeps the offers independent of each
                    # other (the engine prices each offer over its own lines).
                    if pid in in_multi:
                        raise ValueError(
                            f"{where}: product {pid!r} is already in multi-unit offer "
                            f"{in_multi[pid]!r}"
                        )
                    in_multi[pid] = promo.promo_id
            if isinstance(promo, BundlePromotion):
                # The merchant's bundle price is honoured as configured (a set sold for
                # less than its dearest items is a merchant's choice, not an error); only a
                # bundle that would sell for more than its parts is pointless, and the
                # engine never applies an offer that does not beat the simple prices.
                if promo.price < 1:
                    raise ValueError(f"{where}: bundle price must be at least 1 fen")

    # -- look-ups (hot path: plain dict gets) --

    def by_barcode(self, code: str) -> Product | None:
        """The product with this barcode, or None. O(1)."""
        return self._ix.by_barcode.get(code)

    def by_id(self, product_id: str) -> Product | None:
        """The product with this id, or None. O(1)."""
        return self._ix.by_id.get(product_id)

    def coupon(self, coupon_id: str, code: str | None = None) -> Coupon | None:
        """The coupon definition ``coupon_id`` (as an instance with ``code`` when given)."""
        c = self._ix.coupons.get(coupon_id)
        if c is None or code is None:
            return c
        return c.model_copy(update={"code": code})

    def unit_offers(self, product: Product) -> tuple[PercentagePromotion | FixedPricePromotion, ...]:
        """Per-unit promotions (percentage, fixed price) naming this product or its category."""
        return self._ix.unit_offers.get(product.product_id, ())

    def multi_unit_offer(self, product_id: str) -> BuyXGetYPromotion | BundlePromotion | None:
        """The one multi-unit promotion (buy X get Y, bundle) this product is part of, if any."""
        return self._ix.multi.get(product_id)

    # -- sync --

    def canonical_bytes(self) -> bytes:
        """Stable UTF-8 JSON (sorted keys, no spaces) of the whole book, for hashing and sync."""
        ix = self._ix
        if ix.canonical is None:
            data = self.model_dump(mode="json")
            # Fields added later are left out while unused, so older books keep their hash.
            if data.get("staff_revocations") is None:
                del data["staff_revocations"]
            if not data.get("barcode_layouts"):
                del data["barcode_layouts"]
            if not data.get("campaigns"):
                del data["campaigns"]
            for product in data["products"]:
                if product.get("plu") is None:
                    del product["plu"]
            ix.canonical = json.dumps(
                data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8")
        return ix.canonical

    def __eq__(self, other: object) -> bool:
        # Same content = same book (the index and cached bytes are derived, not compared).
        if not isinstance(other, PriceBook):
            return NotImplemented
        return self.canonical_bytes() == other.canonical_bytes()

    def __hash__(self) -> int:
        return hash(self.canonical_bytes())

    def sha256(self) -> str:
        """Hex SHA-256 of :meth:`canonical_bytes` (what ``CatalogPointer.sha256`` carries)."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


def _error_line(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: {loc + ': ' if loc else ''}{msg}{more}"


def parse_price_book(
    data: bytes | str, *, fmt: str = "json", version: str | None = None, source: str = "price book"
) -> PriceBook:
    """Parse a price book from JSON (whole book) or CSV (products only) text.

    For CSV, ``version`` defaults to ``csv-`` plus the first 12 hex digits of the file's SHA-256.
    Columns: ``product_id, barcodes`` (separated by ``|``), ``name_zh, name_en, unit_price``
    (fen), ``member_price`` (fen or empty), ``vat_rate_bp, category, age_restricted, weighed,
    active`` (true/false/1/0/yes/no); only ``product_id, name_zh, unit_price`` are required.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if fmt == "json":
            book = PriceBook.model_validate_json(raw)
            if version is not None and version != book.version:
                raise CatalogError(f"{source}: version {book.version!r}, expected {version!r}")
            return book
        if fmt == "csv":
            products = list(_csv_products(raw.decode("utf-8-sig"), source))
            ver = version or "csv-" + hashlib.sha256(raw).hexdigest()[:12]
            return PriceBook(version=ver, products=tuple(products))
    except ValidationError as err:
        raise CatalogError(_error_line(source, err)) from err
    except UnicodeDecodeError as err:
        raise CatalogError(f"{source}: not UTF-8 text") from err
    raise CatalogError(f"{source}: unknown price book format {fmt!r} (json or csv)")


_TRUE = {"1", "true", "yes", "y", "是"}
_FALSE = {"", "0", "false", "no", "n", "否"}
_CSV_FIELDS = set(Product.model_fields)


def _csv_bool(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise CatalogError(f"{where}: not a yes/no value: {value!r}")


def _csv_products(text: str, source: str) -> Iterable[Product]:
    reader = csv.DictReader(io.StringIO(text))
    unknown = set(reader.fieldnames or ()) - _CSV_FIELDS
    if unknown:
        raise CatalogError(f"{source}: unknown CSV column(s): {', '.join(sorted(unknown))}")
    for n, row in enumerate(reader, start=2):
        where = f"{source}: line {n}"
        fields: dict[str, object] = {}
        for key, value in row.items():
            if key is None:
                raise CatalogError(f"{where}: more cells than columns")
            value = (value or "").strip()
            if key == "barcodes":
                fields[key] = tuple(c.strip() for c in value.split("|") if c.strip())
            elif key in ("unit_price", "member_price", "vat_rate_bp"):
                if value == "" and key != "unit_price":
                    continue
                try:
                    fields[key] = int(value)
                except ValueError:
                    raise CatalogError(f"{where}: {key} must be an integer, got {value!r}") from None
            elif key in ("age_restricted", "weighed", "active"):
                if value != "":
                    fields[key] = _csv_bool(value, f"{where}: {key}")
            elif value != "" or key in ("product_id", "name_zh"):
                fields[key] = value
        try:
            yield Product.model_validate(fields)
        except ValidationError as err:
            raise CatalogError(_error_line(where, err)) from err


def load_price_book(path: str | Path, *, version: str | None = None) -> PriceBook:
    """Load ``*.json`` (whole book) or ``*.csv`` (products only) from ``path``.

    Raises:
        CatalogError: unreadable file or invalid content, one line naming the field.
    """
    path = Path(path)
    fmt = "csv" if path.suffix.lower() == ".csv" else "json"
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CatalogError(f"{path}: {err.strerror or err}") from err
    return parse_price_book(data, fmt=fmt, version=version, source=str(path))


def _now_ok(start: datetime | None, end: datetime | None, now: datetime | None) -> bool:
    """Validity window check used by pricing: no window = always; a window needs ``now``."""
    if start is None and end is None:
        return True
    if now is None:
        return False
    return (start is None or now >= start) and (end is None or now < end)
