"""The proof with real processes: a bridge (`cloud-bridge serve`), a real Mosquitto and
three kiosk processes under a tiny supervisor standing in for systemd (boot guard, then the
kiosk; started again whenever it exits). A good bundle goes out in stages and is committed
everywhere; a bad one fails its health check on the first kiosk, which switches back, and
the job aborts by threshold before any other kiosk gets it."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization

from common.mosquitto import free_port
from contract.signing import load_private_key
from demo.supervisor import Supervisor
from tests.cloud_bridge.bridge_process import BridgeProcess, add_user, write_config

from .support import config_bundle

KIOSK = Path(__file__).with_name("fleet_kiosk.py")
ROOT = Path(__file__).resolve().parents[3]
KIOSKS = ("k1", "k2", "k3")


def kiosk_root(base: Path, name: str) -> Path:
    root = base / name
    (root / "config-releases" / "1").mkdir(parents=True)
    (root / "config-releases" / "1" / "kiosk.toml").write_text("[kiosk]\nstore_id = 's1'\n")
    (root / "etc").mkdir()
    os.symlink("../config-releases/1/kiosk.toml", root / "etc" / "kiosk.toml")
    return root


def wait_job(base, h, job_id, done, timeout=40.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        d = requests.get(f"{base}/api/v1/admin/fleet/jobs/{job_id}", headers=h, timeout=10).json()
        if done(d):
            return d
        assert time.monotonic() < deadline, d
        time.sleep(0.2)


def test_staged_rollout_and_abort_with_real_processes(tmp_path, broker):
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
    env = {"BRIDGE_COMMAND_SIGNING_KEY": raw, "CLOUD_BRIDGE_JOBS_TICK_S": "0.3",
           "CLOUD_BRIDGE_BUNDLES": str(tmp_path / "bundles")}
    bridge = BridgeProcess(cfg, tmp_path / "bridge.log", env=env).start()
    sups = []
    try:
        assert add_user(cfg, "boss", "secret-boss", "head_office").returncode == 0
        base = bridge.url
        token = requests.post(f"{base}/api/v1/admin/session", timeout=10, json={
            "username": "boss", "secret": "secret-boss"}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        roots = {k: kiosk_root(tmp_path, k) for k in KIOSKS}
        for k, root in roots.items():
            sup = Supervisor([sys.executable, "-m", "kiosk_agent.updates.guard", "--root",
                              str(root)],
                             [sys.executable, str(KIOSK), str(root), "s1", k, str(broker.port),
                              pub], cwd=ROOT)
            sups.append(sup.start())
        deadline = time.monotonic() + 20
        while len([r for r in requests.get(f"{base}/api/v1/admin/fleet", headers=h,
                                           timeout=10).json()["items"]
                   if r["state"] == "online"]) < 3:
            assert time.monotonic() < deadline, "kiosks did not come online"
            time.sleep(0.2)

        def run_job(bundle: Path, **extra) -> int:
            r = requests.post(f"{base}/api/v1/admin/fleet/bundles", data=bundle.read_bytes(),
                              headers=h, timeout=10)
            assert r.status_code == 201, r.text
            r = requests.post(f"{base}/api/v1/admin/fleet/jobs", headers=h, timeout=10, json={
                "bundle_sha256": r.json()["sha256"], "target": ["store:s1"],
                "stages": [33, 100], **extra})
            assert r.status_code == 201, r.text
            return r.json()["id"]

        # A good bundle: k1 first (33 %), then the rest; committed everywhere.
        config_bundle(tmp_path / "good.tar", key, "2", name="good")
        good = run_job(tmp_path / "good.tar")
        d = wait_job(base, h, good, lambda d: d["state"] != "running")
        assert d["state"] == "completed" and d["counts"]["succeeded"] == 3, d
        first = min(e["finished_at"] for e in d["executions"])
        assert sorted(e["dispatched_at"] for e in d["executions"])[1] >= first  # staged
        for root in roots.values():
            assert 'store_name = "good"' in (root / "etc" / "kiosk.toml").read_text()

        # A bad bundle: the first kiosk fails its health check, switches back, job aborts.
        config_bundle(tmp_path / "bad.tar", key, "3", name="BAD")
        bad = run_job(tmp_path / "bad.tar", abort_health_failures=1)
        d = wait_job(base, h, bad, lambda d: d["state"] != "running")
        assert d["state"] == "aborted", d
        states = {e["kiosk"]: (e["state"], e["reason"]) for e in d["executions"]}
        assert states["k1"] == ("rolled_back", "health check: test receipt render failed")
        assert states["k2"][0] == states["k3"][0] == "queued"
        for root in roots.values():  # every kiosk runs the good config
            assert 'store_name = "good"' in (root / "etc" / "kiosk.toml").read_text()
        deadline = time.monotonic() + 10
        while sups[0].starts < 4:  # k1: first start, good switch, bad switch, switch back
            assert time.monotonic() < deadline, sups[0].starts
            time.sleep(0.1)
    finally:
        for sup in sups:
            sup.stop()
        bridge.stop()
