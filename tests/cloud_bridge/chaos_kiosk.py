"""One kiosk of the full-order chaos test (tests/cloud_bridge/test_chaos_orders.py), run as
its own process so the test can SIGKILL it: ``python -m tests.cloud_bridge.chaos_kiosk SPEC``.

It is the real agent (:class:`kiosk_agent.agent.Agent`: journal recovery at start, the
checkout) with the real link, payment gateway and outbox drainer wired by
:mod:`kiosk_agent.assembly` (which also settles attempts left open at start). A scripted
shopper feeds it scans through :meth:`Agent.handle_scan`, the way the camera does:
products (some weighed, some age-restricted with a staff badge), then a fresh WeChat or
Alipay payment code; a declined or reversed payment is retried with a new code.

Resumable: checkout ``i`` always scans the same cart; a restarted kiosk skips the
checkouts whose payment it already persisted (their order numbers are in the journal).
At the end it settles what is still open, waits for the outbox to drain and writes the
journal's view (attempts, orders, outbox) as JSON to ``spec["result"]``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# Shopper retries with a fresh code after a decline or a reversal, at most this often.
MAX_ATTEMPTS = 3


# A signed staff badge for the age checks (contract.tokens), made per process with a fresh
# chain key whose public half the agent reads from $KIOSK_BADGE_PUBKEY.
BADGE: dict[str, str] = {}


def make_badge(store: str) -> None:
    import os

    from contract.signing import generate_signing_key, public_key_pem
    from contract.tokens import issue_token

    key = generate_signing_key()
    os.environ["KIOSK_BADGE_PUBKEY"] = public_key_pem(key).decode()
    BADGE["text"] = issue_token(key, kind="staff", subject="S007", store=store, ttl_s=86_400)


def agent_config(spec: dict[str, Any]) -> Any:
    from kiosk_agent.config import AgentConfig

    return AgentConfig.model_validate({
        "kiosk": {"store_id": spec["store"], "kiosk_id": spec["kiosk"]},
        "journal": {"path": spec["journal"], "seed_price_book": spec["pricebook"]},
        "mqtt": {"port": spec["broker_port"], "keepalive_s": 5},
        "outbox": spec["outbox"],
        "payments": {"charge_timeout_s": spec["timings"]["charge_timeout_s"],
                     "settle_timeout_s": spec["timings"]["settle_timeout_s"]},
        "camera": {"kind": "none"},
        "printer": {"kind": "none"},
        "display": {"kind": "none"},
    })


def build(spec: dict[str, Any]) -> Any:
    """The agent with the link and outbox components of ``kiosk-agent run``."""
    from kiosk_agent import assembly, link
    from kiosk_agent.agent import Agent

    link.RECONNECT_MIN_S = 0.05
    link.RECONNECT_MAX_S = 0.3
    agent = Agent(agent_config(spec))
    agent.receipt_wait_s = 0.0  # no printer here: the receipt job just stays queued
    agent.add_component("link", assembly.link_component(agent))
    agent.add_component("outbox", assembly.outbox_component(agent))
    agent.payments.settle_rpc_timeout_s = spec["timings"]["settle_rpc_timeout_s"]
    agent.payments.settle_retry_s = spec["timings"]["settle_retry_s"]
    return agent


def shopper_cart(book: Any, seed: int, i: int) -> list[SimpleNamespace]:
    """Checkout ``i``'s scans before payment (same list every time it is run)."""
    rng = random.Random(f"{seed}-{i}")
    plain = [p for p in book.products if p.active and not p.weighed and not p.age_restricted]
    weighed = [p for p in book.products if p.active and p.weighed]
    restricted = [p for p in book.products if p.active and p.age_restricted]
    scans = []
    for _ in range(rng.randint(1, 4)):
        p = rng.choice(plain)
        scans.append(SimpleNamespace(kind="product", text=p.barcodes[0], symbology="EAN13"))
    if weighed and rng.random() < 0.2:
        scans.append(SimpleNamespace(kind="product", text=weighed[0].barcodes[0],
                                     symbology="EAN13", weight_g=rng.randint(150, 1500)))
    if restricted and rng.random() < 0.15:
        scans.append(SimpleNamespace(kind="product", text=restricted[0].barcodes[0],
                                     symbology="EAN13"))
        scans.append(SimpleNamespace(kind="staff", text=BADGE["text"], symbology="QR"))
    return scans


