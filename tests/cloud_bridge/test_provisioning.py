"""`cloud-bridge kiosk add`: credentials, ACL entry, command key, bundle."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from cloud_bridge.cli import build_parser
from cloud_bridge.provisioning import (
    Deployment,
    ProvisioningError,
    mosquitto_hash,
    verify_mosquitto_hash,
)
from contract.signing import load_private_key, load_public_key, sign_command, verify_command
from contract.wire.base import utcnow
from contract.wire.commands import Command
from kiosk_agent.config import load_config


def _run(*argv: str) -> int:
    parser = build_parser(("cloud_bridge.provisioning",))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_kiosk_add_writes_bundle_and_broker_files(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "deploy"
    out = tmp_path / "bundle"
    assert _run("kiosk", "add", "--store", "s1", "--kiosk", "k1", "--out", str(out),
                "--config-dir", str(cfg), "--mqtt-host", "broker.local", "--mqtt-port", "1883") == 0
    assert "bundle in" in capsys.readouterr().out
    password = (out / "mqtt_password").read_text().strip()
    assert len(password) >= 24
    assert stat.S_IMODE((out / "mqtt_password").stat().st_mode) == 0o600
    dep = Deployment(cfg)
    entry = dep.passwd_entries()["s1-k1"]
    assert entry.startswith("$7$101$") and verify_mosquitto_hash(password, entry)
    assert not verify_mosquitto_hash("wrong", entry)
    acl = dep.acl_path.read_text()
    assert "user s1-k1\ntopic write kiosk/v1/s1/k1/status" in acl
    assert "topic read kiosk/v1/s1/k1/cmd\n" in acl and "topic read kiosk/v1/s1/catalog" in acl
    assert "user bridge\ntopic readwrite kiosk/v1/#" in acl
    # The bundle's public key verifies what the deployment's private key signs.
    now = utcnow()
    cmd = Command(cmd_id="c1", name="ping", store="s1", kiosk="k1", issued_at=now,
                  expires_at=now, nonce="n" * 16)
    signed = sign_command(cmd, load_private_key(dep.signing_key_path))
    verify_command(signed, load_public_key((out / "command_pubkey").read_bytes()))
    # The TOML snippet is a valid kiosk config on its own.
    conf = load_config(out / "kiosk.toml")
    assert (conf.kiosk.store_id, conf.kiosk.kiosk_id, conf.mqtt.username) == ("s1", "k1", "s1-k1")
    assert conf.mqtt.host == "broker.local"
    assert stat.S_IMODE(dep.signing_key_path.stat().st_mode) == 0o600


def test_signing_key_generated_once_and_rotation_keeps_one_entry(tmp_path: Path) -> None:
    dep = Deployment(tmp_path)
    b1 = dep.add_kiosk("s1", "k1")
    key1 = dep.signing_key_path.read_bytes()
    pw1 = (b1 / "mqtt_password").read_text()
    dep.add_kiosk("s1", "k2")
    b1 = dep.add_kiosk("s1", "k1")  # rotate
    assert dep.signing_key_path.read_bytes() == key1
    assert (b1 / "mqtt_password").read_text() != pw1
    assert dep.acl_path.read_text().count("user s1-k1\n") == 1
    assert sorted(dep.passwd_entries()) == ["bridge", "s1-k1", "s1-k2"]


def test_ambiguous_username_and_bad_ids_refused(tmp_path: Path) -> None:
    dep = Deployment(tmp_path)
    # "a-b"+"c" and "a"+"b-c" would share a username and every order number: no '-' in ids.
    with pytest.raises(ProvisioningError, match="no '-'"):
        dep.add_kiosk("a-b", "c")
    with pytest.raises(ProvisioningError, match="at most 12"):
        dep.add_kiosk("flagship01", "kiosk1")  # its payment numbers would not fit WeChat's 32
    with pytest.raises(ProvisioningError):
        dep.add_kiosk("s/1", "k")
    with pytest.raises(ProvisioningError, match="reserved"):
        dep.add_kiosk("s1", "catalog")
    assert _run("kiosk", "add", "--store", "a", "--kiosk", "b-c", "--config-dir", str(tmp_path)) == 1


def test_hash_format_matches_mosquitto_passwd(tmp_path: Path) -> None:
    """Our $7$ entries and mosquitto_passwd's are the same format (salt/iterations/digest)."""
    pwfile = tmp_path / "pw"
    pwfile.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pwfile), "u", "secret"], check=True)
    theirs = pwfile.read_text().strip().split(":", 1)[1]
    assert theirs.startswith("$7$")
    assert verify_mosquitto_hash("secret", theirs)
    ours = mosquitto_hash("secret")
    assert ours.split("$")[:3] == theirs.split("$")[:3]


def test_a_malformed_password_entry_is_a_no_not_a_crash():
    """A torn or hand-edited passwd line answers False (HTTP 401), never raises (HTTP 500)."""
    good = mosquitto_hash("pw-123456")
    _, _, rounds, salt, digest = good.split("$")
    for entry in (f"$7${rounds}$abc${digest}", f"$7$x${salt}${digest}", "$7$101$$",
                  f"$7$99999999999${salt}${digest}", f"$7$-5${salt}${digest}", "", "$7$"):
        assert verify_mosquitto_hash("pw-123456", entry) is False, entry
    assert verify_mosquitto_hash("pw-123456", good) is True
