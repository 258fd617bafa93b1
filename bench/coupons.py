"""Concurrent coupon redemptions per second on PostgreSQL: the marketing service against
a plain ``UPDATE ... WHERE`` baseline, in the same run on the same generated data.

The world: a chain's coupon campaign, members each holding a coupon, many tills
redeeming at once. Each redemption through the service is what checkout does: lock the
member's coupon to an order (``marketing.service.lock``, owner and validity checked,
idempotent per order), then mark it used when paid (``use``), each in its own transaction with conflict retries. The baseline is the
least a database can do for the same outcome: one ``UPDATE mkt_coupons SET status='used'
WHERE id=:id AND status='unused'`` per coupon, on the same number of concurrent
connections. A second pass shows both refuse every double redemption (a coupon redeemed
twice counts once). Seeds are printed, fresh each run.

    .venv/bin/python bench/coupons.py [--coupons 3000] [--workers 16] [--seed N]

The last line is ``coupon_ratio=<service/s divided by baseline/s>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from cloud_bridge.db import Database  # noqa: E402
from cloud_bridge.errors import Conflict  # noqa: E402
from cloud_bridge.marketing import service  # noqa: E402
from cloud_bridge.marketing.models import Coupon, CouponTemplate  # noqa: E402
from cloud_bridge.migrations import import_models  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def seed(db: Database, rng: random.Random, n: int, tag: str) -> list[tuple[str, str]]:
    """A template of ``n`` coupons held by ``n`` members; (coupon id, owner) in random order."""
    now = datetime.now(UTC)
    async with db.session() as s:
        t = CouponTemplate(name_zh=f"满{rng.choice((30, 50, 99))}减{rng.choice((5, 10, 20))}",
                           kind="fixed", value=rng.choice((500, 1000, 2000)), threshold=9900,
                           categories=[], exclude_categories=[], valid_days=30,
                           total_limit=n, per_user_limit=1, issued=n, status="active",
                           stackable=False, created_by="bench")
        s.add(t)
        await s.flush()
        rows = [{"id": f"c{tag}{i:07d}{rng.randrange(16**6):06x}", "template_id": t.id,
                 "owner": f"m{tag}{i:07d}", "claim_seq": 1, "channel": "batch",
                 "status": "unused", "order_no": None,
                 "valid_from": now - timedelta(hours=rng.randrange(1, 48)),
                 "valid_until": now + timedelta(days=rng.randrange(1, 30)),
                 "claimed_at": now, "locked_at": None, "used_at": None} for i in range(n)]
        await s.execute(insert(Coupon), rows)
    out = [(r["id"], r["owner"]) for r in rows]
    rng.shuffle(out)
    return out


async def drive(work, items, workers: int) -> tuple[float, int]:
    """Run ``work(item)`` over ``items`` with ``workers`` concurrent tasks: (seconds, wins)."""
    queue: asyncio.Queue = asyncio.Queue()
    for it in items:
        queue.put_nowait(it)
    wins = 0

    async def worker() -> None:
        nonlocal wins
        while not queue.empty():
            won = await work(queue.get_nowait())  # awaited first: += would race
            wins += won

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - t0, wins


async def bench(url: str, n: int, workers: int, rng: random.Random) -> float:
    db = Database(url)
    await db.create_all()
    try:
        mine = await seed(db, rng, n, "s")
        base = await seed(db, rng, n, "b")

        async def via_service(item) -> int:
            cid, owner = item
            order_no = f"O-{cid}"

            async def work(s):
                await service.lock(s, cid, owner, order_no)
                await service.use(s, cid, order_no)
            try:
                await db.transact(work, retries=10)
                return 1
            except Conflict:
                return 0

        async def via_update(item) -> int:
            cid, _ = item
            async with db.session() as s:
                res = await s.execute(text("UPDATE mkt_coupons SET status='used' "
                                           "WHERE id=:id AND status='unused'"), {"id": cid})
                return res.rowcount

        # Interleave so neither side gets a warmer cache: baseline, service, then again.
        half = n // 2
        tb1, wb1 = await drive(via_update, base[:half], workers)
        ts1, ws1 = await drive(via_service, mine[:half], workers)
        tb2, wb2 = await drive(via_update, base[half:], workers)
        ts2, ws2 = await drive(via_service, mine[half:], workers)
        tb, ts = tb1 + tb2, ts1 + ts2
        # Double redemptions: every coupon again (different orders for the service).
        dup = rng.sample(mine, min(300, n))
        _, again_s = await drive(lambda it: via_service((it[0], it[1])), dup, workers)
        _, again_b = await drive(via_update, rng.sample(base, min(300, n)), workers)
        print(f"baseline_update: {n} redemptions in {tb:.2f}s = {n / tb:.0f}/s "
              f"(won {wb1 + wb2})")
        print(f"service_lock_use: {n} redemptions in {ts:.2f}s = {n / ts:.0f}/s "
              f"(won {ws1 + ws2})")
        print(f"double_redemptions_accepted: service={again_s} baseline={again_b} "
              f"(of {len(dup)} each)")
        async with db.session() as s:
            used = (await s.execute(text("SELECT count(*) FROM mkt_coupons WHERE "
                                         "status='used' AND owner LIKE 'ms%'"))).scalar()
        print(f"service_coupons_used={used} expected={n}")
        return (n / ts) / (n / tb)
    finally:
        await db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coupons", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--seed", type=int, default=random.SystemRandom().randrange(2**31))
    args = ap.parse_args()
    print(f"seed={args.seed} coupons={args.coupons} workers={args.workers}")
    import_models()
    import asyncpg

    admin = PG_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"bench_coupons_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def exec_(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(exec_(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as err:
        print(f"PostgreSQL not reachable ({err}); skipped")
        print("coupon_ratio=nan")
        return
    try:
        ratio = asyncio.run(bench(PG_URL.rsplit("/", 1)[0] + "/" + name, args.coupons,
                                  args.workers, random.Random(args.seed)))
    finally:
        asyncio.run(exec_(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"coupon_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
