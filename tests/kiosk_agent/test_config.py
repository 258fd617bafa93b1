"""Agent config: the example documents every field; a bad file stops start-up with one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from kiosk_agent.config import AgentConfig, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "kiosk.example.toml"


def model_fields(model: type[BaseModel], prefix: str = "") -> dict[str, set[str]]:
    """``{"section.sub": {field names}}`` for every nested section of the config."""
    out: dict[str, set[str]] = {}
    for name, info in model.model_fields.items():
        ann = info.annotation
        # A device section is one model per kind: the section documents all of them.
        for variant in getattr(ann, "VARIANTS", ()):
            for section, names in model_fields(variant, f"{prefix}{name}.").items():
                out.setdefault(section, set()).update(names)
        if getattr(ann, "VARIANTS", None):
            continue
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(model_fields(ann, f"{prefix}{name}."))
        else:
            out.setdefault(prefix.rstrip("."), set()).add(name)
    return out


def documented_fields(text: str) -> dict[str, set[str]]:
    """Keys set (``name =``) or shown commented out (``# name =``) per ``[section]``."""
    out: dict[str, set[str]] = {}
    section = ""
    for line in text.splitlines():
        if m := re.match(r"^\[([a-z_.]+)\]\s*$", line):
            section = m[1]
            out.setdefault(section, set())
        elif m := re.match(r"^(?:#\s*)?([a-z_0-9]+)\s*=", line):
            out.setdefault(section, set()).add(m[1])
    return out


def test_example_documents_every_field():
    documented = documented_fields(EXAMPLE.read_text(encoding="utf-8"))
    for section, names in model_fields(AgentConfig).items():
        missing = names - documented.get(section, set())
        assert not missing, f"[{section}] not documented in {EXAMPLE.name}: {sorted(missing)}"


def test_every_setting_in_the_example_has_a_comment():
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    previous = ""
    for line in lines:
        if re.match(r"^[a-z_0-9]+\s*=", line):
            assert previous.startswith("#") or re.match(r"^[a-z_0-9]+\s*=", previous), line
        if line.strip():
            previous = line


def test_example_loads_and_matches_the_defaults():
    assert load_config(EXAMPLE) == AgentConfig()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[kiosk]\nkiosk_id = "bad id!"\n', r"kiosk: .*kiosk_id must match"),
        ("[mqtt]\nport = 70000\n", r"mqtt\.port: Input should be less than or equal to 65535"),
        ("[outbox]\nwindow = 0\n", r"outbox\.window: "),
        ("[journal]\nflavour = 1\n", r"journal\.flavour: unknown field"),
        ("[kiosk]\nabandoned_cart_s = -1\n", r"kiosk\.abandoned_cart_s: "),
        ("[mqtt\nport = 1\n", r"not valid TOML"),
    ],
)
def test_bad_config_is_one_line_with_the_field(tmp_path: Path, body: str, expected: str):
    path = tmp_path / "k.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    assert re.search(expected, message), message


# `kiosk-agent run ...` in a child process, with only the `run` subcommand
# registered so the test does not depend on other subcommands' imports.
RUN_CLI = (
    "import sys; from kiosk_agent.cli import build_parser; "
    "a = build_parser(('kiosk_agent.cli_run',)).parse_args(sys.argv[1:]); sys.exit(a.func(a))"
)


def run_agent_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI, "run", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )


def test_run_with_a_bad_config_exits_2_with_one_line(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('[kiosk]\nstore_id = "s1"\n\n[mqtt]\nport = "high"\n', encoding="utf-8")
    proc = run_agent_cli("--config", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"config error: {path}: mqtt.port: ")


def test_run_with_a_missing_config_exits_2(tmp_path: Path):
    proc = run_agent_cli("--config", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"config error: {tmp_path / 'nope.toml'}: file not found"


def test_check_config_accepts_the_example():
    proc = run_agent_cli("--config", str(EXAMPLE), "--check-config")
    assert proc.returncode == 0 and proc.stdout.strip() == "config ok"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('[printer]\nkind = "network"\n', "printer.network.host: Field required"),
        ('[printer]\nkind = "usb"\nusb_vendor_id = 1046\n', "printer.usb.usb_product_id: Field required"),
        ('[printer]\nkind = "file"\n', "printer.file.file_path: Field required"),
        ('[printer]\nkind = "serial"\nhost = "10.0.0.9"\nserial_port = "/dev/ttyS0"\n',
         "printer.serial.host: unknown field"),
        ('[printer]\nkind = "laser"\n', "printer: kind must be one of 'usb', 'serial', 'network'"),
        ('[display]\nkind = "serial"\n', "display.serial.port: Field required"),
        ('[scanner]\nkind = "serial"\nbaudrate = 9600\n', "scanner.serial.port: Field required"),
        ('[camera]\nkind = "replay"\n', "camera.replay.replay_path: Field required"),
    ],
)
def test_check_config_refuses_a_device_section_missing_what_its_kind_needs(
    tmp_path: Path, body: str, field: str
):
    path = tmp_path / "devices.toml"
    path.write_text(body, encoding="utf-8")
    proc = run_agent_cli("--config", str(path), "--check-config")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"config error: {path}: {field}"), proc.stderr


def test_a_device_section_without_kind_is_its_default_kind(tmp_path: Path):
    path = tmp_path / "k.toml"
    path.write_text('[printer]\nencoding = "gbk"\n[camera]\nwidth = 320\n', encoding="utf-8")
    config = load_config(path)
    assert (config.printer.kind, config.printer.encoding) == ("dummy", "gbk")
    assert (config.camera.kind, config.camera.width) == ("v4l2", 320)
