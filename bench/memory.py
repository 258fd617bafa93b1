"""Kiosk agent memory: resident set size through many sales on the replay camera.

The agent runs in its own process, built like ``kiosk-agent run`` builds it for the
parts a sale needs (replay camera spool, decoder, file printer, journal, checkout) and
a stand-in payment gateway (no cloud here). This process holds each code up to the
camera like the demo does (an image in the spool folder) and waits for every sale to
be committed. The agent samples its own RSS; the figures are:

- ``baseline_rss_mb``: a process that imports the same libraries and opens the same
  devices' libraries but sells nothing (what any Python kiosk pays for OpenCV, the
  decoders and escpos), measured in the same run;
- ``agent_rss_mb``: the agent's median RSS over the last quarter of the run (steady state);
- ``rss_growth_mb``: RSS at the end minus RSS after the warm-up sales.

Goals (issue 12): agent < 120 MB, growth < 5 MB over 1,000 sales. The last line is
``memory_ratio=`` (agent steady state / baseline).

Run: ``.venv/bin/python bench/memory.py [--sales 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Sales before the "after warm-up" RSS is taken: caches, pools and the price book
#: index are built by then.
WARMUP_SALES = 50
#: How long the agent shows each spool image (the demo's 0.6 s is for a person to
#: watch; the decoder needs a few frames).
HOLD_S = 0.1
SAMPLE_S = 0.25
SALE_TIMEOUT_S = 8.0
SALE_ATTEMPTS = 3
PRICE_BOOK = Path(__file__).resolve().parents[1] / "config" / "pricebook.example.json"
PRODUCTS = ["6921168509256", "6902335000127", "6901899000192", "6902261336277",
            "6923036002357", "6901180000115", "6902961000218", "6901098666663"]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def heavy_imports() -> None:
    """What a kiosk process loads whatever it does (the baseline's and the agent's)."""
    import cv2  # noqa: F401
    import escpos.printer  # noqa: F401
    import numpy  # noqa: F401
    import pyzbar.pyzbar  # noqa: F401
    import zxingcpp  # noqa: F401

    import kiosk_agent.agent
    import kiosk_agent.assembly  # noqa: F401


class ApprovingGateway:
    """Approves every payment code after a provider-like pause (no cloud in this bench)."""

    def __init__(self) -> None:
        self.count = 0

    async def charge(self, order_no: str, out_trade_no: str, provider: str, amount: int,
                     currency: str, auth_code: str, **_: object) -> object:
        from types import SimpleNamespace

        await asyncio.sleep(0.01)
        self.count += 1
        return SimpleNamespace(status="paid", out_trade_no=out_trade_no,
                               provider_ref=f"BENCH{self.count:08d}", masked=None,
                               reason=None, offline=False)


def child_baseline() -> None:
    heavy_imports()
    time.sleep(0.5)
    print(json.dumps({"rss_mb": rss_mb()}), flush=True)


async def child_agent(workdir: Path, samples: Path) -> None:
    heavy_imports()
    import drivers.camera as camera_mod
    from kiosk_agent import assembly
    from kiosk_agent.agent import Agent
    from kiosk_agent.config import AgentConfig

    camera_mod.SPOOL_HOLD_S = HOLD_S
    config = AgentConfig.model_validate({
        "kiosk": {"store_id": "bench", "kiosk_id": "k1"},
        "journal": {"path": str(workdir / "journal.db"),
                    "seed_price_book": str(PRICE_BOOK)},
        "mqtt": {"enabled": False},
        "camera": {"kind": "replay", "replay_path": str(workdir / "spool"),
                   "replay_spool": True, "replay_fps": 30},
        "decoder": {"debounce_s": 1.0},
        "printer": {"kind": "file", "file_path": str(workdir / "printer.bin")},
        "display": {"kind": "none"},
        "logging": {"level": "WARNING"},
    })
    agent = Agent(config, payments=ApprovingGateway())
    for name, factory in (("camera", assembly.scan_component),
                          ("printer", assembly.printer_component)):
        component = factory(agent)
        if component is not None:
            agent.add_component(name, component)

    async def sample(stop: asyncio.Event) -> None:
        with samples.open("a", encoding="ascii") as out:
            while not stop.is_set():
                out.write(f"{time.monotonic():.3f} {rss_mb():.2f}\n")
                out.flush()
                try:
                    await asyncio.wait_for(stop.wait(), SAMPLE_S)
                except TimeoutError:
                    pass

    agent.add_component("rss-sampler", sample)
    await agent.run()


def show(spool: Path, text: str, symbology: str, n: int) -> None:
    import cv2

    from contract import codes
    from drivers.testimages import simple_frame

    module = 5 if symbology == codes.QRCODE else 2.5
    image = simple_frame(text, symbology, module_px=module).astype("uint8")
    tmp = spool / f".{n:06d}.png"
    cv2.imwrite(str(tmp), image)
    os.replace(tmp, spool / f"{n:06d}.png")


def orders_in(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def wechat_code(rng: random.Random) -> str:
    return "13" + "".join(str(rng.randrange(10)) for _ in range(16))


def run(sales: int, seed: int) -> int:
    from contract import codes

    rng = random.Random(seed)
    here = Path(__file__).resolve()
    base = subprocess.run([sys.executable, str(here), "--child-baseline"], check=True,
                          capture_output=True, text=True, timeout=120)
    baseline = json.loads(base.stdout.strip().splitlines()[-1])["rss_mb"]
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        (work / "spool").mkdir()
        samples = work / "rss.txt"
        child = subprocess.Popen([sys.executable, str(here), "--child-agent", str(work),
                                  str(samples)])
        db = work / "journal.db"
        marks: dict[str, float] = {}
        retries = 0
        started = time.monotonic()
        try:
            deadline = time.monotonic() + 60
            while not samples.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            n = 0
            for i in range(sales):
                for _attempt in range(SALE_ATTEMPTS):
                    # Under load a frame can be missed; a shopper would show the code again.
                    for text, sym in ((PRODUCTS[i % len(PRODUCTS)], codes.EAN13),
                                      (wechat_code(rng), codes.CODE128)):
                        n += 1
                        show(work / "spool", text, sym, n)
                        while (work / "spool" / f"{n:06d}.png").exists():
                            if child.poll() is not None:
                                raise RuntimeError("the agent exited")
                            time.sleep(0.02)
                    deadline = time.monotonic() + SALE_TIMEOUT_S
                    while orders_in(db) < i + 1 and time.monotonic() < deadline:
                        time.sleep(0.02)
                    if orders_in(db) >= i + 1:
                        break
                    retries += 1
                else:
                    raise RuntimeError(f"sale {i + 1} not committed after {SALE_ATTEMPTS} tries")
                if i + 1 == WARMUP_SALES:
                    time.sleep(2 * SAMPLE_S)
                    marks["warm"] = time.monotonic()
        finally:
            elapsed = time.monotonic() - started
            time.sleep(2 * SAMPLE_S)
            child.terminate()
            child.wait(30)
        rows = [tuple(map(float, line.split())) for line in
                samples.read_text(encoding="ascii").splitlines() if line.strip()]
        committed = orders_in(db)
    warm = min(rows, key=lambda r: abs(r[0] - marks.get("warm", rows[0][0])))[1]
    end = statistics.median(r[1] for r in rows[-4:])
    steady = statistics.median(r[1] for r in rows[-max(4, len(rows) // 4):])
    peak = max(r[1] for r in rows)
    print(f"seed={seed} sales={sales} committed={committed} elapsed_s={elapsed:.1f} "
          f"sales_per_s={committed / elapsed:.2f} codes_shown_again={retries}")
    print(f"baseline_rss_mb={baseline:.1f}")
    print(f"agent_rss_after_warmup_mb={warm:.1f} agent_rss_peak_mb={peak:.1f}")
    print(f"agent_rss_mb={steady:.1f}")
    print(f"rss_growth_mb={end - warm:.1f}")
    print(f"memory_ratio={steady / baseline:.2f}")
    return 0 if committed == sales else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--child-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-agent", nargs=2, metavar=("WORKDIR", "SAMPLES"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_baseline:
        child_baseline()
        return 0
    if args.child_agent:
        asyncio.run(child_agent(Path(args.child_agent[0]), Path(args.child_agent[1])))
        return 0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    return run(args.sales, seed)


if __name__ == "__main__":
    sys.exit(main())
