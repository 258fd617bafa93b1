"""``cloud-bridge fleet ...`` as an operator runs it: build and sign a bundle, create a
staged job, pause and show it; a bundle signed with another key is refused."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from cloud_bridge import fleet
from cloud_bridge.db import Database
from contract.signing import generate_signing_key, private_key_pem
from contract.wire.presence import KioskStatus
from tests.cloud_bridge.bridge_process import migrate, write_config

ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cloud_bridge.cli", *args], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), **env),
                          capture_output=True, text=True, timeout=60)


def test_build_create_pause_show(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/b.db"
    cfg = write_config(tmp_path / "bridge.toml", db_url=url, worker="w", mqtt_port=None)
    assert migrate(cfg).returncode == 0

    async def kiosks() -> None:
        async with Database(url) as db, db.session() as s:
            for k in ("k1", "k2", "k3"):
                await fleet.apply_status(s, "S1", k, KioskStatus(state="online"))

    asyncio.run(kiosks())
    key = generate_signing_key()
    (tmp_path / "sign.key").write_bytes(private_key_pem(key))
    env = {"BRIDGE_COMMAND_SIGNING_KEY": str(tmp_path / "sign.key"),
           "CLOUD_BRIDGE_BUNDLES": str(tmp_path / "bundles")}
    (tmp_path / "kiosk.toml").write_text("[kiosk]\nstore_id = 'S1'\n")
    r = cli("fleet", "bundle", "build", "--kind", "config", "--version", "2026-12-05",
            "--file", str(tmp_path / "kiosk.toml"), "--key", str(tmp_path / "sign.key"),
            "--out", str(tmp_path / "cfg.tar"), env=env)
    assert r.returncode == 0, r.stderr
    r = cli("fleet", "job", "create", "--config", str(cfg), "--bundle", str(tmp_path / "cfg.tar"),
            "--target", "store:S1", "--rate", "10%", env=env)
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert (job["stages"], job["state"], job["counts"]["queued"]) == ([10, 100], "running", 3)
    r = cli("fleet", "job", "pause", "--config", str(cfg), str(job["id"]), env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "paused"
    r = cli("fleet", "job", "show", "--config", str(cfg), str(job["id"]), env=env)
    assert [e["kiosk"] for e in json.loads(r.stdout)["executions"]] == ["k1", "k2", "k3"]
    assert cli("fleet", "job", "pause", "--config", str(cfg), str(job["id"]),
               env=env).returncode == 1  # already paused

    other = tmp_path / "other.key"
    other.write_bytes(private_key_pem(generate_signing_key()))
    r = cli("fleet", "bundle", "build", "--kind", "config", "--version", "x",
            "--file", str(tmp_path / "kiosk.toml"), "--key", str(other),
            "--out", str(tmp_path / "forged.tar"), env=env)
    assert r.returncode == 0
    r = cli("fleet", "job", "create", "--config", str(cfg), "--bundle",
            str(tmp_path / "forged.tar"), "--target", "store:S1", env=env)
    assert r.returncode == 1 and "signature" in r.stderr
