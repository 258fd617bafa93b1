"""Assembly: the factories that build the whole kiosk from its config.

Each ``*_component(agent)`` function here is called once, in code order, by
:func:`kiosk_agent.agent.build_agent` (before :meth:`Agent.run`); it keeps what it
built in its field of ``agent.runtime`` (:class:`~.runtime.KioskRuntime`) and returns
an agent component (``run(stop_event)``, optionally an async context manager) or
``None`` when the config turns that part off. The components themselves live with their
owners (``drivers/``, ``printing``, ``link``, ...); this module only wires them to
the agent and to each other:

* scans: the camera per ``[camera]`` (including the replay camera) and the serial
  scanner per ``[scanner]`` merged into one :class:`drivers.scanning.ScanSource`,
  fed to ``agent.add_scan_source``; kiosk action cards (``KIOSK:PARK``,
  ``KIOSK:PAY:STORED_VALUE``, ``KIOSK:PAY:WECHAT_QR``, ``KIOSK:CANCEL``, ``KIOSK:REMOVE``,
  ``KIOSK:CALL_STAFF``) stand in for the shopper's buttons;
* the print spooler with the printer of ``[printer]``;
* the customer display of ``[display]``, driven by the checkout's listeners;
* the MQTT link, outbox drainer, shadow, catalog sync, signed commands and the
  payment gateway over the link's RPC (see :func:`link_component`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from common.jsontypes import JsonList, JsonMapping, JsonObject

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from types import ModuleType

    from contract.pricebook import PriceBook
    from contract.wire.presence import Telemetry
    from drivers.camera import ThreadedCamera
    from drivers.display import CustomerDisplay, NoDisplay
    from drivers.printer import ReceiptPrinter
    from drivers.scanning import Scan
    from drivers.serial_scanner import NoScanner, SerialScanner

    from .agent import Agent
    from .catalog_sync import CatalogSync
    from .checkout import CartItem, Checkout, CheckoutSnapshot, Ev
    from .config import AgentConfig
    from .journal.printing import PrintJob
    from .link import Link
    from .outbox import OutboxDrainer
    from .printing import PrintSpooler
    from .runtime import HealthReporter
    from .shadow import Shadow

log = logging.getLogger(__name__)

#: Printed cards at the kiosk standing in for the buttons of a touch screen: the
#: shopper shows them to the camera like any other code. Upper-case ASCII so a
#: Code 128 or QR symbol of them decodes the same everywhere.
ACTION_PREFIX = "KIOSK:"
ACTION_PARK = "KIOSK:PARK"
ACTION_STORED_VALUE = "KIOSK:PAY:STORED_VALUE"
#: pay part with points: as many as the member code's snapshot allows (Checkout.use_points)
ACTION_USE_POINTS = "KIOSK:USE_POINTS"
#: 扫码支付: no payment code to show; the kiosk prints a WeChat Pay QR (kiosk_agent.qr_sale)
ACTION_PAY_QR = "KIOSK:PAY:WECHAT_QR"
#: void the cart; while a payment QR is open: close the QR (back to the payment step)
ACTION_CANCEL = "KIOSK:CANCEL"
#: take one item out: the next product scanned comes out (kiosk_agent.cart_edits)
ACTION_REMOVE = "KIOSK:REMOVE"
#: 呼叫店员: a retained alert to the fleet view and the staff TUI (kiosk_agent.staff_calls)
ACTION_CALL_STAFF = "KIOSK:CALL_STAFF"


# --------------------------------------------------------------------------- scans


class ScanComponent:
    """Camera + serial scanner -> one ScanSource; the agent consumes its scans.

    Action cards are handled here (they are not codes the checkout knows); every
    other scan goes to ``agent.handle_scan`` through ``agent.add_scan_source``.
    """

    def __init__(self, agent: Agent, camera: ThreadedCamera | None,
                 scanner: SerialScanner | NoScanner | None) -> None:
        from drivers.scanning import ScanSource

        from .config import member_code_key

        cfg = agent.config
        self.agent = agent
        self.camera = camera
        self.scanner = scanner
        self.source = ScanSource(
            camera=camera, debounce_s=cfg.decoder.debounce_s, confirm_1d=cfg.decoder.confirm_1d,
            emit_unknown=True, decoder=None, member_key=member_code_key(),
        )
        self._engines = list(cfg.decoder.engines)
        agent.add_scan_source(self._scans())

    async def __aenter__(self) -> ScanComponent:
        if self.camera is not None and self.source.decoder is None:
            from drivers.decoding import make_decoder

            self.source.decoder = await asyncio.to_thread(make_decoder, self._engines)
        await self.source.__aenter__()
        if self.scanner is not None:
            try:
                await self.scanner.__aenter__()
            except Exception:
                await self.source.__aexit__(None, None, None)
                raise
            self.source.add_source(_serial_reads(self.scanner), name="serial")
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.scanner is not None:
                await self.scanner.__aexit__(*exc)
        finally:
            await self.source.__aexit__(*exc)

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()

    async def _scans(self) -> AsyncIterator[Scan]:
        from contract import codes

        async for scan in self.source:
            self._remember(scan, codes)
            text = getattr(scan, "text", "")
            if text.upper().startswith(ACTION_PREFIX):
                await self._action(text.upper())
                continue
            if scan.kind == "unknown":
                continue
            yield scan

    def _remember(self, scan: Scan, codes: ModuleType) -> None:
        import time

        self.agent.runtime.remember_scan({
            "text": codes.display_text(scan.text, scan.kind), "kind": scan.kind,
            "symbology": scan.symbology, "source": scan.source, "at": time.time()})

    async def _action(self, action: str) -> None:
        from .cart_edits import cart_edits
        from .checkout import CheckoutError, Refusal, State
        from .qr_sale import qr_sale
        from .staff_calls import staff_calls

        co = self.agent.checkout
        if co is None:
            return
        try:
            if action == ACTION_PARK:
                parked = await co.park()
                log.info("order parked as %s", parked.park_no)
            elif action == ACTION_CANCEL:  # a void of the whole cart (may need a badge)
                if not await qr_sale(self.agent).cancel():  # or first the open QR
                    await cart_edits(self.agent).void_cart()
            elif action == ACTION_PAY_QR:
                await qr_sale(self.agent).start()
            elif action == ACTION_USE_POINTS:
                priced = co.use_points()
                log.info("points used: %d (%d fen off)", priced.points_redeemed,
                         sum(a.amount for a in priced.applied if a.kind == "points"))
            elif action == ACTION_CALL_STAFF:
                await staff_calls(self.agent).call()
            elif action == ACTION_REMOVE:
                cart_edits(self.agent).start_remove_mode()
                if self.agent.runtime.display is not None:
                    await self.agent.runtime.display.display.show_text(
                        "请扫描要删除的商品", "Scan the item to take out")
            elif action == ACTION_STORED_VALUE:
                if co.state in (State.SCANNING, State.MEMBER_ATTACHED):
                    co.request_payment()
                if co.member is None:
                    log.info("stored value refused: no member code shown")
                    return
                result = await co.pay("stored_value", "")
                if result.status == "paid":
                    await self.agent.finish_sale()
            else:
                log.info("unknown action card %s", action)
        except Refusal as refusal:
            log.info("action %s refused: %s", action, refusal.en)
        except CheckoutError as err:
            log.warning("action %s failed: %s", action, err)

    # control API hooks ---------------------------------------------------------------
    def health(self) -> JsonObject:
        h = self.source.health()
        cam = h.camera
        out: JsonObject = {"state": h.state, "reason": h.reason, "fps": h.fps,
               "decode_ms_p50": h.decode_ms_p50, "frames": h.frames, "scans": h.scans,
               "rejected": h.rejected}
        if cam is not None:
            out["camera"] = {"state": cam.state, "reason": cam.reason, "fps": cam.fps,
                             "frames": cam.frames, "dropped": cam.dropped}
        if self.scanner is not None:
            out["serial_scanner"] = self.scanner.health()
        return out

    async def camera_snapshot(self) -> bytes | None:
        frame = self.camera.latest() if self.camera is not None else None
        if frame is None:
            return None

        def encode() -> bytes:
            import cv2

            ok, buf = cv2.imencode(".png", frame.image)
            return bytes(buf) if ok else b""

        return await asyncio.to_thread(encode)

    async def decode_check(self) -> JsonObject:
        from contract import codes

        frame = self.camera.latest() if self.camera is not None else None
        if frame is None or self.source.decoder is None:
            return {"frame": False, "codes": []}
        reads = await asyncio.to_thread(self.source.decoder.decode, frame.image)
        return {"frame": True, "codes": [
            {"text": codes.display_text(r.text, codes.classify(r.text, r.symbology)),
             "symbology": r.symbology, "engine": r.engine} for r in reads]}


async def _serial_reads(scanner: SerialScanner | NoScanner) -> AsyncIterator[tuple[str, str]]:
    async for read in scanner:
        yield read.text, getattr(read, "symbology", "") or ""


def scan_component(agent: Agent) -> ScanComponent | None:
    """Factory: the camera (``[camera]``) and serial scanner (``[scanner]``) as one source."""
    from drivers.camera import open_camera

    cfg = agent.config
    camera = open_camera(cfg.camera)
    scanner = None
    if cfg.scanner.kind == "serial" and cfg.scanner.port:
        from drivers.serial_scanner import build_scanner

        scanner = build_scanner(cfg.scanner)
    if camera is None and scanner is None:
        return None
    agent.runtime.scans = ScanComponent(agent, camera, scanner)
    return agent.runtime.scans


# --------------------------------------------------------------------------- printer


class PrinterComponent:
    """The print spooler (journal print jobs -> ``[printer]``) as an agent component.

    Print outcomes go to the outbox so the cloud sees them: ``print.done`` once per
    printed job, ``print.failed`` when a job starts failing for a reason (paper out,
    offline, ...), not on every retry of the same reason.
    """

    def __init__(self, agent: Agent, printer: ReceiptPrinter) -> None:
        self.agent = agent
        self.printer = printer
        self.spooler: PrintSpooler | None = None

    async def run(self, stop: asyncio.Event) -> None:
        from .printing import PrintSpooler, receipt_options

        cfg = self.agent.config
        self.spooler = PrintSpooler(self.agent.journal, self.printer,
                                    receipt_options(cfg), retry_s=cfg.printer.retry_s,
                                    on_job=self.on_job)
        async with self.spooler:
            await stop.wait()

    async def on_job(self, job: PrintJob, outcome: str, reason: str | None) -> None:
        """The spooler's hook: outbox events for print outcomes."""
        from contract.wire.events import PRINT_DONE, PRINT_FAILED, PrintJobData

        if outcome == "printed":
            kind, reason = PRINT_DONE, None
        elif outcome == "pending" and reason and reason != job.last_error:
            # job.last_error is the journal's reason from the pass before: the same
            # reason again is a retry, not news (and survives a restart).
            kind = PRINT_FAILED
        else:
            return
        data = PrintJobData(job_id=job.job_id, order_no=job.order_no, kind=job.kind,
                            attempts=job.attempts, reason=reason)
        await self.agent.journal.append_events(
            [(kind, data.model_dump(mode="json", exclude_none=True))])

    def health(self) -> JsonObject:
        if self.spooler is None:
            return {"state": "starting", "reason": "not started"}
        return self.spooler.health()

    async def reprint(self, order_no: str) -> int:
        return await self.agent.journal.add_print_job(order_no, "reprint")


