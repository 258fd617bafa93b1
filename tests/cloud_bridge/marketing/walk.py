"""The marketing part of the OpenAPI success walk (``test_openapi_fuzz``). Walks run in
domain order (marketing before members): the walker registers first (idempotent)."""

from __future__ import annotations

from typing import Any

A = "/api/v1/admin/marketing"
M = "/api/v1/mp/coupons"


def walk(call: Any, ctx: dict[str, Any]) -> None:
    t = call("POST", f"{A}/coupon-templates", body={
        "name_zh": "满50减10", "name_en": "10 off 50", "kind": "fixed", "value": 1000,
        "threshold": 5000, "total_limit": 100, "per_user_limit": 2, "valid_days": 30,
        "categories": ["dairy"]})
    tid = {"template_id": t["id"]}
    call("GET", f"{A}/coupon-templates", query={"limit": 10})
    call("GET", f"{A}/coupon-templates/{{template_id}}", path_parameters=tid)
    me = call("POST", "/api/v1/mp/member/register", body={"home_store": "s1"})
    call("POST", f"{A}/coupon-templates/{{template_id}}/issue", path_parameters=tid,
         body={"member_ids": [me["member_id"]]})
    call("POST", f"{M}/claim", body={"template_id": t["id"]})
    call("GET", M, query={"status": "unused"})
