"""``cloud-bridge`` command line: each subcommand lives in the module that owns it.

Same mechanism (and the same builder) as ``kiosk-agent``: a module exposes
``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import sys

from kiosk_agent.cli import command_parser, run_command

SUBCOMMAND_MODULES = (
    "cloud_bridge.cli_serve",       # serve, migrate
    "cloud_bridge.provisioning",    # kiosk add
    "cloud_bridge.payments.cli",    # sandbox, reconcile
    "cloud_bridge.cli_catalog",     # catalog publish, show
)


def build_parser(modules: tuple[str, ...] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    return command_parser("cloud-bridge", "Self-checkout cloud bridge", modules)


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
