"""The console's update page (``/console/fleet/updates``) over HTTP: each kiosk's execution
of its newest job (stage, state, version) and the jobs, scoped by role."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge import auth
from cloud_bridge.jobs import runtime
from tests.cloud_bridge.console.conftest import console_app
from tests.cloud_bridge.console.conftest import login as console_login

from .conftest import add_user, boss, bridge_config, make_bundle, online
from .test_api import A, Sent, report, upload

PAGE = "/console/fleet/updates"


@pytest.fixture
async def console(db, db_url, signing_key):
    """The bridge with the console mounted, on the test database."""
    cfg = bridge_config(db_url)
    cfg.console.fleet_sample_s = 0
    async with TestClient(TestServer(console_app(cfg, db))) as c:
        c.bridge_config = cfg
        yield c


async def test_update_page_shows_each_kiosks_execution(console, db, signing_key, tmp_path):
    h = await boss(console, db)
    await online(db, "s1", "k0", "k1")
    await online(db, "s2", "x1")
    b = await upload(console, h, make_bundle(tmp_path / "a.tar", signing_key, "1.1.0"))
    job = await (await console.post(f"{A}/jobs", headers=h, json={
        "bundle_sha256": b["sha256"], "target": ["store:s1", "store:s2"],
        "stages": [33, 100], "abort_health_failures": 5})).json()
    sent, cfg = Sent(), console.bridge_config
    await runtime.tick_once(db, cfg, sent)
    (first,) = sent.commands()
    await report(db, first, "rolled_back", "health check: printer ok -> error")
    await runtime.tick_once(db, cfg, sent)

    assert (await console_login(console, "boss")).status == 200
    r = await console.get(PAGE)
    text = await r.text()
    assert r.status == 200, text
    assert "<title>软件更新" in text and f"#{job['id']}" in text
    row = text[text.index('data-key="s1/k0"'):]
    row = row[:row.index("</tr>")]
    # The version it runs, the job's version, stage 1 of 2 (33 %), rolled back and why.
    assert "<td>1.0.0</td>" in row and "<td>1.1.0</td>" in row
    assert "1/2 (33%)" in row and "已回滚" in row and "health check: printer ok -&gt; error" in row
    other = text[text.index('data-key="s2/x1"'):]
    assert "排队中" in other[:other.index("</tr>")]
    assert 'id="update-jobs"' in text and "已回滚 1 · 失败 0 · 已被取代 0 · 排队中 2" in text

    # Store staff: their store's kiosks, no jobs list; another store is refused.
    await add_user(db, "clerk", auth.STORE_STAFF, "s2")
    assert (await console_login(console, "clerk")).status == 200
    text = await (await console.get(PAGE)).text()
    assert 'data-key="s2/x1"' in text and 's1/k0' not in text and "update-jobs" not in text
    assert (await console.get(PAGE + "?store=s1")).status == 403
    await add_user(db, "fin", auth.FINANCE)
    assert (await console_login(console, "fin")).status == 200
    assert (await console.get(PAGE)).status == 403
