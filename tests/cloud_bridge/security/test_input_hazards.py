"""Hostile input over HTTP: deeply nested JSON, and an upstream that loops redirects."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import TestServer

from cloud_bridge import auth

from .conftest import add_user, login

SECRET = "mp-secret-do-not-leak-4242"


async def test_deeply_nested_json_is_400_not_500(client, db):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(client, "boss")
    for depth in (40, 100_000):  # past the bound; past Python's recursion limit
        body = "[" * depth + "]" * depth
        r = await client.post("/api/v1/admin/session", data=body,
                              headers={"Content-Type": "application/json"})
        assert r.status == 400, (depth, await r.text())
        assert "nested" in (await r.json())["detail"]
    nested: object = {"x": 1}
    for _ in range(40):
        nested = {"deeper": nested}
    r = await client.put("/api/v1/admin/kiosks/s1/k1/shadow", headers=boss,
                         data=json.dumps({"version": 1, "config": nested}),
                         )
    assert r.status == 400, await r.text()
    r = await client.post("/api/v1/mp/session", data="{" * 50_000,
                          headers={"Content-Type": "application/json"})
    assert r.status == 400


async def test_code2session_redirect_loop_never_echoes_the_secret(client, monkeypatch):
    monkeypatch.setenv("BRIDGE_MP_APP_SECRET", SECRET)
    hits: list[str] = []

    async def loop(request: web.Request) -> web.Response:
        hits.append(request.path_qs)
        raise web.HTTPFound(location=str(request.url))  # the same URL, secret and all

    upstream = web.Application()
    upstream.router.add_get("/sns/jscode2session", loop)
    async with TestServer(upstream) as server:
        from cloud_bridge import keys

        client.app[keys.CONFIG_KEY].mp.code2session_url = str(
            server.make_url("/sns/jscode2session"))
        r = await client.post("/api/v1/mp/session", json={"code": "abc"})
        text = await r.text()
    assert r.status == 502, text
    assert SECRET not in text and "jscode2session" not in text and "127.0.0.1" not in text
    assert hits and SECRET in hits[0]  # the secret did go to the upstream, and only there
