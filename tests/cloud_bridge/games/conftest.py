"""Fixtures of the game tests: the member tests' bridge, staff and shoppers, and helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cloud_bridge import auth, keys
from cloud_bridge.members.service import register as register_member

from ..members.conftest import client, member_key, people, register  # noqa: F401

A = "/api/v1/admin/games/lucky-draws"
M = "/api/v1/mp/games/lucky-draws"


def game_body(prizes: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    """A lucky draw open from an hour ago for a day (times computed now, not at import)."""
    at = datetime.now(UTC)
    return {"name_zh": "幸运大转盘", "name_en": "Lucky wheel",
            "starts_at": (at - timedelta(hours=1)).isoformat(),
            "ends_at": (at + timedelta(days=1)).isoformat(), "daily_cap": 3,
            "member_cap": 10, "prizes": prizes, **over}


def points_prize(weight: int, stock: int, pts: int = 50) -> dict[str, Any]:
    return {"name_zh": f"{pts}积分", "name_en": f"{pts} points", "kind": "points",
            "points": pts, "weight": weight, "stock": stock}


def fallback(weight: int) -> dict[str, Any]:
    return {"name_zh": "谢谢参与", "name_en": "Thanks", "kind": "nothing", "weight": weight,
            "fallback": True}


async def live_game(http, headers, prizes: list[dict[str, Any]], **over: Any) -> dict:
    r = await http.post(A, json=game_body(prizes, **over), headers=headers)
    assert r.status == 201, await r.text()
    game = await r.json()
    r = await http.post(f"{A}/{game['id']}/start", headers=headers)
    assert r.status == 200, await r.text()
    return await r.json()


async def shoppers(http, db, n: int) -> list[dict[str, str]]:
    """``n`` registered members with a mini-program session each: their headers."""
    appid = http.server.app[keys.CONFIG_KEY].mp.app_id
    out = []
    async with db.session() as s:
        for i in range(n):
            token, _ = await auth.mp_login(s, f"crowd-{i}", 3600)
            await register_member(s, appid=appid, openid=f"crowd-{i}")
            out.append({"Authorization": f"Bearer {token}"})
    return out


async def draw(http, headers, game_id: int, request_id: str):
    return await http.post(f"{M}/{game_id}/draw", json={"request_id": request_id},
                             headers=headers)
