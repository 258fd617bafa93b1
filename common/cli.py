"""Subcommand-based command lines: each subcommand lives in the module that owns it.

A subcommand module exposes ``register(subparsers)``, which adds its parser and
sets ``func=handler``; ``handler(args) -> int`` is the exit status. Heavy
libraries (OpenCV, escpos) are imported inside handlers, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterable

from .version import __version__


def command_parser(prog: str, description: str, modules: Iterable[str]) -> argparse.ArgumentParser:
    """A parser with ``--version`` whose subcommands each module in ``modules`` registers.

    Shared by ``kiosk-agent`` and ``cloud-bridge``; a listed module that cannot be
    imported is an error (a packaging mistake, not something to skip).
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def run_command(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand's handler; help and 2 without one."""
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)
