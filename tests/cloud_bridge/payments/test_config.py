"""``[payments]`` of the bridge config: manifest, env override, keys from credentials."""

from __future__ import annotations

import json

import pytest

from cloud_bridge.config import ConfigError, load_config
from cloud_bridge.payments.config import SETTINGS_ENV, build_providers

MANIFEST = {"card": {"base_url": "http://127.0.0.1:1", "secret_key_path": "/nowhere/card"},
            "paypal": {"base_url": "http://127.0.0.1:2", "client_id": "cid",
                       "client_secret_path": "paypal_secret"}}


def write(tmp_path, text: str):
    path = tmp_path / "bridge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_payments_section_from_toml_with_manifest_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv(SETTINGS_ENV, raising=False)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST))
    cfg = load_config(write(tmp_path, f"""
[payments]
manifest = "{manifest}"
settle_interval_s = 5
[payments.card]
base_url = "http://card.example"
secret_key_path = "card_key"
[payments.settlement]
query_window_s = 3
"""))
    settings = cfg.payments.settings()
    assert settings.card.base_url == "http://card.example"      # the TOML wins
    assert settings.paypal.client_id == "cid"                   # the manifest fills gaps
    assert settings.settlement.query_window_s == 3 and cfg.payments.settle_interval_s == 5

    other = tmp_path / "env.json"
    other.write_text(json.dumps({"paypal": {**MANIFEST["paypal"], "client_id": "from-env"}}))
    monkeypatch.setenv(SETTINGS_ENV, str(other))
    assert cfg.payments.settings().paypal.client_id == "from-env"

    # Relative key paths are credentials: read from $CREDENTIALS_DIRECTORY.
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "card_key").write_text("sk_test_1\n")
    (creds / "paypal_secret").write_text("pp-secret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    providers = build_providers(cfg.payments.settings())
    assert set(providers) == {"card", "paypal"}


def test_payments_section_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="payments"):
        load_config(write(tmp_path, "[payments]\nsettle_interval_s = -1\n"))
    with pytest.raises(ConfigError, match="payments"):
        load_config(write(tmp_path, "[payments]\nsurprise = 1\n"))