def printer_component(agent: Agent) -> PrinterComponent | None:
    """Factory: the receipt printer of ``[printer]`` behind the print spooler."""
    from drivers.printer import PrinterUnavailable, UnusablePrinter, build_printer

    if agent.config.printer.kind == "none":
        return None
    try:
        printer = build_printer(agent.config.printer)
    except PrinterUnavailable as err:
        log.error("printer: %s", err)
        printer = UnusablePrinter(str(err))
    agent.runtime.printer = PrinterComponent(agent, printer)
    return agent.runtime.printer


# --------------------------------------------------------------------------- display


class DisplayComponent:
    """The customer display following the checkout: item + price, total, 请出示付款码,
    the payment result, thanks; welcome when idle."""

    def __init__(self, agent: Agent, display: CustomerDisplay | NoDisplay) -> None:
        self.agent = agent
        self.display = display
        self._events: asyncio.Queue[tuple[Ev, tuple[CheckoutSnapshot, CartItem | None]]] = (
            asyncio.Queue(maxsize=64))

    async def __aenter__(self) -> DisplayComponent:
        await self.display.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.display.__aexit__(*exc)

    def _listener(self, checkout: Checkout, event: Ev) -> None:
        item = checkout.items[-1] if checkout.items else None
        with contextlib.suppress(asyncio.QueueFull):  # a stuck display drops screens
            self._events.put_nowait((event, (checkout.snapshot(), item)))

    async def run(self, stop: asyncio.Event) -> None:
        co = self.agent.checkout  # created before any component runs
        if co is None:
            return
        if self._listener not in co.listeners:
            co.listeners.append(self._listener)
        await self.display.show_welcome()
        try:
            while not stop.is_set():
                getter = asyncio.ensure_future(self._events.get())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if not getter.done():
                    getter.cancel()
                    return
                event, (snap, item) = getter.result()
                await self._show(str(event), snap, item)
        finally:
            with contextlib.suppress(ValueError):
                co.listeners.remove(self._listener)

    async def _show(self, event: str, snap: CheckoutSnapshot, item: CartItem | None) -> None:
        d = self.display
        count = sum(line.qty for line in snap.lines)
        if event in ("scan_product", "set_quantity") and item is not None:
            line = next((ln for ln in reversed(snap.lines)
                         if ln.product_id == item.product.product_id), None)
            price = line.unit_price if line is not None else item.product.unit_price
            await d.show_item(item.product.name_zh, item.product.name_en, price, snap.total,
                              item.qty)
        elif event in ("attach_member", "remove_line", "staff_approve", "add_coupon",
                       "use_points"):
            await d.show_total(snap.total, count)
        elif event == "request_payment":
            await d.show_payment_prompt(snap.total)
        elif event == "payment_started":
            await d.show_text("正在支付 请稍候", "Paying, please wait")
        elif event == "payment_succeeded":
            await d.show_result(True, snap.total)
        elif event in ("payment_failed", "payment_unknown"):
            await d.show_result(False, snap.total, "请重新出示付款码", "Show code again")
        elif event == "print_done":
            await d.show_thanks()
        elif event == "park":
            await d.show_text(f"已挂单 {snap.park_no or ''}", "请到人工收银台付款")
        elif event in ("cancel", "timeout", "maintenance_off"):
            await d.show_welcome()
        elif event == "maintenance_on":
            await d.show_text("设备维护中", "暂停服务")

    def health(self) -> JsonObject:
        return self.display.health()

    async def display_test(self) -> JsonObject:
        await self.display.show_text("显示测试 测试", "Display test 0123")
        return {"shown": True}


