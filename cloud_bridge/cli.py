"""``cloud-bridge`` command line: each subcommand lives in the module that owns it.

Same mechanism as ``kiosk-agent``: a module exposes ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kiosk_agent import __version__

SUBCOMMAND_MODULES = (
    "cloud_bridge.cli_serve",       # serve, migrate
    "cloud_bridge.provisioning",    # kiosk add
    "cloud_bridge.payments.cli",    # sandbox, reconcile
)


def build_parser(modules: tuple[str, ...] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cloud-bridge", description="Self-checkout cloud bridge")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            # A subcommand whose module is not written yet must not break the others.
            if err.name and name.startswith(err.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
