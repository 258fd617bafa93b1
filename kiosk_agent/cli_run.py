"""``kiosk-agent run --config FILE``: start the agent (what the systemd unit runs).

A config that cannot be used stops start-up with ONE line on stderr,
``config error: <path>: <field>: <reason>``, and exit status 2 (systemd's
``RestartPreventExitStatus=2`` keeps it from looping on a broken file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_CONFIG = 2
EXIT_JOURNAL = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("run", help="run the kiosk agent")
    parser.add_argument("--config", type=Path, default=None,
                        help="agent TOML config (default: embedded defaults)")
    parser.add_argument("--check-config", action="store_true",
                        help="validate the config, print 'config ok' and exit")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        print("config ok")
        return 0

    import asyncio
    import logging

    from .agent import build_agent
    from .journal import JournalError

    logging.basicConfig(
        level=config.logging.level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(build_agent(config).run())
    except JournalError as err:
        print(f"journal error: {err}", file=sys.stderr)
        return EXIT_JOURNAL
    except KeyboardInterrupt:
        pass
    return 0