def display_component(agent: Agent) -> DisplayComponent | None:
    """Factory: the customer display of ``[display]`` (None when ``kind = "none"``)."""
    from drivers.display import build_display

    cfg = agent.config
    if cfg.display.kind == "none":
        return None
    agent.runtime.display = DisplayComponent(
        agent, build_display(cfg.display, cfg.kiosk.languages))
    return agent.runtime.display


# --------------------------------------------------------------------------- fleet link


async def _telemetry(agent: Agent) -> Telemetry:
    from contract.wire.presence import Telemetry

    rt = agent.runtime
    fields: JsonObject = {"queue_depth": 0}
    if rt.outbox is not None:
        fields.update(await rt.outbox.telemetry_fields())
    else:
        stats = await agent.journal.outbox_stats()
        fields.update(queue_depth=stats.depth, dead_letters=stats.dead_letters)
    printer = _probe(rt.printer)
    scans = _probe(rt.scans)
    display = _probe(rt.display)
    co = agent.checkout
    import shutil

    try:
        free = shutil.disk_usage(agent.config.journal.path.parent).free // (1024 * 1024)
    except OSError:
        free = None
    camera = scans.get("camera")
    camera_state = (camera.get("state", scans.get("state", "none")) if isinstance(camera, Mapping)
                    else scans.get("state", "none"))
    return Telemetry.model_validate({
        **fields,
        "printer": str(printer.get("state", "none")),
        "paper": str(printer.get("paper", "unknown")),
        "camera": str(camera_state),
        "camera_fps": scans.get("fps"), "decode_ms_p50": scans.get("decode_ms_p50"),
        "display": str(display.get("state", "none")), "disk_free_mb": free,
        "catalog_version": agent.book.version if agent.book is not None else None,
        "maintenance": bool(co is not None and str(co.state) == "maintenance"),
    })


