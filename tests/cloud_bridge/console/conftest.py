"""Fixtures of the console tests: a running bridge (no MQTT) with the console, and logins."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge import auth
from cloud_bridge.app import create_app
from cloud_bridge.console.web import mount_console

from ..test_api import api_config

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def console_app(cfg, db):
    """The bridge app with the console mounted (by create_app, or here if it does not)."""
    app = create_app(cfg, db=db)
    if not any(getattr(r, "canonical", "") == "/console" for r in app.router.resources()):
        mount_console(app)
    return app


@pytest.fixture
async def console(db, db_url):
    """A bridge HTTP server with the console on the test database, and its client."""
    cfg = api_config(db_url)
    cfg.console.fleet_sample_s = 0  # the tests sample the fleet themselves, at set times
    async with TestClient(TestServer(console_app(cfg, db))) as client:
        yield client


async def add_user(db, name: str, role: str, store: str | None = None) -> None:
    async with db.session() as s:
        await auth.create_admin_user(s, name, f"secret-{name}", role, store)


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def login(client, name: str, secret: str | None = None, next_: str = "/console/"):
    """Log in through the form like a browser; returns the response after the redirect."""
    client.session.cookie_jar.clear()
    page = await client.get("/console/login")
    token = csrf_of(await page.text())
    return await client.post("/console/login", data={
        "csrf": token, "username": name, "secret": secret or f"secret-{name}", "next": next_})


async def page_csrf(client, path: str = "/console/") -> str:
    r = await client.get(path)
    assert r.status == 200, await r.text()
    return csrf_of(await r.text())
