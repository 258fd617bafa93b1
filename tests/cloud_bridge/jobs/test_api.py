"""Fleet jobs through the HTTP API and the scheduler round, on SQLite and PostgreSQL.

The kiosks' side is played through the bridge's real ingest functions
(:func:`cloud_bridge.fleet.record_command_result`): what a kiosk's ``cmd/res`` reports
become once the ingest has stored them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from cloud_bridge import auth, fleet
from cloud_bridge.jobs import runtime
from contract.bundles import build_bundle
from contract.signing import generate_signing_key, verify_command
from contract.wire.base import decode
from contract.wire.commands import Command, CommandResult, JobArgs, progress_cmd_id

from .conftest import add_user, boss, login, make_bundle, online

A = "/api/v1/admin/fleet"


class Sent:
    """Publishes recorded as the broker would get them (topic, payload)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []

    async def __call__(self, topic: str, payload: bytes, qos: int = 1, **kw) -> None:
        self.items.append((topic, payload))

    def commands(self) -> list[Command]:
        out = [decode(Command, p) for _, p in self.items]
        self.items.clear()
        return out


async def upload(client, headers, path) -> dict:
    r = await client.post(f"{A}/bundles", data=path.read_bytes(),
                          headers={**headers, "Content-Type": "application/octet-stream"})
    assert r.status == 201, await r.text()
    return await r.json()


async def report(db, cmd: Command, state: str, reason: str | None = None, ok: bool = True):
    """The kiosk's report of ``state`` for ``cmd``, stored as the ingest stores it."""
    args = JobArgs.model_validate(cmd.args)
    res = CommandResult(cmd_id=progress_cmd_id(cmd.cmd_id, state), ok=ok,
                        result={"job_id": args.job_id, "state": state, "reason": reason})
    async with db.session() as s:
        await fleet.record_command_result(s, cmd.store, cmd.kiosk, res)


async def detail(client, headers, job_id) -> dict:
    r = await client.get(f"{A}/jobs/{job_id}", headers=headers)
    assert r.status == 200, await r.text()
    return await r.json()


async def test_bundle_upload_refuses_a_foreign_signature(client, db, signing_key, tmp_path):
    h = await boss(client, db)
    forged = make_bundle(tmp_path / "forged.tar", generate_signing_key())
    r = await client.post(f"{A}/bundles", data=forged.read_bytes(), headers=h)
    assert r.status == 422 and "signature" in (await r.json())["detail"]
    good = await upload(client, h, make_bundle(tmp_path / "b.tar", signing_key))
    assert good["version"] == "1.1.0" and good["kind"] == "software"
    r = await client.post(f"{A}/bundles", data=b"not a tar", headers=h)
    assert r.status == 422


async def test_staged_rollout_signed_commands_and_download(client, db, signing_key, tmp_path):
    h = await boss(client, db)
    await online(db, "s1", *[f"k{i}" for i in range(10)])
    await online(db, "s2", "x1")  # another store: not targeted
    b = await upload(client, h, make_bundle(tmp_path / "b.tar", signing_key))
    r = await client.post(f"{A}/jobs", headers=h, json={
        "bundle_sha256": b["sha256"], "target": ["store:s1"], "stages": [10, 50, 100],
        "max_concurrency": 3})
    assert r.status == 201, await r.text()
    job = await r.json()
    assert job["counts"]["queued"] == 10 and job["state"] == "running"

    sent, cfg = Sent(), client.bridge_config
    assert await runtime.tick_once(db, cfg, sent) == 1  # 10 % of 10
    (cmd,) = sent.commands()
    verify_command(cmd, signing_key.public_key())  # signed on the existing command path
    assert cmd.name == "job" and (cmd.store, cmd.kiosk) == ("s1", "k0")
    args = JobArgs.model_validate(cmd.args)
    assert args.sha256 == b["sha256"] and args.size == b["size"]
    assert await runtime.tick_once(db, cfg, sent) == 0  # in flight: no more in stage 0

    # The kiosk downloads with its token, resuming with Range; a wrong token is 401.
    url = urlsplit(args.url)
    path = f"{url.path}?{url.query}"
    full = await client.get(path)
    assert full.status == 200
    body = await full.read()
    assert body == (tmp_path / "b.tar").read_bytes()
    part = await client.get(path, headers={"Range": "bytes=1000-"})
    assert part.status == 206 and await part.read() == body[1000:]
    assert (await client.get(path.replace("kiosk=k0", "kiosk=k1"))).status == 401
    assert (await client.get(url.path)).status == 401

    for state in ("downloading", "installing", "health_checking"):
        await report(db, cmd, state)
    await runtime.tick_once(db, cfg, sent)
    d = await detail(client, h, job["id"])
    assert {e["kiosk"]: e["state"] for e in d["executions"]}["k0"] == "health_checking"
    await report(db, cmd, "succeeded")
    assert await runtime.tick_once(db, cfg, sent) == 3  # stage 1 (50 %): capped at 3
    cmds = sent.commands()
    assert (await detail(client, h, job["id"]))["stage"] == 1

    # Paused: nothing goes out; resumed: it goes on.
    assert (await client.post(f"{A}/jobs/{job['id']}/pause", headers=h)).status == 200
    for c in cmds:
        await report(db, c, "succeeded")
    assert await runtime.tick_once(db, cfg, sent) == 0
    assert (await client.post(f"{A}/jobs/{job['id']}/pause", headers=h)).status == 409
    assert (await client.post(f"{A}/jobs/{job['id']}/resume", headers=h)).status == 200
    while True:
        n = await runtime.tick_once(db, cfg, sent)
        cmds = sent.commands()
        if not n:
            break
        for c in cmds:
            await report(db, c, "succeeded")
    d = await detail(client, h, job["id"])
    assert d["state"] == "completed" and d["counts"]["succeeded"] == 10
    assert all(e["kiosk"] != "x1" for e in d["executions"])
    lst = await (await client.get(f"{A}/jobs", headers=h)).json()
    assert lst["items"][0]["id"] == job["id"]
    assert (await client.post(f"{A}/jobs/{job['id']}/cancel", headers=h)).status == 409