def _probe(component: HealthReporter | None) -> JsonMapping:
    """A component's health, ``{}`` when it is off; a failing probe is an error state."""
    if component is None:
        return {}
    try:
        return component.health()
    except Exception as err:  # a health probe must never break telemetry
        return {"state": "error", "reason": str(err)}


def link_component(agent: Agent) -> Link | None:
    """Factory: the MQTT link (``[mqtt]``) with presence, telemetry and signed commands.

    Also gives the agent its payment gateway over the link's RPC
    (``agent.payments``) unless one was injected. Sets ``agent.runtime.link``.
    """
    cfg = agent.config
    if not cfg.mqtt.enabled:
        return None
    from pathlib import Path

    from contract.signing import NonceCache, load_public_key

    from .commands import CommandDispatcher
    from .config import load_secret
    from .link import Link
    from .payments import KioskPayments

    keys = []
    pub = load_secret("command_pubkey")
    if pub:
        candidate = Path(pub)
        keys.append(load_public_key(candidate if len(pub) < 4096 and candidate.is_file()
                                    else pub.encode()))
    else:
        log.warning("no command_pubkey credential: every fleet command will be refused")
    nonces = NonceCache(Path(cfg.journal.path).with_name("command_nonces.json"))
    dispatcher = CommandDispatcher(cfg.kiosk.store_id, cfg.kiosk.kiosk_id, keys, nonces)

    async def health() -> Telemetry:
        return await _telemetry(agent)

    link = Link(cfg.mqtt, cfg.kiosk.store_id, cfg.kiosk.kiosk_id,
                password=load_secret("mqtt_password"), commands=dispatcher, health=health,
                telemetry_interval_s=cfg.telemetry.interval_s)
    agent.runtime.link = link
    if agent.payments is None:  # the checkout passes the cart's member (stored value)
        agent.payments = KioskPayments.from_config(link, agent.journal, cfg)
    return link


