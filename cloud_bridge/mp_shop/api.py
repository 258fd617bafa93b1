"""Mini-program shop routes: the store picker and product search.

- ``GET /api/v1/mp/stores``: the stores a shopper can pick: every store with a
  published price book or a kiosk in the fleet view.
- ``GET /api/v1/mp/stores/{store}/products?q=``: the store's sellable products
  (active, sold by the piece: a weighed product needs a scale), found by a part of
  the Chinese or English name or the product id, or by a whole barcode; prices in fen
  from the same price book that prices the order (``POST /api/v1/mp/orders``).

Both need a mini-program session (``auth="mp"``) like the rest of ``/api/v1/mp``; they
show nothing that is the caller's own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cloud_bridge import keys
from cloud_bridge.api_mp import store_price_book
from cloud_bridge.catalog import PublishedPriceBook
from cloud_bridge.models import Kiosk
from cloud_bridge.openapi import Call, QueryModel, Route, ShortText
from common.jsontypes import JsonObject
from contract.pricebook import Product

M = "/api/v1/mp"


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShopStore(Out):
    store: str
    price_book: bool = Field(description="the store has a published price book")


class ShopStoreList(Out):
    items: list[ShopStore]


class ShopProduct(Out):
    product_id: str
    name_zh: str
    name_en: str | None
    category: str
    unit_price: int = Field(description="fen")
    member_price: int | None = Field(description="fen; null = no member price")
    age_restricted: bool


class ShopProductList(Out):
    store: str
    currency: str
    total: int
    items: list[ShopProduct]


class ProductQuery(QueryModel):
    q: ShortText | None = Field(default=None, description="part of a name or id, or a barcode")
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=10**6)


async def list_stores(call: Call) -> JsonObject:
    """The stores a shopper can order from, by store id."""
    async with call.app[keys.DB_KEY].read() as s:
        priced = set(await s.scalars(select(PublishedPriceBook.store)
                                     .where(PublishedPriceBook.is_current.is_(True))))
        fleet = set(await s.scalars(select(Kiosk.store).distinct()))
    return {"items": [{"store": st, "price_book": st in priced}
                      for st in sorted(priced | fleet)]}


def matches(product: Product, needle: str) -> bool:
    """Whether a product answers a search: part of a name or id, or a whole barcode."""
    if needle in product.barcodes:
        return True
    names = (product.name_zh, product.name_en or "", product.product_id)
    return any(needle.casefold() in name.casefold() for name in names)


async def search_products(call: Call) -> JsonObject:
    """A store's products sold by the piece, by name; the price book's order."""
    q, store = call.query_as(ProductQuery), call.path["store"]
    book = await store_price_book(call, store)
    found = [p for p in book.products if p.active and not p.weighed
             and (q.q is None or matches(p, q.q.strip()))]
    return {"store": store, "currency": book.currency, "total": len(found), "items": [
        {"product_id": p.product_id, "name_zh": p.name_zh, "name_en": p.name_en,
         "category": p.category, "unit_price": p.unit_price, "member_price": p.member_price,
         "age_restricted": p.age_restricted} for p in found[q.offset:q.offset + q.limit]]}


ROUTES = [
    Route("GET", f"{M}/stores", list_stores, "Stores to pick", "mp", auth="mp",
          response=ShopStoreList),
    Route("GET", f"{M}/stores/{{store}}/products", search_products, "Search a store's products",
          "mp", auth="mp", query=ProductQuery, response=ShopProductList,
          responses={503: "the store has no price book for mini-program orders"}),
]
