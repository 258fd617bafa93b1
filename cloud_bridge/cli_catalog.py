"""``cloud-bridge catalog publish|show``: publish a store's price book from a file.

``publish`` validates the book with the kiosk's parser, stores it as the store's
current book in the bridge database (the version must be new for the store) and,
when ``[mqtt]`` is enabled, announces it with a retained pointer on
``kiosk/v1/{store}/catalog``. A running bridge re-announces every current book when
it (re)connects, so a book stored while the broker is unreachable still reaches the
kiosks.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalog import BookInfo
    from .config import BridgeConfig

# Connecting and publishing one retained message; the broker may be far away.
PUBLISH_TIMEOUT_S = 20.0



def _usage(parser: argparse.ArgumentParser, _args: argparse.Namespace) -> int:
    """A command group run without its subcommand: its help, exit status 2."""
    parser.print_help()
    return 2

def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cat = subparsers.add_parser("catalog", help="publish price books to a store's kiosks")
    sub = cat.add_subparsers(dest="catalog_command", metavar="ACTION")
    pub = sub.add_parser("publish", help="store a price book as a store's current and announce it")
    pub.add_argument("--config", type=Path, help="bridge config (TOML)")
    pub.add_argument("--store", required=True)
    pub.add_argument("--file", type=Path, required=True, help="price book, JSON (or CSV products)")
    pub.add_argument("--by", default="cli", help="who publishes (recorded; default: cli)")
    pub.set_defaults(func=_publish)
    show = sub.add_parser("show", help="the store's current price book version")
    show.add_argument("--config", type=Path, help="bridge config (TOML)")
    show.add_argument("--store", required=True)
    show.set_defaults(func=_show)
    cat.set_defaults(func=functools.partial(_usage, cat))


def _fail(message: str) -> int:
    print(f"cloud-bridge catalog: {message}", file=sys.stderr)
    return 1


async def _announce_once(config: BridgeConfig, store: str) -> None:
    import aiomqtt

    from .catalog import announce_current
    from .db import open_database
    from .ingest.worker import mqtt_client_kwargs

    # The workers' broker, account and TLS; a session of its own, gone on disconnect.
    kwargs = mqtt_client_kwargs(config.mqtt, f"{config.bridge.worker_id}-catalog-cli")
    kwargs["clean_start"], kwargs["properties"] = True, None
    db = open_database(config)
    try:
        async with aiomqtt.Client(**kwargs) as client:
            await announce_current(db, config, client.publish, store)
    finally:
        await db.close()


def _publish(args: argparse.Namespace) -> int:
    import asyncio

    from contract.wire.topics import valid_id

    from .catalog import book_url, parse_upload, publish_book
    from .config import ConfigError, load_config
    from .db import open_database
    from .errors import BridgeError

    if not valid_id(args.store):
        return _fail("store ids match [A-Za-z0-9_-]{1,64}")
    try:
        config = load_config(args.config)
        raw = args.file.read_bytes()
        fmt = "csv" if args.file.suffix.lower() == ".csv" else "json"
        book = parse_upload(raw, fmt=fmt, source=str(args.file))
    except (ConfigError, BridgeError) as err:
        return _fail(str(getattr(err, "detail", err)))
    except OSError as err:
        return _fail(f"{args.file}: {err.strerror or err}")

    async def run() -> BookInfo:
        db = open_database(config)
        try:
            async with db.session() as s:
                return await publish_book(s, args.store, book, f"cli:{args.by}")
        finally:
            await db.close()

    try:
        info = asyncio.run(run())
    except BridgeError as err:
        return _fail(err.detail)
    print(f"store {args.store}: price book {info.version} stored "
          f"(sha256 {info.sha256}, {info.size} bytes)")
    print(f"url {book_url(config, args.store, info.version)}")
    if not config.mqtt.enabled:
        print("MQTT disabled: a running bridge announces it when it connects")
        return 0
    try:
        asyncio.run(asyncio.wait_for(_announce_once(config, args.store), PUBLISH_TIMEOUT_S))
    except Exception as err:  # stored already; say so and let the bridge announce it
        return _fail(f"stored, but not announced ({type(err).__name__}: {err}); "
                     "a running bridge announces it when it (re)connects")
    print(f"announced on {info.store}'s catalog topic (retained)")
    return 0


def _show(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from .catalog import book_url, current_info
    from .config import ConfigError, load_config
    from .db import open_database

    try:
        config = load_config(args.config)
    except ConfigError as err:
        return _fail(str(err))

    async def run() -> BookInfo | None:
        db = open_database(config)
        try:
            async with db.session() as s:
                return await current_info(s, args.store)
        finally:
            await db.close()

    info = asyncio.run(run())
    if info is None:
        return _fail(f"store {args.store} has no published price book")
    print(json.dumps({**info.json(), "url": book_url(config, args.store, info.version)},
                     ensure_ascii=False, indent=2))
    return 0
