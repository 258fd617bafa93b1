"""The games part of the OpenAPI success walk (``test_openapi_fuzz``). Walks run in domain
order (games first of the member-facing ones): the walker registers first (idempotent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

A = "/api/v1/admin/games/lucky-draws"
M = "/api/v1/mp/games/lucky-draws"


def walk(call: Any, ctx: dict[str, Any]) -> None:
    at = datetime.now(UTC)
    prizes = [{"name_zh": "50积分", "name_en": "50 points", "kind": "points", "points": 50,
               "weight": 1, "stock": 10},
              {"name_zh": "谢谢参与", "name_en": "Thanks", "kind": "nothing", "weight": 0,
               "fallback": True}]
    body = {"name_zh": "幸运大转盘", "name_en": "Lucky wheel",
            "starts_at": (at - timedelta(hours=1)).isoformat(),
            "ends_at": (at + timedelta(days=1)).isoformat(), "daily_cap": 3, "member_cap": 10,
            "prizes": prizes}
    game = call("POST", A, body={**body, "store": "s1"})
    gid = {"game_id": game["id"]}
    call("PUT", f"{A}/{{game_id}}", path_parameters=gid, body={**body, "daily_cap": 2})
    call("POST", f"{A}/{{game_id}}/start", path_parameters=gid)
    call("GET", A, query={"store": "s1", "status": "live"})
    call("GET", f"{A}/{{game_id}}", path_parameters=gid)
    call("POST", "/api/v1/mp/member/register", body={"home_store": "s1"})
    call("GET", M, query={"store": "s1"})
    call("POST", f"{M}/{{game_id}}/draw", path_parameters=gid, body={"request_id": "walk-1"})
    call("GET", f"{M}/{{game_id}}/draws", path_parameters=gid)
    call("GET", f"{A}/{{game_id}}/draws", path_parameters=gid)
    call("POST", f"{A}/{{game_id}}/end", path_parameters=gid)