class OutboxComponent:
    """The outbox drainer; settles payments left unknown by a crash once connected."""

    def __init__(self, agent: Agent, drainer: OutboxDrainer) -> None:
        self.agent = agent
        self.drainer = drainer

    async def __aenter__(self) -> OutboxComponent:
        await self.drainer.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drainer.__aexit__(*exc)

    async def run(self, stop: asyncio.Event) -> None:
        payments = self.agent.payments
        resume = getattr(payments, "resume_unsettled", None)
        link = self.agent.runtime.link
        if link is not None and callable(resume) and await _wait_or_stop(link.connected, stop):
            try:
                settled = await resume()
                if settled:
                    log.info("settled %d payment(s) left open at start", len(settled))
            except Exception:
                log.exception("settling payments left open at start failed")
        await stop.wait()

    def health(self) -> JsonObject:
        d = self.drainer
        return {"state": d.offline_state(), "reason": d.offline_reason, "published": d.published,
                "acked": d.acked, "resent": d.resent, "rejected": d.rejected,
                "in_flight": len(d.inflight)}


async def _wait_or_stop(event: asyncio.Event, stop: asyncio.Event) -> bool:
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
    return event.is_set() and not stop.is_set()


def outbox_component(agent: Agent) -> OutboxComponent | None:
    """Factory: the outbox drainer (journal events -> MQTT, end-to-end acks)."""
    link = agent.runtime.link
    if link is None:
        return None
    from .outbox import OutboxDrainer

    cfg = agent.config

    async def offline_stored_value() -> int:
        attempts = await agent.journal.payment_attempts(status="paid")
        return sum(a.amount for a in attempts
                   if a.provider == "stored_value" and a.reason == "offline")

    drainer = OutboxDrainer(agent.journal, link, cfg.outbox, cfg.offline,
                            offline_stored_value=offline_stored_value)
    agent.runtime.outbox = drainer
    agent.runtime.outbox_component = OutboxComponent(agent, drainer)
    return agent.runtime.outbox_component


class CatalogComponent:
    """Shadow (desired config) and catalog sync (price book) over the link."""

    def __init__(self, agent: Agent, shadow: Shadow, catalog: CatalogSync) -> None:
        self.agent = agent
        self.shadow = shadow
        self.catalog = catalog

    async def __aenter__(self) -> CatalogComponent:
        await self.catalog.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.catalog.__aexit__(*exc)

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()

    def health(self) -> JsonObject:
        return {"state": "error" if self.catalog.last_error else "ok",
                "reason": self.catalog.last_error, "catalog": self.catalog.current_version,
                "shadow_version": self.shadow.applied_version, "shadow_error": self.shadow.error}


