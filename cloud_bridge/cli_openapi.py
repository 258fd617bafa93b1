"""``cloud-bridge openapi``: print the HTTP API's OpenAPI document, offline.

Client generators and API checks (the mini-program's client, schemathesis) read the
same document the server serves at ``/api/v1/openapi.json``; this builds it from the
route declarations alone, with no server, database or broker.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = subparsers.add_parser("openapi", help="print the OpenAPI document (no server needed)")
    cmd.add_argument("--config", help="bridge TOML config (default: embedded defaults; "
                                      "[mp] sandbox adds the sandbox routes)")
    cmd.add_argument("--out", help="write to this file instead of standard output")
    cmd.set_defaults(func=cmd_openapi)


def cmd_openapi(args: argparse.Namespace) -> int:
    from .app import all_routes
    from .config import BridgeConfig, ConfigError, load_config
    from .openapi import build_document

    try:
        config = load_config(args.config) if args.config else BridgeConfig()
    except ConfigError as err:
        print(f"cloud-bridge: {err}", file=sys.stderr)
        return 2
    text = json.dumps(build_document(all_routes(config)), ensure_ascii=False, indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    else:
        print(text)
    return 0
