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
    c = call("POST", f"{M}/claim", body={"template_id": t["id"]})
    call("GET", f"{M}/{{coupon_id}}/code", path_parameters={"coupon_id": c["id"]})
    call("GET", M, query={"status": "unused"})
    c = call("POST", f"{A}/campaigns", body={
        "kind": "full_reduction", "name_zh": "满100减15", "categories": ["dairy"],
        "tiers": [{"threshold": 10000, "off": 1500}]})
    cid = {"campaign_id": c["id"]}
    call("GET", f"{A}/campaigns", query={"status": "running"})
    call("GET", f"{A}/campaigns/{{campaign_id}}", path_parameters=cid)
    call("GET", f"{A}/campaigns/{{campaign_id}}/results", path_parameters=cid)
    call("POST", f"{A}/campaigns/{{campaign_id}}/end", path_parameters=cid)
