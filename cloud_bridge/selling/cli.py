"""``cloud-bridge staff badge|revoke``: print signed staff badges, revoke lost ones.

``badge`` signs a badge with the chain's badge key (created in the deployment config dir
on first use) and writes it as a printable QR PNG (``--out``) and its text on stdout.
``revoke`` records the revocation in the bridge database and republishes every store's
current price book with the new revocation list (a new version ``<version>.rN``), so
each kiosk refuses the badge from its next book switch.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from contract.tokens import ANY_STORE

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_STORE = re.compile(r"^(\*|[A-Za-z0-9_-]{1,32})$")
_REV_SUFFIX = re.compile(r"\.r\d+$")



def _usage(parser: argparse.ArgumentParser, _args: argparse.Namespace) -> int:
    """A command group run without its subcommand: its help, exit status 2."""
    parser.print_help()
    return 2

def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = subparsers.add_parser("staff", help="staff badges (signed QR codes) and revocations")
    sub = staff.add_subparsers(dest="staff_command", metavar="ACTION")
    badge = sub.add_parser("badge", help="sign a staff badge and write it as a QR PNG")
    badge.add_argument("--store", default=ANY_STORE, help="store the badge works in (* = all)")
    badge.add_argument("--staff", required=True, help="staff id (1-64 of A-Z a-z 0-9 _ . : -)")
    badge.add_argument("--role", help="e.g. supervisor (recorded with every approval)")
    badge.add_argument("--ttl-days", type=int, default=180, help="validity (default 180)")
    badge.add_argument("--out", type=Path, help="PNG file to write")
    badge.add_argument("--config-dir", type=Path, default=Path(
        os.environ.get("CLOUD_BRIDGE_CONFIG_DIR", "/etc/cloud-bridge")),
        help="deployment config dir holding badge_signing.key")
    badge.set_defaults(func=_badge)
    rev = sub.add_parser("revoke", help="revoke a staff member's badges (or one badge)")
    rev.add_argument("--config", type=Path, help="bridge config (TOML)")
    rev.add_argument("--staff", required=True)
    rev.add_argument("--token-id", help="only this badge (its jti); default: all issued so far")
    rev.add_argument("--store", help="the store that reports it (recorded)")
    rev.add_argument("--reason", default="lost")
    rev.add_argument("--by", default="cli")
    rev.set_defaults(func=_revoke)
    staff.set_defaults(func=functools.partial(_usage, staff))


def _fail(message: str) -> int:
    print(f"cloud-bridge staff: {message}", file=sys.stderr)
    return 1


def _badge(args: argparse.Namespace) -> int:
    from .badges import badge_png, issue_badge

    if not _ID.match(args.staff):
        return _fail("--staff must be 1-64 of A-Z a-z 0-9 _ . : -")
    if not _STORE.match(args.store):
        return _fail("--store must be * or a store id")
    if not 1 <= args.ttl_days <= 3660:
        return _fail("--ttl-days must be 1..3660")
    try:
        text = issue_badge(args.config_dir, args.staff, args.store, args.ttl_days, args.role)
    except OSError as err:
        return _fail(f"badge key in {args.config_dir}: {err.strerror or err}")
    if args.out:
        caption = f"{args.staff} @ {args.store}"
        args.out.write_bytes(badge_png(text, caption))
        print(f"badge for {args.staff} at {args.store} written to {args.out}", file=sys.stderr)
    print(text)
    return 0


async def _publish_retained(config: BridgeConfig, messages: list[tuple[str, bytes]]) -> None:
    """Publish ``(topic, payload)`` retained, QoS 1, with the workers' broker account."""
    import aiomqtt

    from cloud_bridge.ingest.worker import mqtt_client_kwargs

    kwargs = mqtt_client_kwargs(config.mqtt, f"{config.bridge.worker_id}-revoke-cli")
    kwargs["clean_start"], kwargs["properties"] = True, None
    async with aiomqtt.Client(**kwargs) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1, retain=True)


def _revoke(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.catalog import book_body, current_infos, parse_upload, publish_book
    from cloud_bridge.commands import load_signing_key
    from cloud_bridge.config import ConfigError, load_config
    from cloud_bridge.db import open_database
    from cloud_bridge.errors import BridgeError

    from .service import revocation_shadows, revoke_badge

    try:
        config = load_config(args.config)
    except ConfigError as err:
        return _fail(str(err))

    async def run() -> list[str]:
        db = open_database(config)
        try:
            async with db.session() as s:
                await revoke_badge(s, args.staff, by=f"cli:{args.by}", token_id=args.token_id,
                                   store=args.store, reason=args.reason)
                stores = []
                for info in await current_infos(s):
                    found = await book_body(s, info.store, info.version)
                    if found is None:
                        continue
                    book = parse_upload(found[1], source=f"{info.store}/{info.version}")
                    base = _REV_SUFFIX.sub("", book.version)[:56]
                    n = 1 + int(m.group(0)[2:]) if (m := _REV_SUFFIX.search(book.version)) else 1
                    # A new model, not model_copy: the book caches its canonical bytes.
                    book = type(book).model_validate(
                        {**book.model_dump(), "version": f"{base}.r{n}"})
                    await publish_book(s, info.store, book, f"cli:{args.by}:revoke")
                    stores.append(info.store)
                if key is not None:  # at once, through every kiosk's signed shadow
                    shadows[:] = await revocation_shadows(s, key)
                return stores
        finally:
            await db.close()

    key = load_signing_key(config)
    shadows: list[tuple[str, bytes]] = []
    try:
        stores = asyncio.run(run())
    except BridgeError as err:
        return _fail(str(getattr(err, "detail", err)))
    print(f"revoked {args.token_id or 'every badge'} of {args.staff}; "
          f"price books republished for {', '.join(stores) or 'no store'}")
    if config.mqtt.enabled and shadows:
        try:
            asyncio.run(asyncio.wait_for(_publish_retained(config, shadows), 30))
        except Exception as err:  # recorded as desired: the console can re-send them
            return _fail(f"stored, but shadows not sent ({type(err).__name__}: {err})")
        print(f"revocation list sent to {len(shadows)} kiosk(s) through their shadow")
    elif key is None:
        print("no command signing key: kiosks get the list with their next price book only",
              file=sys.stderr)
    if config.mqtt.enabled and stores:
        from cloud_bridge.cli_catalog import PUBLISH_TIMEOUT_S, _announce_once

        for store in stores:
            try:
                asyncio.run(asyncio.wait_for(_announce_once(config, store), PUBLISH_TIMEOUT_S))
            except Exception as err:  # stored; a running bridge announces it on connect
                return _fail(f"stored, but not announced ({type(err).__name__}: {err})")
    return 0
