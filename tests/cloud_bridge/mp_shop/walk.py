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
