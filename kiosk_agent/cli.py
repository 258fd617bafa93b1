"""``kiosk-agent`` command line: each subcommand lives in the module that owns it."""

from __future__ import annotations

import argparse
import sys

from common.cli import command_parser, run_command

SUBCOMMAND_MODULES = (
    "kiosk_agent.cli_run",       # run
    "kiosk_agent.cli_journal",   # journal check | export
    "kiosk_agent.cli_decode",    # decode FILE...
    "kiosk_agent.cli_receipt",   # receipt --order --png --escpos
)


def build_parser(modules: tuple[str, ...] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    return command_parser("kiosk-agent", "Self-checkout kiosk agent", modules)


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
