"""The kiosk alone on fakes: the real journal, checkout, pricing, scanning, printing
and display, with a stand-in payment gateway instead of the cloud.

Used when the rest of the system (Mosquitto, the cloud bridge) is not available,
and as the quick check of the kiosk itself (``python -m demo --local``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import kit, scenario, term

#: Longest wait for the kiosk to finish a step (a sale, a receipt) before the demo
#: reports it as a failure; a sale on this machine takes well under a second.
STEP_TIMEOUT_S = 20.0


@dataclass
class StandInPayment:
    status: str
    out_trade_no: str
    provider_ref: str
    masked: str | None = None
    reason: str | None = None
    offline: bool = False


class StandInGateway:
    """Approves every payment code (there is no cloud in this mode); keeps no code."""

    def __init__(self) -> None:
        self._refs = itertools.count(1)
        self.charges: list[tuple[str, int]] = []

    async def charge(self, order_no: str, out_trade_no: str, provider: str, amount: int,
                     currency: str, auth_code: str, **_: Any) -> StandInPayment:
        from contract.codes import mask_code

        await asyncio.sleep(0.05)  # a provider round trip, shortened
        self.charges.append((provider, amount))
        masked = mask_code(auth_code) if auth_code else None
        return StandInPayment("paid", out_trade_no, f"LOCAL{next(self._refs):06d}", masked)


class LocalKiosk:
    """An agent built like ``kiosk-agent run`` builds it, running in a thread."""

    def __init__(self, config: Any) -> None:
        from kiosk_agent import assembly
        from kiosk_agent.agent import Agent

        self.gateway = StandInGateway()
        self.agent = Agent(config, payments=self.gateway)
        for name, factory in (("camera", assembly.scan_component),
                              ("printer", assembly.printer_component),
                              ("display", assembly.display_component)):
            component = factory(self.agent)
            if component is not None:
                self.agent.add_component(name, component)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="kiosk-agent", daemon=True)

    def _main(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self.agent.run())
        except BaseException as err:  # reported by the demo, never a traceback
            self.error = err
        finally:
            self.loop.close()

    def start(self) -> None:
        self._thread.start()
        if not kit.wait_for(lambda: self.agent.started.is_set() or self.error, STEP_TIMEOUT_S):
            raise RuntimeError("the kiosk agent did not start")
        if self.error:
            raise RuntimeError(f"the kiosk agent failed: {self.error}")

    def call(self, coro: Any, timeout: float = STEP_TIMEOUT_S) -> Any:
        assert self.loop is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError as err:
            raise RuntimeError("the kiosk did not answer in time") from err

    def stop(self) -> None:
        if self.loop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.agent.stop)
        self._thread.join(STEP_TIMEOUT_S)


def local_config(out: Path, display_path: str | None) -> Any:
    from kiosk_agent.config import AgentConfig

    return AgentConfig.model_validate({
        "kiosk": {"store_id": scenario.STORE, "kiosk_id": scenario.KIOSK},
        "journal": {"path": str(out / "journal.db"),
                    "seed_price_book": str(scenario.PRICE_BOOK)},
        "mqtt": {"enabled": False},
        "camera": {"kind": "replay", "replay_path": str(out / "camera"), "replay_spool": True,
                   "replay_fps": 15},
        "decoder": {"debounce_s": 1.0},
        "printer": {"kind": "file", "file_path": str(out / "printer.bin")},
        "display": {"kind": "serial", "port": display_path} if display_path else {"kind": "none"},
        "control": {"socket_path": str(out / "control.sock"), "socket_group": None},
        "logging": {"level": "INFO"},
    })


def run(out: Path, fast: bool = False) -> int:
    """The kiosk alone: two paid sales and a parked order. Returns the exit status."""
    import logging

    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=out / "agent.log", level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scenario.set_member_key()
    display = kit.DisplayMonitor()
    config = local_config(out, display.path)
    camera = kit.Camera(out / "camera")
    kiosk = LocalKiosk(config)
    term.section("本机演示：自助收银机（无云端）", "Local demo: the kiosk alone, no cloud")
    term.note(f"journal {config.journal.path}; printer -> {config.printer.file_path}; "
              f"display on {display.path}; log {out / 'agent.log'}")
    try:
        kiosk.start()
        journal = kiosk.agent.journal

        def orders() -> list[Any]:
            return kiosk.call(journal.orders())

        def sale(title: tuple[str, str], codes: list[tuple[str, str, str]], n_orders: int) -> Any:
            term.section(*title)
            for label, text, sym in codes:
                term.step(label)
                camera.show(text, sym)
            done = kit.wait_for(lambda: len(orders()) >= n_orders
                                and not kiosk.call(journal.print_jobs_pending()), STEP_TIMEOUT_S)
            if not done:
                raise RuntimeError(f"sale not completed (state {kiosk.agent.checkout.state})")
            order = max(orders(), key=lambda o: o.order_no)
            term.ok(f"已付款 paid: {order.order_no}  ￥{order.total / 100:.2f}")
            kit.show_receipt(order, config, out)
            return order

        sale(("顾客一：三件商品 + 会员码 + 微信付款码", "Shopper 1: three items, member, WeChat"),
             scenario.shopper_one(), 1)
        sale(("顾客二：支付宝", "Shopper 2: Alipay"), scenario.shopper_alipay(), 2)
        term.section("顾客三：挂单（到人工收银台付款）", "Shopper 3: park the cart for a staffed till")
        for label, text, sym in scenario.shopper_park():
            term.step(label)
            camera.show(text, sym)
        parked = kit.wait_for(lambda: kiosk.call(journal.parked_orders()), STEP_TIMEOUT_S)
        if not parked:
            raise RuntimeError("the cart was not parked")
        term.ok(f"已挂单 parked: {parked[0].park_no}  ￥{parked[0].total / 100:.2f}")
        time.sleep(0.3)  # let the display show the last screen
        all_orders = orders()
        stats = kiosk.call(journal.outbox_stats())
        attempts = kiosk.call(journal.payment_attempts(status="paid"))
        term.section("汇总", "Summary")
        term.table(["", "kiosk journal"], [
            ["订单 orders", str(len(all_orders))],
            ["支付 payments (paid)", str(len(attempts))],
            ["挂单 parked", str(len(kiosk.call(journal.parked_orders())))],
            ["小票 receipts printed", str(_printed(kiosk))],
            ["待上传事件 events queued (no cloud)", str(stats.depth)],
        ])
        print(f"SUMMARY mode=local orders={len(all_orders)} payments={len(attempts)} "
              f"parked={len(parked)} queued={stats.depth}", flush=True)
        return 0
    finally:
        kiosk.stop()
        display.close()


def _printed(kiosk: LocalKiosk) -> int:
    printer = kiosk.agent.runtime.printer
    spooler = printer.spooler if printer is not None else None
    return spooler.printed_jobs if spooler is not None else 0
