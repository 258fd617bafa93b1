"""Assembly: the factories that build the whole kiosk from its config.

Each ``*_component(agent)`` function here is listed in
:data:`kiosk_agent.agent.COMPONENT_FACTORIES` and is called once by
``build_agent`` with the agent (before :meth:`Agent.run`); it returns an agent
component (``run(stop_event)``, optionally an async context manager) or ``None``
when the config turns that part off. The components themselves live with their
owners (``drivers/``, ``printing``, ``link``, ...); this module only wires them to
the agent and to each other:

* scans: the camera per ``[camera]`` (including the replay camera) and the serial
  scanner per ``[scanner]`` merged into one :class:`drivers.scanning.ScanSource`,
  fed to ``agent.add_scan_source``; kiosk action cards (``KIOSK:PARK``,
  ``KIOSK:PAY:STORED_VALUE``, ``KIOSK:CANCEL``) stand in for the shopper's buttons;
* the print spooler with the printer of ``[printer]``;
* the customer display of ``[display]``, driven by the checkout's listeners;
* the MQTT link, outbox drainer, shadow, catalog sync, signed commands and the
  payment gateway over the link's RPC (see :func:`link_component`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

#: Printed cards at the kiosk standing in for the buttons of a touch screen: the
#: shopper shows them to the camera like any other code. Upper-case ASCII so a
#: Code 128 or QR symbol of them decodes the same everywhere.
ACTION_PREFIX = "KIOSK:"
ACTION_PARK = "KIOSK:PARK"
ACTION_STORED_VALUE = "KIOSK:PAY:STORED_VALUE"
ACTION_CANCEL = "KIOSK:CANCEL"
#: Scans shown in the control API's status (``agent.last_scans``).
LAST_SCANS = 20


# --------------------------------------------------------------------------- scans


class ScanComponent:
    """Camera + serial scanner -> one ScanSource; the agent consumes its scans.

    Action cards are handled here (they are not codes the checkout knows); every
    other scan goes to ``agent.handle_scan`` through ``agent.add_scan_source``.
    """

    def __init__(self, agent: Any, camera: Any, scanner: Any) -> None:
        from drivers.scanning import ScanSource

        cfg = agent.config
        self.agent = agent
        self.camera = camera
        self.scanner = scanner
        self.source = ScanSource(
            camera=camera, debounce_s=cfg.decoder.debounce_s, confirm_1d=cfg.decoder.confirm_1d,
            emit_unknown=True, decoder=None,
        )
        self._engines = list(cfg.decoder.engines)
        if not hasattr(agent, "last_scans"):
            agent.last_scans = []
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

    async def _scans(self):
        from . import codes

        async for scan in self.source:
            self._remember(scan, codes)
            text = getattr(scan, "text", "")
            if text.upper().startswith(ACTION_PREFIX):
                await self._action(text.upper())
                continue
            if scan.kind == "unknown":
                continue
            yield scan

    def _remember(self, scan: Any, codes: Any) -> None:
        import time

        entry = {"text": codes.display_text(scan.text, scan.kind), "kind": scan.kind,
                 "symbology": scan.symbology, "source": scan.source, "at": time.time()}
        scans = self.agent.last_scans
        scans.append(entry)
        del scans[:-LAST_SCANS]

    async def _action(self, action: str) -> None:
        from .checkout import CheckoutError, Refusal, State

        co = self.agent.checkout
        if co is None:
            return
        try:
            if action == ACTION_PARK:
                parked = await co.park()
                log.info("order parked as %s", parked.park_no)
            elif action == ACTION_CANCEL:
                await co.cancel()
            elif action == ACTION_STORED_VALUE:
                if co.state in (State.SCANNING, State.MEMBER_ATTACHED):
                    co.request_payment()
                if co.member is None:
                    log.info("stored value refused: no member code shown")
                    return
                result = await co.pay("stored_value", "")
                if result.status == "paid":
                    await self.agent._finish_sale()
            else:
                log.info("unknown action card %s", action)
        except Refusal as refusal:
            log.info("action %s refused: %s", action, refusal.en)
        except CheckoutError as err:
            log.warning("action %s failed: %s", action, err)

    # control API hooks ---------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        h = self.source.health()
        cam = h.camera
        out = {"state": h.state, "reason": h.reason, "fps": h.fps,
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

    async def decode_check(self) -> dict[str, Any]:
        from . import codes

        frame = self.camera.latest() if self.camera is not None else None
        if frame is None or self.source.decoder is None:
            return {"frame": False, "codes": []}
        reads = await asyncio.to_thread(self.source.decoder.decode, frame.image)
        return {"frame": True, "codes": [
            {"text": codes.display_text(r.text, codes.classify(r.text, r.symbology)),
             "symbology": r.symbology, "engine": r.engine} for r in reads]}


async def _serial_reads(scanner: Any):
    async for read in scanner:
        yield read.text, getattr(read, "symbology", "") or ""


def scan_component(agent: Any) -> ScanComponent | None:
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
    return ScanComponent(agent, camera, scanner)


# --------------------------------------------------------------------------- printer


class PrinterComponent:
    """The print spooler (journal print jobs -> ``[printer]``) as an agent component."""

    def __init__(self, agent: Any, printer: Any) -> None:
        self.agent = agent
        self.printer = printer
        self.spooler: Any = None

    async def run(self, stop: asyncio.Event) -> None:
        from drivers.receipt import ReceiptOptions

        from .printing import PrintSpooler

        cfg = self.agent.config
        self.spooler = PrintSpooler(self.agent.journal, self.printer,
                                    ReceiptOptions.from_config(cfg), retry_s=cfg.printer.retry_s)
        async with self.spooler:
            await stop.wait()

    def health(self) -> dict[str, Any]:
        if self.spooler is None:
            return {"state": "starting", "reason": "not started"}
        return self.spooler.health()

    async def reprint(self, order_no: str) -> int:
        return await self.agent.journal.add_print_job(order_no, "reprint")


def printer_component(agent: Any) -> PrinterComponent | None:
    """Factory: the receipt printer of ``[printer]`` behind the print spooler."""
    from drivers.printer import PrinterUnavailable, UnusablePrinter, build_printer

    if agent.config.printer.kind == "none":
        return None
    try:
        printer = build_printer(agent.config.printer)
    except PrinterUnavailable as err:
        log.error("printer: %s", err)
        printer = UnusablePrinter(str(err))
    return PrinterComponent(agent, printer)


# --------------------------------------------------------------------------- display


class DisplayComponent:
    """The customer display following the checkout: item + price, total, 请出示付款码,
    the payment result, thanks; welcome when idle."""

    def __init__(self, agent: Any, display: Any) -> None:
        self.agent = agent
        self.display = display
        self._events: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue(maxsize=64)

    async def __aenter__(self) -> DisplayComponent:
        await self.display.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.display.__aexit__(*exc)

    def _listener(self, checkout: Any, event: Any) -> None:
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

    async def _show(self, event: str, snap: Any, item: Any) -> None:
        d = self.display
        count = sum(getattr(line, "qty", 1) for line in snap.lines)
        if event in ("scan_product", "set_quantity") and item is not None:
            line = next((ln for ln in reversed(snap.lines)
                         if ln.product_id == item.product.product_id), None)
            price = line.unit_price if line is not None else item.product.unit_price
            await d.show_item(item.product.name_zh, item.product.name_en, price, snap.total,
                              item.qty)
        elif event in ("attach_member", "remove_line", "staff_approve"):
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

    def health(self) -> dict[str, Any]:
        return self.display.health()

    async def display_test(self) -> dict[str, Any]:
        await self.display.show_text("显示测试 测试", "Display test 0123")
        return {"shown": True}


def display_component(agent: Any) -> DisplayComponent | None:
    """Factory: the customer display of ``[display]`` (None when ``kind = "none"``)."""
    from drivers.display import build_display

    cfg = agent.config
    if cfg.display.kind == "none":
        return None
    return DisplayComponent(agent, build_display(cfg.display, cfg.kiosk.languages))
