"""The whole agent updated through a fleet job: the real ``kiosk-agent run`` of a release of
this project (its first release built as the installer would, under a supervisor standing
in for systemd: boot guard, then ``current/venv/bin/kiosk-agent``, restarted on exit), a
real bridge (``cloud-bridge serve``) and Mosquitto.

A good release (this project's wheel at a new version, a layered software bundle) is
downloaded, built beside the running release, switched to, started, passes its health
check and is committed: the fleet sees the new version. A bad release (the same project
with a broken receipt renderer) fails its health check after the switch; the kiosk
switches back by itself, reports why, the job aborts, and the kiosk runs the good release
again. A release that crashes at every start is switched back by the boot guard after 3
starts."""

from __future__ import annotations

import os
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from common.mosquitto import free_port
from contract.signing import load_private_key
from demo.release import first_release, kiosk_config, software_bundle, source_text
from demo.supervisor import kiosk_service
from tests.cloud_bridge.bridge_process import BridgeProcess, add_user, write_config

BROKEN_RENDERER = '''

def render_escpos(*args, **kwargs):  # this build's receipt renderer is broken
    raise RuntimeError("receipt renderer broken in this build")
'''


@pytest.mark.timeout(420)  # three releases built, nine agent starts
def test_the_real_agent_is_updated_and_a_bad_release_rolled_back(tmp_path, broker):
    raw = os.urandom(32).hex()
    key = load_private_key(raw.encode())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    port = free_port()
    cfg = write_config(tmp_path / "bridge.toml", db_url=f"sqlite+aiosqlite:///{tmp_path}/b.db",
                       worker="w1", mqtt_port=broker.port, auto_migrate=True)
    cfg.write_text(cfg.read_text().replace(
        "[http]\nenabled = true\nport = 0",
        f'[http]\nenabled = true\nport = {port}\npublic_url = "http://127.0.0.1:{port}"'))
    bridge = BridgeProcess(cfg, tmp_path / "bridge.log", env={
        "BRIDGE_COMMAND_SIGNING_KEY": raw, "CLOUD_BRIDGE_JOBS_TICK_S": "0.3",
        "CLOUD_BRIDGE_BUNDLES": str(tmp_path / "bundles")}).start()
    root = tmp_path / "opt"
    root.mkdir()
    first_release(root, "0.9.0", key)
    kiosk = kiosk_service(root, kiosk_config(tmp_path, "s1", "k1", broker.port),
                          log=tmp_path / "agent.log", env={"KIOSK_COMMAND_PUBKEY": pub})
    try:
        assert add_user(cfg, "boss", "secret-boss", "head_office").returncode == 0
        base = bridge.url
        token = requests.post(f"{base}/api/v1/admin/session", timeout=10, json={
            "username": "boss", "secret": "secret-boss"}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        kiosk.start()

        def until(what, check, timeout=60.0):
            deadline = time.monotonic() + timeout
            while not (value := check()):
                assert time.monotonic() < deadline, (what, (tmp_path / "agent.log").read_text(
                    errors="replace")[-3000:])
                time.sleep(0.2)
            return value

        def fleet_row():
            items = requests.get(f"{base}/api/v1/admin/fleet", headers=h, timeout=10).json()
            return next((r for r in items["items"] if r["kiosk"] == "k1"), None)

        def running(version):
            return lambda: (r := fleet_row()) and r["state"] == "online" and (
                r["version"] == version)

        until("first release online", running("0.9.0"))

        def rollout(version: str, **extra) -> dict:
            bundle = software_bundle(tmp_path / f"{version}.tar", version, key,
                                     patches=extra.pop("patches", None))
            r = requests.post(f"{base}/api/v1/admin/fleet/bundles", data=bundle.read_bytes(),
                              headers=h, timeout=30)
            assert r.status_code == 201, r.text
            r = requests.post(f"{base}/api/v1/admin/fleet/jobs", headers=h, timeout=10, json={
                "bundle_sha256": r.json()["sha256"], "target": ["store:s1"], **extra})
            assert r.status_code == 201, r.text
            url = f"{base}/api/v1/admin/fleet/jobs/{r.json()['id']}"
            return until(f"job {version} finished", lambda: (d := requests.get(
                url, headers=h, timeout=10).json())["state"] != "running" and d, 120)

        good = rollout("0.9.1")
        assert good["state"] == "completed", good
        assert [e["state"] for e in good["executions"]] == ["succeeded"]
        # Every step reached the bridge, health_checking too (sent once the link is up).
        detail = requests.get(f"{base}/api/v1/admin/kiosks/s1/k1", headers=h, timeout=10).json()
        reported = {r["result"].get("state") for r in detail["command_results"]
                    if (r["result"] or {}).get("job_id") == good["id"]}
        assert {"downloading", "installing", "health_checking", "succeeded"} <= reported
        until("good release running", running("0.9.1"))
        assert os.readlink(root / "current") == "releases/0.9.1"

        bad = rollout("0.9.2", abort_health_failures=1, patches={
            "drivers/receipt/escpos.py":
                source_text("drivers/receipt/escpos.py") + BROKEN_RENDERER})
        assert bad["state"] == "aborted", bad
        [execution] = bad["executions"]
        assert execution["state"] == "rolled_back"
        assert execution["reason"] == ("health check: receipt render failed: RuntimeError: "
                                       "receipt renderer broken in this build")
        assert os.readlink(root / "current") == "releases/0.9.1"
        # First start, the good switch, the bad switch, the switch back: the kiosk runs the
        # good release again (its status, published by the running code, says so).
        until("back on the good release", lambda: kiosk.starts >= 4 and running("0.9.1")())

        # A release that does not even start: the boot guard switches back after 3 starts,
        # and the good release, started again, reports why.
        starts = kiosk.starts
        crash = rollout("0.9.3", abort_health_failures=1, patches={
            "kiosk_agent/cli_run.py": source_text("kiosk_agent/cli_run.py")
            + "\nraise SystemExit('this build does not start')\n"})
        assert crash["state"] == "aborted", crash
        assert [(e["state"], e["reason"]) for e in crash["executions"]] == [
            ("rolled_back", "new release did not pass its health check in 3 starts")]
        assert kiosk.starts >= starts + 4  # three crashed trials, then the good one again
        assert os.readlink(root / "current") == "releases/0.9.1"
        until("back on the good release again", running("0.9.1"))
        assert sorted(os.listdir(root / "releases")) == ["0.9.0", "0.9.1", "0.9.2", "0.9.3"]
    finally:
        kiosk.stop()
        bridge.stop()