def catalog_component(agent: Agent) -> CatalogComponent | None:
    """Factory: shadow + catalog sync (need the link)."""
    link = agent.runtime.link
    if link is None:
        return None
    from pathlib import Path

    from .catalog_sync import CatalogSync
    from .revocations import apply_to_agent, with_revocations
    from .shadow import Shadow

    async def on_apply(new_config: AgentConfig, changes: JsonObject) -> None:
        if "telemetry" in changes:
            link.set_telemetry_interval(new_config.telemetry.interval_s)
        agent.runtime.shadow_applied = changes

    async def on_book(book: PriceBook) -> None:
        # A new book keeps the revocations the shadow delivered (kiosk_agent.revocations).
        book = with_revocations(book, shadow.revocations)
        agent.book = book
        if agent.checkout is not None:
            agent.checkout.set_price_book(book)

    def on_coupon_pool(tokens: list[str]) -> None:
        from .coupons import kiosk_coupons

        kiosk_coupons(agent).set_pool(tokens)

    state = Path(agent.config.journal.path).with_name("shadow.json")
    # Signed by the bridge like a command: the same public keys (none: all refused).
    shadow = Shadow(link, agent.config, state, on_apply=on_apply,
                    verify_keys=link.commands.public_keys,
                    on_revocations=lambda revs: apply_to_agent(agent, revs),
                    on_coupon_pool=on_coupon_pool).attach()
    rt = agent.runtime
    rt.shadow = shadow
    rt.shadow_applied = shadow.applied
    rt.catalog_sync = CatalogSync(link, agent.journal, on_applied=on_book)
    rt.catalog = CatalogComponent(agent, shadow, rt.catalog_sync)
    from .stock_alerts import StockAlertBoard  # the store's other retained message

    rt.stock_alerts = StockAlertBoard(link).attach()
    from .mp_orders import MpOrderBoard  # and its new mini-program orders (issue 19)

    rt.mp_orders = MpOrderBoard(link).attach()
    return rt.catalog


def commands_component(agent: Agent) -> None:
    """Factory: registers the agent's fleet commands on the link (no component of its own).

    maintenance, reprint, sync catalog, log level, restart (the service manager starts
    the agent again), collect logs, self test, ping, status.
    """
    link = agent.runtime.link
    if link is None:
        return None
    import time

    from . import logbuffer
    from .checkout import Refusal
    from .commands import CommandRefused, register_agent_handlers, register_builtin_handlers

    async def status() -> JsonObject:
        co = agent.checkout
        return {"state": str(co.state) if co else "starting", "health": agent.health_report(),
                "catalog": agent.book.version if agent.book is not None else None}

    async def maintenance(on: bool, reason: str | None) -> None:
        co = agent.checkout
        if co is None:
            raise CommandRefused("the checkout is not running yet")
        try:
            co.maintenance_on() if on else co.maintenance_off()
        except Refusal as refusal:
            raise CommandRefused(refusal.en) from refusal
        log.info("maintenance %s by command (%s)", "on" if on else "off", reason or "-")

    async def reprint(order_no: str) -> int:
        if await agent.journal.order_receipt(order_no) is None:
            raise CommandRefused(f"no order {order_no}")
        return await agent.journal.add_print_job(order_no, "reprint")

    async def sync_catalog() -> JsonObject:
        catalog = agent.runtime.catalog_sync
        if catalog is None:
            raise CommandRefused("catalog sync is not running")
        return await catalog.sync_now()

    async def restart() -> None:
        asyncio.get_running_loop().call_later(0.5, agent.stop)

    buffer = logbuffer.install(agent.config.logging.recent_lines)

    async def collect_logs(lines: int) -> JsonList:
        return [line.to_dict() for line in buffer.lines(limit=lines)]

    async def self_test() -> JsonObject:
        health = agent.health_report()
        bad = {name: h.get("reason") for name, h in health.items()
               if h.get("state") in ("error",)}
        return {"ok": not bad and agent.tasks_healthy(), "failed": bad, "health": health}

    register_builtin_handlers(link.commands, status=status, boot_time=time.time())
    register_agent_handlers(link.commands, maintenance=maintenance, reprint=reprint,
                            sync_catalog=sync_catalog, restart=restart,
                            collect_logs=collect_logs, self_test=self_test)
    # Fleet jobs (issue 20): the signed `job` command and the updates component (only
    # when KIOSK_UPDATES_ROOT is set; see kiosk_agent/updates/component.py).
    from .updates.component import register_updates

    register_updates(agent, link.commands)
    return None