def payment_scan(rng: random.Random, i: int) -> SimpleNamespace:
    """A fresh payment code (never shown twice): WeChat 18 digits or Alipay 18 digits."""
    if i % 2 == 0:
        return SimpleNamespace(kind="wechat", text=f"13{rng.randrange(10**15, 10**16)}",
                               symbology="QR")
    return SimpleNamespace(kind="alipay", text=f"28{rng.randrange(10**15, 10**16)}",
                           symbology="QR")


async def shop(agent: Any, spec: dict[str, Any], log: logging.Logger) -> dict[str, int]:
    from kiosk_agent.checkout import State

    co = agent.checkout
    journal = agent.journal
    attempts = await journal.payment_attempts()
    started = len({a.order_no for a in attempts})
    # Codes must never repeat, across restarts too.
    rng = random.Random(f"{spec['seed']}-codes-{time.time_ns()}")
    counts = {"paid": 0, "given_up": 0, "retries": 0}
    for i in range(started, spec["total"]):
        for scan in shopper_cart(agent.book, spec["seed"], i):
            refusal = await agent.handle_scan(scan)
            if refusal is not None:
                raise AssertionError(f"checkout {i}: {scan.kind} refused: {refusal.en}")
        for n in range(MAX_ATTEMPTS):
            refusal = await agent.handle_scan(payment_scan(rng, i))
            if refusal is not None:
                raise AssertionError(f"checkout {i}: payment refused: {refusal.en}")
            if co.state == State.COMPLETED:
                counts["paid"] += 1
                break
            status = co.attempt.status if co.attempt is not None else "?"
            if status == "unknown":
                break  # settling outlasted the kiosk's patience; the shopper leaves
            counts["retries"] += n == 0
        if co.state != State.COMPLETED:
            log.warning("checkout %d not paid (%s); cart voided", i,
                        co.attempt.status if co.attempt else "-")
            counts["given_up"] += 1
            await co.cancel("chaos shopper gave up")
    return counts


async def finish(agent: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Settle what is still open, drain the outbox, report the journal."""
    journal = agent.journal
    late = 0
    deadline = time.monotonic() + spec["finish_s"]
    while time.monotonic() < deadline:
        left = [a for s in ("pending", "unknown") for a in await journal.payment_attempts(status=s)]
        if not left:
            break
        late += len(left)
        await agent.payments.resume_unsettled()
    await agent.runtime.outbox.wait_idle(max(deadline - time.monotonic(), 1.0))
    attempts = await journal.payment_attempts()
    orders = await journal.orders(limit=100_000)
    stats = await journal.outbox_stats()
    return {
        "attempts": {a.out_trade_no: {"order_no": a.order_no, "status": a.status,
                                      "amount": a.amount} for a in attempts},
        "orders": {o.order_no: {"total": o.total,
                                "tenders": [t.out_trade_no for t in o.tenders]}
                   for o in orders},
        "outbox_depth": stats.depth, "dead_letters": stats.dead_letters,
        "late_settled": late,
    }


async def main_async(spec: dict[str, Any]) -> dict[str, Any]:
    log = logging.getLogger("chaos_kiosk")
    make_badge(spec["store"])
    agent = build(spec)
    runner = asyncio.create_task(agent.run(), name="agent")
    try:
        started = asyncio.ensure_future(agent.started.wait())
        await asyncio.wait({started, runner}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()
        if not started.done() or not await agent.runtime.link.wait_connected(20):
            raise RuntimeError("agent did not start or connect")
        counts = await shop(agent, spec, log)
        result = await finish(agent, spec)
        result["counts"] = counts
        return result
    finally:
        agent.stop()
        await asyncio.wait_for(runner, 30)


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"%(asctime)s {spec['kiosk']} %(name)s %(levelname)s %(message)s")
    result = asyncio.run(main_async(spec))
    Path(spec["result"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
