"""The offers a price book carries: unit promotions (percentage, fixed price, buy X get Y,
bundles) and 满减 full reductions with their tiers.

Their own module so that :mod:`contract.campaigns` can compile a campaign into one without
importing the book that carries campaigns (:mod:`contract.pricebook` re-exports them as
parts of the book's public model).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MULTI_UNIT_KINDS",
    "BundleItem",
    "BundlePromotion",
    "BuyXGetYPromotion",
    "FixedPricePromotion",
    "FullReduction",
    "PercentagePromotion",
    "Promotion",
    "Tier",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PromotionBase(_Model):
    promo_id: str = Field(min_length=1, max_length=64)
    label_zh: str = Field(min_length=1)
    label_en: str | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = Field(default=None, description="exclusive")
    member_only: bool = False
    member_levels: tuple[str, ...] = Field(
        default=(), description="if set, only members of these levels (implies member_only)"
    )

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PercentagePromotion(_PromotionBase):
    """``off_bp`` off the unit price (2000 = 20 % off, 八折) of listed products/categories."""

    kind: Literal["percentage"] = "percentage"
    products: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    off_bp: int = Field(gt=0, le=10000)

    @model_validator(mode="after")
    def _targets(self) -> PercentagePromotion:
        if not self.products and not self.categories:
            raise ValueError("a percentage promotion needs products or categories")
        return self


class FixedPricePromotion(_PromotionBase):
    """Listed products sell at ``price`` fen per unit (per kg when weighed), 特价."""

    kind: Literal["fixed_price"] = "fixed_price"
    products: tuple[str, ...] = Field(min_length=1)
    price: int = Field(ge=0)


class BuyXGetYPromotion(_PromotionBase):
    """Among the listed products, in every ``buy + get`` units the ``get`` cheapest are free."""

    kind: Literal["buy_x_get_y"] = "buy_x_get_y"
    products: tuple[str, ...] = Field(min_length=1)
    buy: int = Field(ge=1, le=100)
    get: int = Field(ge=1, le=100)


class BundleItem(_Model):
    product_id: str = Field(min_length=1)
    qty: int = Field(default=1, ge=1, le=100)


class BundlePromotion(_PromotionBase):
    """A set of products (``items``) sells together at ``price`` fen, 组合价."""

    kind: Literal["bundle"] = "bundle"
    items: tuple[BundleItem, ...] = Field(min_length=1)
    price: int = Field(ge=0)

    @field_validator("items")
    @classmethod
    def _unique(cls, items: tuple[BundleItem, ...]) -> tuple[BundleItem, ...]:
        if len({i.product_id for i in items}) != len(items):
            raise ValueError("a product is listed twice in a bundle; use qty")
        return items


Promotion = Annotated[
    PercentagePromotion | FixedPricePromotion | BuyXGetYPromotion | BundlePromotion,
    Field(discriminator="kind"),
]
MULTI_UNIT_KINDS = ("buy_x_get_y", "bundle")


class Tier(_Model):
    threshold: int = Field(gt=0, description="fen the eligible goods must reach")
    off: int = Field(gt=0, description="fen off at that threshold")


class FullReduction(_Model):
    """满减: order-level tiers on the eligible goods (e.g. 满50减5, 满100减15)."""

    reduction_id: str = Field(min_length=1, max_length=64)
    label_zh: str = Field(min_length=1)
    label_en: str | None = None
    tiers: tuple[Tier, ...] = Field(min_length=1)
    categories: tuple[str, ...] = Field(default=(), description="empty = every category")
    exclude_categories: tuple[str, ...] = ()
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    member_only: bool = False
    member_levels: tuple[str, ...] = ()

    @field_validator("tiers")
    @classmethod
    def _ordered(cls, tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
        tiers = tuple(sorted(tiers, key=lambda t: t.threshold))
        for a, b in pairwise(tiers):
            if b.threshold == a.threshold or b.off <= a.off:
                raise ValueError("tiers need distinct thresholds and larger discounts for larger ones")
        for t in tiers:
            if t.off >= t.threshold:
                raise ValueError(f"tier off {t.off} must be below its threshold {t.threshold}")
        return tiers
