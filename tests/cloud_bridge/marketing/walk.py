"""The marketing part of the OpenAPI success walk (``test_openapi_fuzz``). Walks run in
domain order (marketing before members): the walker registers first (idempotent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
    walk_deals(call)


def walk_deals(call: Any) -> None:
    """Flash sales and group buying: staff set them up, two shoppers buy and group."""
    now = datetime.now(UTC)
    deal = {"store": "s1", "product_id": "coke-330", "name_zh": "可口可乐", "list_price": 250,
            "price": 150, "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat()}
    sale = call("POST", f"{A}/flash-sales", body={**deal, "stock": 10, "per_user_limit": 2})
    sid = {"sale_id": sale["id"]}
    call("GET", f"{A}/flash-sales", query={"store": "s1"})
    call("GET", f"{A}/flash-sales/{{sale_id}}", path_parameters=sid)
    call("GET", "/api/v1/mp/flash-sales", query={"store": "s1"})
    call("POST", "/api/v1/mp/flash-sales/{sale_id}/buy", path_parameters=sid, body={"qty": 1})
    call("POST", f"{A}/flash-sales/{{sale_id}}/end", path_parameters=sid)
    gd = call("POST", f"{A}/group-deals", body={**deal, "group_size": 2, "group_ttl_s": 600})
    did = {"deal_id": gd["id"]}
    call("GET", f"{A}/group-deals", query={"limit": 5})
    call("GET", f"{A}/group-deals/{{deal_id}}", path_parameters=did)
    call("GET", "/api/v1/mp/group-deals", query={"store": "s1"})
    g = call("POST", "/api/v1/mp/group-deals/{deal_id}/groups", path_parameters=did, body={})
    gid = {"group_id": g["group_id"]}
    call.tokens["grouper"] = call("POST", "/api/v1/mp/session", body={"code": "grouper"})["token"]
    call("POST", "/api/v1/mp/groups/{group_id}/join", path_parameters=gid, token="grouper")
    call("GET", "/api/v1/mp/groups/{group_id}", path_parameters=gid)
    call("POST", f"{A}/group-deals/{{deal_id}}/end", path_parameters=did)