async def test_bad_bundle_rolls_back_and_the_job_aborts(client, db, signing_key, tmp_path):
    h = await boss(client, db)
    await online(db, "s1", *[f"k{i}" for i in range(20)])
    b = await upload(client, h, make_bundle(tmp_path / "bad.tar", signing_key, "9.9.9"))
    job = await (await client.post(f"{A}/jobs", headers=h, json={
        "bundle_sha256": b["sha256"], "target": ["store:s1"], "stages": [10, 100],
        "abort_failure_pct": 50, "abort_min_finished": 2})).json()
    sent, cfg = Sent(), client.bridge_config
    await runtime.tick_once(db, cfg, sent)
    first = sent.commands()
    assert len(first) == 2
    await report(db, first[0], "rolled_back", "health check: broker not connected in 30 s")
    await report(db, first[1], "rolled_back", "health check: printer worse than before")
    assert await runtime.tick_once(db, cfg, sent) == 0
    d = await detail(client, h, job["id"])
    assert d["state"] == "aborted" and "2/2" in d["state_reason"]
    assert d["counts"]["rolled_back"] == 2 and d["counts"]["queued"] == 18
    reasons = {e["reason"] for e in d["executions"] if e["state"] == "rolled_back"}
    assert "health check: printer worse than before" in reasons
    assert (await client.post(f"{A}/jobs/{job['id']}/resume", headers=h)).status == 409


async def test_refused_command_fails_the_execution(client, db, signing_key, tmp_path):
    h = await boss(client, db)
    await online(db, "s1", "k0", "k1")
    await online(db, "s1", "k2", state="offline")
    await client.put(f"{A}/groups/tills", headers=h, json={"kiosks": ["s1/k0", "s1/k2"]})
    b = await upload(client, h, make_bundle(tmp_path / "b.tar", signing_key))
    job = await (await client.post(f"{A}/jobs", headers=h, json={
        "bundle_sha256": b["sha256"], "target": ["group:tills"],
        "abort_failure_pct": 100, "abort_min_finished": 5})).json()
    assert job["counts"]["queued"] == 2
    sent, cfg = Sent(), client.bridge_config
    await runtime.tick_once(db, cfg, sent)
    (cmd,) = sent.commands()  # k2 is offline: it waits queued until it reconnects
    async with db.session() as s:
        await fleet.record_command_result(s, "s1", "k0", CommandResult(
            cmd_id=cmd.cmd_id, ok=False, error="expired"))
    await runtime.tick_once(db, cfg, sent)
    d = await detail(client, h, job["id"])
    states = {e["kiosk"]: (e["state"], e["reason"]) for e in d["executions"]}
    assert states == {"k0": ("failed", "expired"), "k2": ("queued", None)}
    await online(db, "s1", "k2")
    await runtime.tick_once(db, cfg, sent)
    assert [c.kiosk for c in sent.commands()] == ["k2"]


async def test_bad_requests_are_4xx(client, db, signing_key, tmp_path):
    h = await boss(client, db)
    sha = "0" * 64
    r = await client.post(f"{A}/jobs", headers=h, json={"bundle_sha256": sha,
                                                        "target": ["store:s1"]})
    assert r.status == 404
    b = await upload(client, h, make_bundle(tmp_path / "b.tar", signing_key))
    for body in ({"bundle_sha256": b["sha256"], "target": ["store:nobody"]},
                 {"bundle_sha256": b["sha256"], "target": ["planet:x"]},
                 {"bundle_sha256": b["sha256"], "target": ["store:s1"], "stages": [50, 20]}):
        assert (await client.post(f"{A}/jobs", headers=h, json=body)).status in (400, 422)
    assert (await client.get(f"{A}/jobs/999", headers=h)).status == 404
    assert (await client.post(f"{A}/jobs/999/pause", headers=h)).status == 404
    # A bundle with a path escaping its directory is refused when it is built.
    try:
        build_bundle(tmp_path / "x.tar", "software", "1", {"../evil": b"x"}, signing_key)
    except ValueError as err:
        assert "unsafe" in str(err)
    else:
        raise AssertionError("unsafe path accepted")


