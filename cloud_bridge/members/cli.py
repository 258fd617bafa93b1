"""``cloud-bridge members import|sync|programs-sync``: bring members in from a CSV, count
order growth, run the member programs' sweep (paid memberships, referrals, reminders).

``import --file members.csv`` reads a header row with ``openid`` (required) and optional
``unionid``, ``appid`` (default: ``[mp] app_id``), ``phone``, ``home_store``,
``birthday`` (YYYY-MM-DD); a member already there (same unionid or appid+openid) is
left as it is, so running an import twice creates nobody twice. Bad rows are reported
with their line number and skipped; the exit status is 1 when any row was bad.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig

_OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PHONE = re.compile(r"^[0-9]{5,20}$")
_STORE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def register(subparsers: argparse._SubParsersAction) -> None:
    members = subparsers.add_parser("members", help="members: import from CSV, count growth")
    sub = members.add_subparsers(dest="members_command", metavar="ACTION")
    imp = sub.add_parser("import", help="import members from a CSV file")
    imp.add_argument("--file", type=Path, required=True, help="CSV with a header row")
    imp.add_argument("--config", type=Path, help="bridge config (TOML)")
    imp.set_defaults(func=_import)
    sync = sub.add_parser("sync", help="count growth and points of paid/refunded orders now")
    sync.add_argument("--config", type=Path, help="bridge config (TOML)")
    sync.set_defaults(func=_sync)
    programs = sub.add_parser("programs-sync", help="activate paid memberships, end expired "
                              "ones, reward invitees' first purchases, enqueue renewal reminders")
    programs.add_argument("--config", type=Path, help="bridge config (TOML)")
    programs.set_defaults(func=_programs_sync)
    members.set_defaults(func=lambda args: (members.print_help(), 2)[1])


def _fail(message: str) -> int:
    print(f"cloud-bridge members: {message}", file=sys.stderr)
    return 1


class MemberRow(TypedDict):
    """One imported member, as register() takes it."""

    openid: str
    appid: str
    unionid: str | None
    phone: str | None
    home_store: str | None
    birthday: str | None


def parse_row(row: dict[str, str], default_appid: str) -> MemberRow:
    """One CSV row as register() arguments; ValueError names what is wrong."""
    def get(name: str) -> str | None:
        value = (row.get(name) or "").strip()
        return value or None

    openid = get("openid")
    if openid is None or not _OPENID.match(openid):
        raise ValueError("openid missing or not 1-64 of A-Z a-z 0-9 _ -")
    out = MemberRow(openid=openid, appid=get("appid") or default_appid,
                    unionid=get("unionid"), phone=get("phone"), home_store=get("home_store"),
                    birthday=get("birthday"))
    if out["unionid"] is not None and not _OPENID.match(out["unionid"]):
        raise ValueError("unionid not 1-64 of A-Z a-z 0-9 _ -")
    if out["phone"] is not None and not _PHONE.match(out["phone"]):
        raise ValueError("phone must be 5-20 digits")
    if out["home_store"] is not None and not _STORE.match(out["home_store"]):
        raise ValueError("home_store is not a store id")
    if out["birthday"] is not None:
        if not re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", out["birthday"]):
            raise ValueError("birthday must be YYYY-MM-DD")
        date.fromisoformat(out["birthday"])
    return out


def _load(args: argparse.Namespace) -> BridgeConfig:
    from cloud_bridge.config import load_config

    return load_config(args.config)


def _import(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.config import ConfigError
    from cloud_bridge.db import open_database

    from .service import register as register_member

    try:
        config = _load(args)
        text = args.file.read_text(encoding="utf-8-sig")
    except ConfigError as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(f"{args.file}: {err.strerror or err}")
    rows: list[MemberRow] = []
    bad = 0
    for line_no, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            rows.append(parse_row(row, config.mp.app_id))
        except ValueError as err:
            bad += 1
            print(f"{args.file}:{line_no}: skipped: {err}", file=sys.stderr)

    async def run() -> tuple[int, int]:
        db = open_database(config)
        created = existing = 0
        try:
            for r in rows:
                async with db.session() as s:
                    m, new = await register_member(s, appid=r["appid"], openid=r["openid"],
                                                   unionid=r["unionid"], phone=r["phone"],
                                                   home_store=r["home_store"])
                    if new and r["birthday"]:
                        m.birthday = r["birthday"]
                created += new
                existing += not new
        finally:
            await db.close()
        return created, existing

    created, existing = asyncio.run(run())
    print(f"members: {created} created, {existing} already there, {bad} rows skipped")
    return 1 if bad else 0


def _sync(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.config import ConfigError
    from cloud_bridge.db import open_database

    from . import jobs, points

    try:
        config = _load(args)
    except ConfigError as err:
        return _fail(str(err))

    async def run() -> dict[str, int]:
        db = open_database(config)
        try:
            async with db.session() as s:
                out = await jobs.sync_orders(s)
                out["points_expired"] = await points.expire(s)
                return out
        finally:
            await db.close()

    print(" ".join(f"{k}={v}" for k, v in asyncio.run(run()).items()))
    return 0


def _programs_sync(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.config import ConfigError
    from cloud_bridge.db import open_database

    from .runtime import run_programs

    try:
        config = _load(args)
    except ConfigError as err:
        return _fail(str(err))

    async def run() -> dict[str, int]:
        db = open_database(config)
        try:
            return await run_programs(db, config.bridge.timezone)
        finally:
            await db.close()

    print(" ".join(f"{k}={v}" for k, v in asyncio.run(run()).items()))
    return 0
