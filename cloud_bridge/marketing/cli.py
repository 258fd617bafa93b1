"""``cloud-bridge marketing issue-coupons``: give a template's coupons to listed members;
``cloud-bridge marketing coupon-pool``: reserve a kiosk's offline coupon slots
(:func:`cloud_bridge.marketing.kiosk.pool_shadow`) and publish them in its shadow;
``cloud-bridge marketing birthday-coupons``: the day's birthday coupons (:mod:`.birthday`).

``--members FILE`` names one member id per line (``#`` comments and blank lines are
skipped); each member gets one coupon, within the template's total and per-user limits,
so re-running a batch gives nobody more than the limit allows. Refusals are printed per
member; the exit status is 1 when any member was refused.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import campaigns_cli

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def register(subparsers: argparse._SubParsersAction) -> None:
    mkt = subparsers.add_parser("marketing", help="marketing: coupon batches")
    sub = mkt.add_subparsers(dest="marketing_command", metavar="ACTION")
    campaigns_cli.register(sub)  # campaign-create, campaign-end, campaign-results
    issue = sub.add_parser("issue-coupons", help="issue a coupon template to members")
    issue.add_argument("--template", type=int, required=True, help="coupon template id")
    issue.add_argument("--members", type=Path, required=True, help="file: a member id a line")
    issue.add_argument("--config", type=Path, help="bridge config (TOML)")
    issue.set_defaults(func=_issue)
    pool = sub.add_parser("coupon-pool", help="reserve a kiosk's offline coupon slots and "
                          "send them through its signed shadow")
    pool.add_argument("--store", required=True)
    pool.add_argument("--kiosk", required=True)
    pool.add_argument("--config", type=Path, help="bridge config (TOML)")
    pool.set_defaults(func=_pool)
    bday = sub.add_parser("birthday-coupons", help="give a template's coupon to the members "
                          "whose birthday is today (run daily)")
    bday.add_argument("--template", type=int, required=True, help="coupon template id")
    bday.add_argument("--date", help="the day, YYYY-MM-DD (default: today)")
    bday.add_argument("--config", type=Path, help="bridge config (TOML)")
    bday.set_defaults(func=_birthday)
    mkt.set_defaults(func=lambda args: (mkt.print_help(), 2)[1])


def _fail(message: str) -> int:
    print(f"cloud-bridge marketing: {message}", file=sys.stderr)
    return 1


def _issue(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.config import ConfigError, load_config
    from cloud_bridge.db import open_database
    from cloud_bridge.errors import BridgeError

    from ..members.models import MemberRecord
    from .api import _ranks
    from .service import claim, get_template

    try:
        config = load_config(args.config)
        lines = args.members.read_text(encoding="utf-8").splitlines()
    except ConfigError as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(f"{args.members}: {err.strerror or err}")
    ids = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    bad = [i for i in ids if not _ID.match(i)]
    if bad:
        return _fail(f"not member ids: {', '.join(bad[:5])}")

    async def run() -> tuple[int, dict[str, str]]:
        db = open_database(config)
        issued, refused = 0, {}
        try:
            async with db.session() as s:
                await get_template(s, args.template)
            for member_id in dict.fromkeys(ids):
                async def one(s: AsyncSession, member_id: str = member_id) -> None:
                    if await s.get(MemberRecord, member_id) is None:
                        raise BridgeError("no such member")
                    t = await get_template(s, args.template)
                    rank, need = await _ranks(s, member_id, t.min_level)
                    await claim(s, t.id, member_id, level_rank=rank, min_level_rank=need,
                                channel="batch")
                try:
                    await db.transact(one)
                    issued += 1
                except BridgeError as err:
                    refused[member_id] = str(err)
        finally:
            await db.close()
        return issued, refused

    try:
        issued, refused = asyncio.run(run())
    except BridgeError as err:
        return _fail(str(err))
    for member_id, why in refused.items():
        print(f"{member_id}: refused: {why}", file=sys.stderr)
    print(f"coupons issued: {issued}, refused: {len(refused)}")
    return 1 if refused else 0


def _pool(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.commands import load_signing_key
    from cloud_bridge.config import ConfigError, load_config
    from cloud_bridge.db import open_database
    from cloud_bridge.errors import BridgeError
    from cloud_bridge.selling.cli import _publish_retained

    from ..members.member_code import signing_key
    from .kiosk import pool_shadow

    try:
        config = load_config(args.config)
        member_key = signing_key(config)
    except (ConfigError, BridgeError) as err:
        return _fail(str(getattr(err, "detail", err)))
    command_key = load_signing_key(config)
    if command_key is None:
        return _fail("no command signing key: a kiosk accepts only a signed shadow")

    async def run() -> tuple[str, bytes]:
        db = open_database(config)
        try:
            async def work(s: AsyncSession) -> tuple[str, bytes]:
                return await pool_shadow(s, command_key, member_key, args.store, args.kiosk)
            return await db.transact(work)
        finally:
            await db.close()

    topic, payload = asyncio.run(run())
    if config.mqtt.enabled:
        try:
            asyncio.run(asyncio.wait_for(_publish_retained(config, [(topic, payload)]), 30))
        except Exception as err:  # recorded as desired: the console can re-send it
            return _fail(f"reserved, but the shadow was not sent ({type(err).__name__}: {err})")
    print(f"coupon slots reserved for {args.store}/{args.kiosk} and sent in its shadow")
    return 0


def _birthday(args: argparse.Namespace) -> int:
    import asyncio
    from datetime import date

    from cloud_bridge.config import ConfigError, load_config
    from cloud_bridge.db import open_database
    from cloud_bridge.errors import BridgeError

    from .birthday import issue_birthday_coupons

    try:
        config = load_config(args.config)
        day = date.fromisoformat(args.date) if args.date else date.today()
    except ConfigError as err:
        return _fail(str(err))
    except ValueError:
        return _fail("--date must be YYYY-MM-DD")

    async def run() -> dict[str, int]:
        db = open_database(config)
        try:
            async def work(s: AsyncSession) -> dict[str, int]:
                return await issue_birthday_coupons(s, args.template, day)
            return await db.transact(work)
        finally:
            await db.close()

    try:
        out = asyncio.run(run())
    except BridgeError as err:
        return _fail(str(getattr(err, "detail", err)))
    print(f"birthday coupons {day}: members {out['members']}, issued {out['issued']}, "
          f"already given {out['refused']}")
    return 0