async def test_executions_per_kiosk_in_the_fleet_view(client, db, signing_key, tmp_path):
    h = await boss(client, db)
    await online(db, "s1", "k0", "k1")
    await online(db, "s2", "x1")
    sent, cfg = Sent(), client.bridge_config
    b = await upload(client, h, make_bundle(tmp_path / "a.tar", signing_key, "1.1.0"))
    job = await (await client.post(f"{A}/jobs", headers=h, json={
        "bundle_sha256": b["sha256"], "target": ["store:s1"], "stages": [50, 100]})).json()
    await runtime.tick_once(db, cfg, sent)
    (first,) = sent.commands()
    await report(db, first, "succeeded")
    await runtime.tick_once(db, cfg, sent)
    (second,) = sent.commands()
    await report(db, second, "installing")
    await runtime.tick_once(db, cfg, sent)
    b2 = await upload(client, h, make_bundle(tmp_path / "b.tar", signing_key, "1.2.0"))
    other = await (await client.post(f"{A}/jobs", headers=h, json={
        "bundle_sha256": b2["sha256"], "target": ["kiosk:s2/x1"]})).json()

    r = await client.get(f"{A}/executions", headers=h)
    assert r.status == 200, await r.text()
    rows = {(e["store"], e["kiosk"]): (e["job_id"], e["version"], e["stage"], e["state"])
            for e in (await r.json())["items"]}
    assert rows == {("s1", "k0"): (job["id"], "1.1.0", 0, "succeeded"),
                    ("s1", "k1"): (job["id"], "1.1.0", 1, "installing"),
                    ("s2", "x1"): (other["id"], "1.2.0", None, "queued")}
    d = await detail(client, h, job["id"])
    assert [(e["kiosk"], e["stage"]) for e in d["executions"]] == [("k0", 0), ("k1", 1)]
    # Store staff see their own store's kiosks only; another store is refused.
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    clerk = await login(client, "clerk")
    mine = await (await client.get(f"{A}/executions", headers=clerk)).json()
    assert {e["kiosk"] for e in mine["items"]} == {"k0", "k1"}
    assert (await client.get(f"{A}/executions?store=s2", headers=clerk)).status == 403
    only = await (await client.get(f"{A}/executions?store=s2", headers=h)).json()
    assert [e["kiosk"] for e in only["items"]] == ["x1"]


async def test_a_kiosk_back_after_a_month_gets_only_the_newest_release(
        client, db, signing_key, tmp_path):
    """k1 is off while 1.1.0 and then 1.2.0 go out: 1.1.0's execution on k1 is superseded
    (finished, not a failure) and k1 is sent 1.2.0 only when it is back; a configuration
    job waits while a kiosk has another job in flight (a kiosk runs one at a time)."""
    h = await boss(client, db)
    await online(db, "s1", "k0")
    await online(db, "s1", "k1", state="offline")
    sent, cfg = Sent(), client.bridge_config

    async def job(name: str, version: str, kind: str = "software") -> int:
        b = await upload(client, h, make_bundle(tmp_path / f"{name}.tar", signing_key,
                                                version, kind))
        return (await (await client.post(f"{A}/jobs", headers=h, json={
            "bundle_sha256": b["sha256"], "target": ["store:s1"],
            "abort_failure_pct": 1})).json())["id"]

    def versions(cmds: list[Command]) -> list[tuple[str, str]]:
        return sorted((c.kiosk, JobArgs.model_validate(c.args).version) for c in cmds)

    old = await job("a", "1.1.0")
    await runtime.tick_once(db, cfg, sent)
    (cmd,) = sent.commands()
    await report(db, cmd, "succeeded")
    new, conf = await job("b", "1.2.0"), await job("c", "2026-12-06", "config")
    await runtime.tick_once(db, cfg, sent)
    (k0,) = sent.commands()
    assert versions([k0]) == [("k0", "1.2.0")]  # the config job waits: k0 is busy
    d = await detail(client, h, old)
    states = {e["kiosk"]: (e["state"], e["reason"]) for e in d["executions"]}
    assert states["k1"] == ("superseded", f"superseded by job {new} (1.2.0)")
    assert d["state"] == "completed" and d["counts"]["superseded"] == 1  # not a failure

    await online(db, "s1", "k1")  # back after a month
    await runtime.tick_once(db, cfg, sent)
    (k1,) = sent.commands()
    assert versions([k1]) == [("k1", "1.2.0")]
    assert (await detail(client, h, conf))["counts"]["queued"] == 2
    for c in (k0, k1):
        await report(db, c, "succeeded")
    await runtime.tick_once(db, cfg, sent)
    assert versions(sent.commands()) == [("k0", "2026-12-06"), ("k1", "2026-12-06")]
    assert (await detail(client, h, new))["state"] == "completed"
