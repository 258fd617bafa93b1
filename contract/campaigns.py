"""Marketing campaigns as the price book carries them (MKT-4..7).

A campaign is what head office or a store runs for a while: 满减 (full reduction),
a holiday sale (a date window, a discount on categories or products), a new-product
launch (a launch price or discount on listed products) or a member-only offer
(restricted to member levels). The cloud keeps campaigns in its database and ships the
ones still running (or scheduled) inside each published :class:`~contract.pricebook.PriceBook`
(``campaigns``), so a kiosk prices with them offline, inside their window.

The pricing engine compiles each campaign into the offer it is: a percentage or
fixed-price unit offer (:class:`PercentagePromotion` / :class:`FixedPricePromotion`), or
a :class:`FullReduction`, with the campaign's id, window and member levels. Campaigns
then compete with the book's own offers by the engine's usual rules (the best unit offer
per line, the one 满减 worth most). One rule is added for them: a cart never costs more
with the book's campaigns than without them (a campaign discount can push the goods
below a 满减 or coupon threshold; the engine then prices without the campaigns).

The offers it compiles to live in :mod:`contract.offers`, so this module and the book
that carries campaigns (:mod:`contract.pricebook`) import no cycle.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from .offers import FixedPricePromotion, FullReduction, PercentagePromotion, Tier

__all__ = ["CAMPAIGN_KINDS", "Campaign", "CampaignTier"]

CampaignKind = Literal["full_reduction", "holiday", "new_product", "member_only"]
CAMPAIGN_KINDS: tuple[str, ...] = ("full_reduction", "holiday", "new_product", "member_only")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignTier(_Model):
    """One 满减 tier: goods worth ``threshold`` fen or more get ``off`` fen off."""

    threshold: int = Field(gt=0)
    off: int = Field(gt=0)


class Campaign(_Model):
    """One campaign; which fields it needs depends on ``kind`` (checked here).

    * ``full_reduction``: ``tiers`` over ``categories`` (empty: all) minus
      ``exclude_categories``;
    * ``holiday``: ``start`` and ``end``, ``off_bp`` (or ``price``) on ``products``/``categories``;
    * ``new_product``: ``products`` (no categories) at ``price`` or ``off_bp`` off;
    * ``member_only``: ``member_levels`` and either an offer on goods or ``tiers``.

    ``member_levels`` may restrict any kind; a member-only campaign must name them.
    """

    campaign_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    kind: CampaignKind
    label_zh: str = Field(min_length=1, max_length=64)
    label_en: str | None = Field(default=None, max_length=64)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = Field(default=None, description="exclusive")
    member_levels: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    off_bp: int | None = Field(default=None, gt=0, le=10000, description="2000 = 20 % off")
    price: int | None = Field(default=None, ge=0, description="fen per unit (per kg if weighed)")
    tiers: tuple[CampaignTier, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        offer = self.off_bp is not None or self.price is not None
        if self.off_bp is not None and self.price is not None:
            raise ValueError("a campaign gives off_bp or price, not both")
        if self.price is not None and (self.categories or not self.products):
            raise ValueError("a campaign price is per product: list products, no categories")
        if self.tiers and offer:
            raise ValueError("a campaign is a full reduction (tiers) or an offer on goods")
        if self.kind == "full_reduction" and not self.tiers:
            raise ValueError("a full-reduction campaign needs tiers")
        if self.kind in ("holiday", "new_product") and not offer:
            raise ValueError(f"a {self.kind} campaign needs off_bp or price")
        if self.kind == "member_only" and not (offer or self.tiers):
            raise ValueError("a member-only campaign needs an offer or tiers")
        if self.kind == "holiday" and (self.start is None or self.end is None):
            raise ValueError("a holiday campaign needs start and end")
        if self.kind == "new_product" and (self.categories or not self.products):
            raise ValueError("a new-product campaign lists products, not categories")
        if self.kind == "member_only" and not self.member_levels:
            raise ValueError("a member-only campaign names its member_levels")
        if offer and not (self.products or self.categories):
            raise ValueError("an offer on goods needs products or categories")
        if self.exclude_categories and not self.tiers:
            raise ValueError("exclude_categories applies to full reductions only")
        if self.tiers:
            self.reduction()  # the book's own tier rules (ascending, off below threshold)
        return self

    @property
    def is_reduction(self) -> bool:
        """A 满减 (order level) rather than an offer on goods (line level)."""
        return bool(self.tiers)

    def offer(self) -> PercentagePromotion | FixedPricePromotion:
        """The unit offer this campaign compiles to (not for 满减 campaigns)."""
        common = {"promo_id": self.campaign_id, "label_zh": self.label_zh,
                  "label_en": self.label_en, "start": self.start, "end": self.end,
                  "member_only": bool(self.member_levels),
                  "member_levels": self.member_levels, "products": self.products}
        if self.price is not None:
            return FixedPricePromotion.model_validate({**common, "price": self.price})
        return PercentagePromotion.model_validate(
            {**common, "categories": self.categories, "off_bp": self.off_bp})

    def reduction(self) -> FullReduction:
        """The :class:`FullReduction` this 满减 campaign compiles to."""
        try:
            return FullReduction(
                reduction_id=self.campaign_id, label_zh=self.label_zh, label_en=self.label_en,
                tiers=tuple(Tier(threshold=t.threshold, off=t.off) for t in self.tiers),
                categories=self.categories, exclude_categories=self.exclude_categories,
                start=self.start, end=self.end, member_only=bool(self.member_levels),
                member_levels=self.member_levels)
        except ValidationError as err:
            raise ValueError(err.errors()[0]["msg"].removeprefix("Value error, ")) from None

    def fitted(self, product_ids: set[str] | frozenset[str],
               categories: set[str] | frozenset[str]) -> Campaign | None:
        """This campaign narrowed to what one store's book sells, or ``None`` if nothing.

        A chain-wide campaign names goods some stores do not carry: those are left out of
        that store's book (a book refuses offers on unknown goods).
        """
        products = tuple(p for p in self.products if p in product_ids)
        cats = tuple(c for c in self.categories if c in categories)
        excl = tuple(c for c in self.exclude_categories if c in categories)
        if (self.products or self.categories) and not (products or cats):
            return None
        if self.price is not None and not products:
            return None
        if self.tiers and self.categories and not cats:
            return None
        if (products, cats, excl) == (self.products, self.categories, self.exclude_categories):
            return self
        return self.model_copy(update={"products": products, "categories": cats,
                                       "exclude_categories": excl})
