"""``cloud-bridge games audit --game ID``: every draw of a lucky draw as CSV, for the
auditor or the regulator (who drew, when, the roll, the prize drawn and the prize given).

Written to ``--out FILE`` or standard output, oldest draw first, with the game's
configuration fingerprint on every row; exit status 1 when there is no such game.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COLUMNS = ("draw_id", "created_at", "member_id", "day", "day_seq", "request_id", "roll",
           "total_weight", "drawn_prize_id", "prize_id", "outcome", "points_spent",
           "points_won", "coupon_id", "config_hash")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    games = subparsers.add_parser("games", help="games: the lucky draw's audit")
    sub = games.add_subparsers(dest="games_command", metavar="ACTION")
    audit = sub.add_parser("audit", help="every draw of a lucky draw as CSV")
    audit.add_argument("--game", type=int, required=True, help="lucky draw id")
    audit.add_argument("--out", type=Path, help="CSV file to write (default: stdout)")
    audit.add_argument("--config", type=Path, help="bridge config (TOML)")
    audit.set_defaults(func=_audit)

    def usage(_args: argparse.Namespace) -> int:  # ``games`` without an action
        games.print_help()
        return 2

    games.set_defaults(func=usage)


def _fail(message: str) -> int:
    print(f"cloud-bridge games: {message}", file=sys.stderr)
    return 1


def _audit(args: argparse.Namespace) -> int:
    import asyncio
    import csv
    import io

    from sqlalchemy import select

    from cloud_bridge.config import ConfigError, load_config
    from cloud_bridge.db import open_database
    from cloud_bridge.errors import BridgeError

    from .models import Draw
    from .service import get

    try:
        config = load_config(args.config)
    except ConfigError as err:
        return _fail(str(err))

    async def run() -> list[list[object]]:
        db = open_database(config)
        try:
            async with db.read() as s:
                await get(s, args.game)
                rows = (await s.scalars(select(Draw).where(Draw.game_id == args.game)
                                        .order_by(Draw.created_at, Draw.id))).all()
                return [[d.id, d.created_at.isoformat(), d.member_id, d.day, d.day_seq,
                         d.request_id, d.roll, d.total_weight, d.drawn_prize_id, d.prize_id,
                         d.outcome, d.points_spent, d.points_won, d.coupon_id, d.config_hash]
                        for d in rows]
        finally:
            await db.close()

    try:
        rows = asyncio.run(run())
    except BridgeError as err:
        return _fail(str(err))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    if args.out is not None:
        try:
            args.out.write_text(buf.getvalue(), encoding="utf-8")
        except OSError as err:
            return _fail(f"{args.out}: {err.strerror or err}")
        print(f"games: {len(rows)} draws written to {args.out}")
    else:
        sys.stdout.write(buf.getvalue())
    return 0
