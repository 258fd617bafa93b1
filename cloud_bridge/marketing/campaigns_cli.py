"""``cloud-bridge marketing campaign-create | campaign-end | campaign-results``.

Head office scripts its campaigns (a holiday calendar, a monthly 满减) from JSON files of
the same shape as ``POST /api/v1/admin/marketing/campaigns`` (``store`` omitted: chain-
wide). Creating or ending one republishes the touched stores' price books like the API
does; a running bridge announces them to the kiosks when it (re)connects, or at once
here when MQTT is configured (as ``cloud-bridge catalog publish`` does).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from common.jsontypes import JsonObject

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig
    from cloud_bridge.db import Database

T = TypeVar("T")


def register(sub: argparse._SubParsersAction) -> None:
    """The campaign actions under ``cloud-bridge marketing``."""
    create = sub.add_parser("campaign-create", help="create a campaign from a JSON file")
    create.add_argument("--file", type=Path, required=True,
                        help="the campaign as POST /api/v1/admin/marketing/campaigns takes it")
    create.add_argument("--by", default="head-office", help="who (recorded)")
    create.add_argument("--config", type=Path, help="bridge config (TOML)")
    create.set_defaults(func=_create)
    end = sub.add_parser("campaign-end", help="end a campaign now")
    end.add_argument("--id", type=int, required=True, help="campaign id")
    end.add_argument("--by", default="head-office", help="who (recorded)")
    end.add_argument("--config", type=Path, help="bridge config (TOML)")
    end.set_defaults(func=_end)
    res = sub.add_parser("campaign-results", help="a campaign's results as JSON")
    res.add_argument("--id", type=int, required=True, help="campaign id")
    res.add_argument("--config", type=Path, help="bridge config (TOML)")
    res.set_defaults(func=_results)


def _fail(message: str) -> int:
    print(f"cloud-bridge marketing: {message}", file=sys.stderr)
    return 1


def _run(args: argparse.Namespace,
         work: Callable[[Database], Awaitable[T]]) -> tuple[BridgeConfig, T]:
    """``work(db)`` on the configured database; raises ConfigError / BridgeError."""
    import asyncio

    from cloud_bridge.config import load_config
    from cloud_bridge.db import open_database

    config = load_config(args.config)

    async def run() -> T:
        db = open_database(config)
        try:
            return await work(db)
        finally:
            await db.close()

    return config, asyncio.run(run())


def _announce(config: BridgeConfig, stores: list[str]) -> None:
    import asyncio

    from cloud_bridge.cli_catalog import PUBLISH_TIMEOUT_S, _announce_once

    if not stores:
        return
    if not config.mqtt.enabled:
        print("MQTT disabled: a running bridge announces the books when it connects")
        return
    for store in stores:
        try:
            asyncio.run(asyncio.wait_for(_announce_once(config, store), PUBLISH_TIMEOUT_S))
        except Exception as err:  # stored already: the bridge announces it on (re)connect
            print(f"store {store}: not announced ({type(err).__name__}: {err})",
                  file=sys.stderr)


def _create(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cloud_bridge.config import ConfigError
    from cloud_bridge.errors import BridgeError

    from . import campaign_publish, campaigns
    from .campaign_schemas import CampaignBody

    try:
        body = CampaignBody.model_validate_json(args.file.read_bytes())
    except OSError as err:
        return _fail(f"{args.file}: {err.strerror or err}")
    except ValidationError as err:
        first = err.errors()[0]
        return _fail(f"{args.file}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    store = body.store
    actor = f"cli:{args.by}"

    async def work(db: Database) -> tuple[int, list[str]]:
        async with db.session() as s:
            c = await campaigns.create(s, created_by=actor, body=body)
        return c.id, await campaign_publish.republish(db, store, actor)

    try:
        config, (cid, stores) = _run(args, work)
    except (ConfigError, BridgeError) as err:
        return _fail(str(getattr(err, "detail", err)))
    print(f"campaign {cid} ({campaigns.book_id(cid)}) created; price books republished for "
          f"{', '.join(stores) or 'no store'}")
    _announce(config, stores)
    return 0


def _end(args: argparse.Namespace) -> int:
    from cloud_bridge.config import ConfigError
    from cloud_bridge.errors import BridgeError

    from . import campaign_publish, campaigns

    actor = f"cli:{args.by}"

    async def work(db: Database) -> list[str]:
        async with db.session() as s:
            c = await campaigns.end(s, await campaigns.get(s, args.id), actor)
            store = c.store
        return await campaign_publish.republish(db, store, actor)

    try:
        config, stores = _run(args, work)
    except (ConfigError, BridgeError) as err:
        return _fail(str(getattr(err, "detail", err)))
    print(f"campaign {args.id} ended; price books republished for "
          f"{', '.join(stores) or 'no store'}")
    _announce(config, stores)
    return 0


def _results(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cloud_bridge.config import ConfigError
    from cloud_bridge.errors import BridgeError

    from . import campaigns

    async def work(db: Database) -> JsonObject:
        async with db.read() as s:
            c = await campaigns.get(s, args.id)
            return {"id": c.id, "campaign_id": campaigns.book_id(c.id),
                    **asdict(await campaigns.results(s, c))}

    try:
        _, out = _run(args, work)
    except (ConfigError, BridgeError) as err:
        return _fail(str(getattr(err, "detail", err)))
    print(json.dumps(out, ensure_ascii=False))
    return 0
