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


def test_openapi_prints_the_document_without_server_database_or_broker(tmp_path):
    """Run as a user would, in a fresh process whose config points at nothing that runs."""
    import json
    import subprocess
    import sys

    from cloud_bridge.app import all_routes
    from cloud_bridge.config import BridgeConfig

    cfg = tmp_path / "bridge.toml"
    cfg.write_text('[database]\nurl = "postgresql+asyncpg://nobody@127.0.0.1:1/none"\n'
                   "[mqtt]\nport = 1\n")
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from cloud_bridge.cli import main; sys.exit(main())",
         "openapi", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["openapi"].startswith("3.")
    declared = {(r.method.lower(), r.path) for r in all_routes(BridgeConfig())}
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert declared <= documented
