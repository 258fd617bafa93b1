"""The mini-program shop part of the OpenAPI success walk (``test_openapi_fuzz``)."""

from __future__ import annotations

from typing import Any

M = "/api/v1/mp"


def walk(call: Any, ctx: dict[str, Any]) -> None:
    stores = call("GET", f"{M}/stores")
    assert "s1" in [s["store"] for s in stores["items"]]
    found = call("GET", f"{M}/stores/{{store}}/products", path_parameters={"store": "s1"},
                 query={"q": ctx["product"]})
    assert [p["product_id"] for p in found["items"]] == [ctx["product"]]

    # An order priced with one of the walker's coupons (the walker joined in the marketing
    # walk): locked to it, so a second order with the same coupon is refused.
    t = call("POST", "/api/v1/admin/marketing/coupon-templates", body={
        "name_zh": "立减1分", "name_en": "1 fen off", "kind": "fixed", "value": 1,
        "total_limit": 10, "per_user_limit": 1, "valid_days": 1})
    coupon = call("POST", f"{M}/coupons/claim", body={"template_id": t["id"]})
    body = {"store": "s1", "lines": [{"product_id": ctx["product"], "qty": 1}],
            "coupon_id": coupon["id"]}
    order = call("POST", f"{M}/orders", body=body)
    assert order["details"]["coupons"] == [coupon["id"]]
    call("POST", f"{M}/orders", body=body, expect=409)
