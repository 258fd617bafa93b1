"""``cloud-bridge`` command line: every listed subcommand module registers; none is skipped."""

from __future__ import annotations

import pytest

from cloud_bridge.cli import build_parser, main


def test_every_listed_module_registers_its_subcommands(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"serve", "migrate", "admin", "kiosk"} <= set(sub.choices)
    assert main([]) == 2  # no subcommand: help, usage error
    assert "COMMAND" in capsys.readouterr().out


def test_a_missing_subcommand_module_is_an_error():
    with pytest.raises(ModuleNotFoundError):
        build_parser(("cloud_bridge.cli_serve", "cloud_bridge.no_such_subcommand"))


def test_a_bad_config_is_one_line_on_stderr(tmp_path, capsys):
    bad = tmp_path / "bridge.toml"
    bad.write_text("[bridge]\nsurprise = 1\n")
    assert main(["migrate", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"cloud-bridge: {bad}: bridge.surprise: unknown field"
