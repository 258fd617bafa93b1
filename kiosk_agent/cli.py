"""``kiosk-agent`` command line: each subcommand lives in the module that owns it.

A subcommand module exposes ``register(subparsers)``, which adds its parser and
sets ``func=handler``; ``handler(args) -> int`` is the exit status. Heavy
libraries (OpenCV, escpos) are imported inside handlers, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

SUBCOMMAND_MODULES = (
    "kiosk_agent.cli_run",       # run
    "kiosk_agent.cli_journal",   # journal check | export
    "drivers.cli_decode",        # decode FILE...
    "drivers.cli_receipt",       # receipt --order --png --escpos
)


def build_parser(modules: tuple[str, ...] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-agent", description="Self-checkout kiosk agent")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(sub)
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
