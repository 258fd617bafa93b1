"""SIGKILL at every step of an update: the kiosk always starts on a complete old or new
release, and the next starts (boot guard, then the updater) finish the job."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization

from contract.signing import generate_signing_key
from kiosk_agent.updates.state import read_json

from .support import BundleServer, config_bundle

CHILD = Path(__file__).with_name("update_child.py")
OLD = "[kiosk]\nstore_id = 's1'\n"


async def child(root: Path, pub: str, mode: str, args: dict, kill_at: str, health: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), str(root), pub, mode, json.dumps(args), kill_at, health)
    return await asyncio.wait_for(proc.wait(), 30)


def started_config(root: Path) -> str:
    """What the agent would load now: the file the link names (must be complete)."""
    return (root / "etc" / "kiosk.toml").read_text()


@pytest.mark.parametrize("kill_at,health", [
    ("downloading", "ok"), ("installing", "ok"), ("installed", "ok"), ("switching", "ok"),
    ("trial", "ok"), ("committed", "ok"), ("rolling_back", "bad"), ("rolled_back", "bad"),
])
async def test_kill_at_each_step(tmp_path, kill_at, health):
    key = generate_signing_key()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    root = tmp_path / "kiosk"
    (root / "config-releases" / "1").mkdir(parents=True)
    (root / "config-releases" / "1" / "kiosk.toml").write_text(OLD)
    (root / "etc").mkdir()
    os.symlink("../config-releases/1/kiosk.toml", root / "etc" / "kiosk.toml")
    info = config_bundle(tmp_path / "c2.tar", key, "2", name="new")
    ts = TestServer(BundleServer(tmp_path).app())
    await ts.start_server()
    try:
        args = {**info, "job_id": 3, "url": str(ts.make_url("/b/c2.tar")), "report_id": "c3"}
        codes = [await child(root, pub, "accept", args, kill_at, health)]
        new = (root / "config-releases/2/kiosk.toml")
        for _ in range(6):  # the supervisor starts it again until it stays up
            # Every start finds a complete config: the old one or the new one.
            assert started_config(root) in (OLD, new.read_text() if new.exists() else OLD)
            code = await child(root, pub, "boot", {}, kill_at, health)
            codes.append(code)
            if code == 0:
                break
        assert -9 in codes and (root / "killed").read_text() == kill_at, codes
        st = read_json(root / "updates" / "state.json")
        want = "committed" if health == "ok" else "rolled_back"
        assert st["phase"] == want, codes
        assert ('store_name = "new"' in started_config(root)) == (health == "ok")
        reports = [json.loads(x) for x in (root / "reports.jsonl").read_text().splitlines()]
        final = "succeeded" if health == "ok" else "rolled_back"
        assert reports[-1]["state"] == final and st["final_reported"]
    finally:
        await ts.close()
