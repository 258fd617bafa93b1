"""systemd units (verified by systemd-analyze), udev rules and the Pi installer's dry run."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = sorted((ROOT / "systemd").glob("*.service"))
# The release layout (issue 20): programs run through the `current` release link.
VENV_BIN = "/opt/kiosk/current/venv/bin/"
# The bridge's server keeps one virtualenv (it is not updated by fleet jobs).
BRIDGE_BIN = "/opt/kiosk/venv/bin/"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def stage_unit(unit: Path, dest: Path, text: str | None = None) -> Path:
    """Copy ``unit`` into ``dest`` with its /opt/kiosk/current/venv/bin programs made real.

    ``systemd-analyze verify`` checks that ExecStart= binaries exist; the tests create
    executables with the same names in ``dest/bin`` instead of installing the venv.
    Templates are instantiated (``name@.service`` -> ``name@tty1.service``).
    """
    text = unit.read_text(encoding="utf-8") if text is None else text
    bindir = dest / "bin"
    bindir.mkdir(exist_ok=True)
    for prefix in (VENV_BIN, BRIDGE_BIN):
        for program in set(re.findall(re.escape(prefix) + r"([\w.-]+)", text)):
            exe = bindir / program
            exe.write_text("#!/bin/sh\nexit 0\n")
            exe.chmod(0o755)
        text = text.replace(prefix, f"{bindir}/")
    name = unit.name.replace("@.service", "@tty1.service")
    staged = dest / name
    staged.write_text(text, encoding="utf-8")
    return staged


def verify(unit: Path) -> str:
    """Problems ``systemd-analyze verify`` reports (empty string: none).

    It exits 0 on many problems it only warns about ("Unknown key ..., ignoring"),
    so any output at all counts as a problem.
    """
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60, cwd=unit.parent,
    )
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 and not out:
        out = f"exit status {proc.returncode}"
    return out


def unit_values(unit: Path) -> dict[str, dict[str, list[str]]]:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",), dict_type=_MultiDict)
    parser.optionxform = str  # type: ignore[assignment]
    parser.read(unit, encoding="utf-8")
    return {s: {k: v.split("\n") for k, v in parser.items(s)} for s in parser.sections()}


class _MultiDict(dict):
    """Keeps repeated keys (LoadCredential=, DeviceAllow=) joined by newlines."""

    def __setitem__(self, key, value):
        if key in self and isinstance(value, list) and isinstance(self[key], list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def test_every_unit_exists():
    names = {u.name for u in UNITS}
    assert {"kiosk-agent.service", "cloud-bridge.service", "kiosk-tui@.service"} <= names


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_analyze_verify_passes(unit, tmp_path):
    assert verify(stage_unit(unit, tmp_path)) == ""


@pytest.mark.parametrize(
    "breakage",
    [
        ("\nType=notify\n", "\nType=notifyy\n"),
        ("\nRestart=always\n", "\nRestart=sometimes\n"),
        ("\nNoNewPrivileges=yes\n", "\nNoNewPrivileges=yes\nNoNewPrivilegez=yes\n"),
        ("=" + VENV_BIN + "kiosk-agent", "=/nonexistent/kiosk-agent"),
    ],
)
def test_verify_catches_a_broken_unit(breakage, tmp_path):
    unit = ROOT / "systemd" / "kiosk-agent.service"
    text = unit.read_text(encoding="utf-8")
    assert breakage[0] in text
    staged = stage_unit(unit, tmp_path, text.replace(breakage[0], breakage[1], 1))
    assert verify(staged) != ""


def test_agent_unit_is_a_hardened_notify_service():
    service = unit_values(ROOT / "systemd" / "kiosk-agent.service")["Service"]
    one = {k: v[-1] for k, v in service.items()}
    assert one["Type"] == "notify" and one["Restart"] == "always"
    assert int(one["WatchdogSec"]) > 0 and one["NotifyAccess"] == "main"
    assert one["ExecStart"].startswith(VENV_BIN + "kiosk-agent run ")
    # Before every start the boot guard (a stdlib copy outside the releases) settles an
    # interrupted switch or rollback; the agent may write its releases and links.
    assert service["ExecStartPre"] == [
        "/usr/bin/python3 /opt/kiosk/boot-guard/guard.py --root /opt/kiosk"]
    assert "KIOSK_UPDATES_ROOT=/opt/kiosk" in service["Environment"]
    assert "KIOSK_UPDATES_CONFIG_LINK=/opt/kiosk/kiosk.toml" in service["Environment"]
    assert one["ReadWritePaths"] == "/opt/kiosk"
    assert one["User"] == "kiosk"
    assert {"video", "dialout", "lp"} <= set(one["SupplementaryGroups"].split())
    assert one["StateDirectory"] == "kiosk-agent" and one["RuntimeDirectory"] == "kiosk-agent"
    credentials = {c.split(":", 1)[0] for c in service["LoadCredential"]}
    assert credentials == {"mqtt_password", "command_pubkey", "staff_pin_hash", "badge_pubkey",
                           "member_pubkey", "member_code_key"}
    for key, value in {
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "NoNewPrivileges": "yes", "SystemCallFilter": "@system-service",
        "DevicePolicy": "closed",
    }.items():
        assert one[key] == value, key
    assert set(one["RestrictAddressFamilies"].split()) == {
        "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    allowed = " ".join(service["DeviceAllow"])
    for device in ("video4linux", "ttyUSB", "usb_device", "lp"):
        assert f"char-{device}" in allowed
    # systemd must wait longer than the agent drains on SIGTERM.
    from kiosk_agent.agent import DRAIN_TIMEOUT_S

    assert int(one["TimeoutStopSec"]) > DRAIN_TIMEOUT_S


def test_tui_unit_runs_on_a_console_with_the_agent_socket():
    service = unit_values(ROOT / "systemd" / "kiosk-tui@.service")["Service"]
    assert service["TTYPath"] == ["/dev/%I"]
    assert service["ExecStart"][0] == VENV_BIN + "kiosk-tui --socket /run/kiosk-agent/control.sock"
    from kiosk_agent.config import ControlSection

    assert str(ControlSection().socket_path) == "/run/kiosk-agent/control.sock"


def test_udev_rules_are_well_formed():
    token = re.compile(r'^[A-Za-z_{}0-9]+(==|!=|=|\+=|:=)"[^"]*"$')
    rules = sorted((ROOT / "config" / "udev").glob("*.rules"))
    assert any(r.name == "99-kiosk-camera.rules" for r in rules)
    for rule in rules:
        for line in rule.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            for part in re.split(r',\s*(?=[A-Za-z_]+[{=!+:])', line.strip()):
                assert token.match(part), f"{rule.name}: {part!r}"


def test_install_script_parses_and_dry_run_is_complete_and_repeatable(tmp_path):
    script = ROOT / "scripts" / "install-kiosk.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    pin = tmp_path / "pin"
    pin.write_text("2468\n")
    cmd = [str(script), "--dry-run", "--no-apt", "--prefix", str(tmp_path / "opt"),
           "--staff-pin-file", str(pin)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    for expected in (
        "python3 -m venv", "pip install -q " + str(ROOT).replace(" ", "\\ ") + "\\[kiosk\\,tui\\]",
        "/etc/udev/rules.d/99-kiosk-camera.rules", "udevadm control --reload-rules",
        "systemctl enable kiosk-agent.service", "systemctl enable kiosk-tui@tty1.service",
        "hash the staff PIN with argon2", "install -d -m 0700 -o root -g root /etc/kiosk-agent/credentials",
    ):
        assert expected in out, expected
    # The release layout: the first release, the link switched in one rename, the guard.
    from common.version import __version__

    opt = tmp_path / "opt"
    for expected in (
        f"python3 -m venv --system-site-packages {opt}/releases/{__version__}/venv",
        f"ln -sfn releases/{__version__} {opt}/.current.new",
        f"mv -T {opt}/.current.new {opt}/current",
        f"{ROOT}/kiosk_agent/updates/guard.py {opt}/boot-guard/guard.py",
        # The config behind the link configuration bundles switch.
        f"{ROOT}/config/kiosk.example.toml {opt}/config-releases/local/kiosk.toml",
        f"ln -sfn config-releases/local/kiosk.toml {opt}/kiosk.toml",
        "mv -T /etc/kiosk-agent/.kiosk.toml.new /etc/kiosk-agent/kiosk.toml",
    ):
        assert expected in out, expected
    assert not (tmp_path / "opt").exists(), "a dry run must not touch the system"
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert second.stdout == out
    assert "2468" not in out  # the PIN itself is never printed
    bad = subprocess.run([str(script), "--bogus"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "unknown option" in bad.stderr
    # A PIN on the command line (ps, shell history) is refused.
    bad = subprocess.run([str(script), "--dry-run", "--staff-pin", "2468"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--staff-pin-file" in bad.stderr


def test_bridge_unit_reads_its_files_has_its_secrets_and_never_migrates():
    units = ROOT / "systemd"
    service = unit_values(units / "cloud-bridge.service")["Service"]
    one = {k: v[-1] for k, v in service.items()}
    # A fixed user that provisioning files can be shared with (DynamicUser cannot).
    assert "DynamicUser" not in one and one["User"] == one["Group"] == "cloud-bridge"
    assert "u cloud-bridge " in (units / "cloud-bridge.sysusers.conf").read_text()
    credentials = {c.split(":", 1)[0] for c in service["LoadCredential"]}
    assert {"mqtt_password", "command_signing_key", "database_url", "mp_app_secret",
            "wechat_merchant_key.pem", "wechat_apiv3_key", "alipay_app_private_key.pem"
            } <= credentials
    # Workers never migrate (several would race); the oneshot unit does, once.
    assert "migrate" not in " ".join(service.get("ExecStartPre", []))
    migrate = unit_values(units / "cloud-bridge-migrate.service")["Service"]
    assert migrate["Type"] == ["oneshot"] and " migrate " in migrate["ExecStart"][-1]
    # A compromised worker cannot read the kiosks' plaintext bundles or the key files.
    hidden = one["InaccessiblePaths"].split()
    assert {"-/etc/cloud-bridge/bundles", "-/etc/cloud-bridge/keys"} <= set(hidden)


def test_installer_never_downgrades_a_kiosk_a_fleet_job_updated(tmp_path):
    from common.version import __version__

    opt = tmp_path / "opt"
    opt.mkdir()
    cmd = [str(ROOT / "scripts" / "install-kiosk.sh"), "--dry-run", "--no-apt", "--prefix",
           str(opt)]
    (opt / "current").symlink_to("releases/9999.0.0")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"kept {opt}/current -> releases/9999.0.0 (newer than {__version__})" in out
    assert ".current.new" not in out
    (opt / "current").unlink()
    (opt / "current").symlink_to("releases/0.0.1")  # older: this source tree's release wins
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"mv -T {opt}/.current.new {opt}/current" in out
