"""``cloud-bridge`` command line: each subcommand lives in the module that owns it.

Same mechanism (and the same builder) as ``kiosk-agent``: a module exposes
``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import sys

from common.cli import command_parser, run_command

from .domains import HERE, domain_names

SUBCOMMAND_MODULES = (
    "cloud_bridge.cli_serve",       # serve, migrate
    "cloud_bridge.provisioning",    # kiosk add
    "cloud_bridge.cli_catalog",     # catalog publish, show
    "cloud_bridge.cli_openapi",     # openapi (the document, offline)
)


def domain_cli_modules() -> tuple[str, ...]:
    """Every domain folder's ``cli.py`` (payments: sandbox, reconcile; finance: ...)."""
    return tuple(f"cloud_bridge.{name}.cli" for name in domain_names()
                 if (HERE / name / "cli.py").is_file())


def build_parser(modules: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    if modules is None:
        modules = SUBCOMMAND_MODULES + domain_cli_modules()
    return command_parser("cloud-bridge", "Self-checkout cloud bridge", modules)


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
