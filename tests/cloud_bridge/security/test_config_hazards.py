"""Configuration hazards: a production bridge with sandbox secrets refuses to start (the
real ``cloud-bridge serve``), and the example configs carry no default secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloud_bridge.config import load_config
from cloud_bridge.security.startup import production_hazards
from contract.signing import generate_signing_key, private_key_pem
from tests.cloud_bridge.bridge_process import write_config

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _serve(config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BRIDGE_MP_APP_SECRET", None)  # so the sandbox secret is what it would use
    return subprocess.run([sys.executable, "-m", "cloud_bridge.cli", "serve", "--config",
                           str(config)], capture_output=True, text=True, timeout=60, env=env,
                          cwd=ROOT)


def test_production_with_the_sandbox_refuses_to_start(db_url, tmp_path: Path):
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="prod",
                       mqtt_port=None)
    cfg.write_text(cfg.read_text().replace("[bridge]\n", "[bridge]\nproduction = true\n"))
    done = _serve(cfg)
    assert done.returncode != 0
    err = done.stderr
    assert "refusing to start in production" in err, err[-2000:]
    assert "[mp] sandbox" in err and "public sandbox secret" in err
    assert "sandbox-app-secret" not in err  # names the hazard, never the secret


def test_hazards_are_named_and_a_clean_config_has_none(db_url, tmp_path: Path, monkeypatch):
    cfg = load_config(write_config(tmp_path / "b.toml", db_url=db_url, worker="w",
                                   mqtt_port=None, sandbox=False))
    monkeypatch.delenv("BRIDGE_COMMAND_SIGNING_KEY", raising=False)
    monkeypatch.delenv("BRIDGE_MEMBER_SIGNING_KEY", raising=False)
    monkeypatch.setenv("BRIDGE_MP_APP_SECRET", "a-real-secret-from-credentials")
    assert [h for h in production_hazards(cfg) if "member code key" in h]  # nothing checks
    monkeypatch.setenv("BRIDGE_MEMBER_SIGNING_KEY",
                       private_key_pem(generate_signing_key()).decode())
    assert production_hazards(cfg) == []
    cfg.http.kiosk_auth_dir = tmp_path  # kiosk credentials over http, no download tokens
    assert any("plain http" in h for h in production_hazards(cfg))
    cfg.http.public_url = "https://bridge.example.com"
    assert production_hazards(cfg) == []


def test_example_configs_are_production_and_hold_no_default_secret(db_url):
    for name in ("config/bridge.example.toml", "config/chain-scale/bridge-worker.toml"):
        assert load_config(ROOT / name).bridge.production is True, name
    for path in (ROOT / "config").rglob("*"):
        if path.is_file() and path.suffix in (".toml", ".conf", ".yml", ".example"):
            text = path.read_text(encoding="utf-8")
            assert "change-me" not in text, path
    emqx = (ROOT / "config" / "chain-scale" / "emqx.conf").read_text()
    assert "cookie =" not in emqx  # from EMQX_NODE__COOKIE only
