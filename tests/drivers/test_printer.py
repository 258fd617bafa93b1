"""Printer driver: transports from config, DLE EOT status, faults and recovery."""

from __future__ import annotations

import os
import threading
import tty

import pytest
from pydantic import ValidationError

from drivers.printer import (
    DummyPrinter,
    NoPrinter,
    PrinterError,
    PrinterStatus,
    PrinterUnavailable,
    ReceiptPrinter,
    UnusablePrinter,
    build_printer,
    decode_status,
)
from kiosk_agent.config import PrinterSection


def network(fake) -> ReceiptPrinter:
    return build_printer(PrinterSection(kind="network", host="127.0.0.1", port=fake.port))


def test_network_write_and_status(fake_printer):
    printer = network(fake_printer)
    assert isinstance(printer, ReceiptPrinter)
    st = printer.status()
    assert st == PrinterStatus(online=True, paper="ok")
    assert st.ready and st.reason is None
    printer.write(b"\x1b@hello\n\x1dVB\x00")
    assert fake_printer.wait_printed(b"hello\n\x1dVB\x00")
    assert fake_printer.cuts == 1
    # status queries are answered, not printed
    assert fake_printer.status_queries == 3
    assert b"\x10\x04" not in fake_printer.printed
    printer.close()


@pytest.mark.parametrize(
    "switch,expect_ready,reason,paper",
    [
        (lambda f: f.set_paper("near_end"), True, None, "near_end"),
        (lambda f: f.set_paper("out"), False, "paper out", "out"),
        (lambda f: f.set_cover_open(True), False, "cover open", "ok"),
        (lambda f: f.set_offline(True), False, "offline", "ok"),
    ],
)
def test_network_status_states(fake_printer, switch, expect_ready, reason, paper):
    printer = network(fake_printer)
    switch(fake_printer)
    st = printer.status()
    assert st.ready is expect_ready
    assert st.reason == reason
    assert st.paper == paper
    printer.close()


def test_garbage_status_is_an_error(fake_printer):
    printer = network(fake_printer)
    fake_printer.set_garbage(True)
    st = printer.status()
    assert not st.ready and "garbage status byte 0xff" in st.reason
    fake_printer.set_garbage(False)
    assert printer.status().ready
    printer.close()


def test_unplugged_network_printer_recovers(fake_printer):
    printer = network(fake_printer)
    assert printer.status().ready
    fake_printer.stop()
    st = printer.status()  # the open connection notices first ...
    assert not st.online and st.reason
    st = printer.status()  # ... then the port refuses
    assert not st.online and "cannot open" in st.reason
    with pytest.raises(PrinterError):
        printer.write(b"lost\n")
    fake_printer.start()  # same port: the printer is plugged back in
    assert printer.status().ready
    printer.write(b"back\n")
    assert fake_printer.wait_printed(b"back\n")
    printer.close()


def test_paper_out_buffers_until_paper_loaded(fake_printer):
    printer = network(fake_printer)
    fake_printer.set_paper("out")
    printer.write(b"waiting\n")
    assert not fake_printer.wait_printed(b"waiting", timeout=0.2)
    fake_printer.set_paper("ok")
    assert fake_printer.wait_printed(b"waiting\n")
    printer.close()


def test_decode_status_bits():
    assert decode_status(0x12, 0x12, 0x12) == PrinterStatus(online=True, paper="ok")
    assert decode_status(0x1A, 0x32, 0x7E).paper == "out"
    assert decode_status(0x1A, 0x32, 0x7E).online is False
    assert decode_status(0x12, 0x12, 0x1E).paper == "near_end"
    assert decode_status(0x12, 0x16, 0x12).cover_open
    assert decode_status(0x12, 0x52, 0x12).reason == "printer error"
    assert decode_status(0x12, None, None).paper == "unknown"
    with pytest.raises(PrinterError):
        decode_status(0x00, 0x12, 0x12)


def test_dummy_printer_keeps_bytes_and_switches_status():
    printer = build_printer(PrinterSection(kind="dummy"))
    assert isinstance(printer, DummyPrinter)
    printer.write(b"abc")
    printer.write(b"def")
    assert printer.output == b"abcdef"
    printer.set_status(PrinterStatus(online=False, paper="out"))
    with pytest.raises(PrinterError, match="paper out"):
        printer.write(b"x")
    assert printer.output == b"abcdef"


def test_file_printer_appends(tmp_path):
    path = tmp_path / "spool.bin"
    printer = build_printer(PrinterSection(kind="file", file_path=path))
    st = printer.status()
    assert st.online and not st.bidirectional and st.paper == "unknown"
    printer.write(b"one\n")
    printer.close()
    printer.write(b"two\n")
    printer.close()
    assert path.read_bytes() == b"one\ntwo\n"


def test_file_printer_missing_directory_is_offline(tmp_path):
    printer = build_printer(PrinterSection(kind="file", file_path=tmp_path / "nope" / "lp0"))
    st = printer.status()
    assert not st.ready and "cannot open" in st.reason
    with pytest.raises(PrinterError):
        printer.write(b"x")


def test_no_printer_and_missing_settings():
    printer = build_printer(PrinterSection(kind="none"))
    assert isinstance(printer, NoPrinter)
    assert printer.status().reason == "no printer configured"
    with pytest.raises(PrinterUnavailable):
        printer.write(b"x")
    # A section missing what its kind needs never reaches the driver: it fails at load.
    with pytest.raises(ValidationError, match="host"):
        PrinterSection(kind="network")
    with pytest.raises(ValidationError, match="usb_vendor_id"):
        PrinterSection(kind="usb")


def test_usb_without_library_is_reported(monkeypatch):
    import escpos.printer.usb as escpos_usb

    monkeypatch.setattr(escpos_usb, "_DEP_USB", False)
    printer = build_printer(PrinterSection(kind="usb", usb_vendor_id=0x0416, usb_product_id=0x5011))
    assert isinstance(printer, UnusablePrinter)
    st = printer.status()
    assert not st.ready and "pyusb" in st.reason
    with pytest.raises(PrinterUnavailable, match="pyusb"):
        printer.write(b"x")


def test_usb_without_libusb_is_reported(monkeypatch):
    import drivers.printer.usb as usb_transport

    monkeypatch.setattr(usb_transport, "usb_backend_available", lambda: False)
    printer = build_printer(PrinterSection(kind="usb", usb_vendor_id=0x0416, usb_product_id=0x5011))
    assert isinstance(printer, UnusablePrinter)
    assert "libusb-1.0" in printer.status().reason


def test_serial_printer_on_a_pty():
    master, slave = os.openpty()
    tty.setraw(slave)
    got = bytearray()
    stop = threading.Event()

    def device() -> None:  # the printer end of the cable: answer DLE EOT, keep the rest
        pending = b""
        while not stop.is_set():
            try:
                chunk = os.read(master, 1024)
            except OSError:
                return
            pending += chunk
            while b"\x10\x04" in pending and len(pending) >= pending.index(b"\x10\x04") + 3:
                i = pending.index(b"\x10\x04")
                got.extend(pending[:i])
                n = pending[i + 2]
                os.write(master, b"\x1e" if n == 4 else b"\x12")  # paper near end
                pending = pending[i + 3 :]
            if b"\x10" not in pending:
                got.extend(pending)
                pending = b""

    thread = threading.Thread(target=device, daemon=True)
    thread.start()
    try:
        printer = build_printer(
            PrinterSection(kind="serial", serial_port=os.ttyname(slave), serial_baudrate=9600)
        )
        st = printer.status()
        assert st.online and st.paper == "near_end" and st.ready
        printer.write(b"serial receipt\n")
        printer.close()
        deadline = threading.Event()
        for _ in range(500):  # up to 10 s: a loaded machine is slow to forward it
            if b"serial receipt\n" in got:
                break
            deadline.wait(0.02)
        assert b"serial receipt\n" in got
    finally:
        stop.set()
        os.close(slave)
        os.close(master)


def test_udev_rule_is_well_formed():
    import re
    from pathlib import Path

    rules = Path(__file__).resolve().parents[2] / "config" / "udev" / "99-kiosk-printer.rules"
    text = rules.read_text(encoding="utf-8")
    pair = re.compile(r'^[A-Z_]+(\{[A-Za-z_]+\})?(==|!=|=|\+=|:=)"[^"]*"$')
    labels, gotos = set(), set()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for item in (part.strip() for part in line.split(", ")):
            assert pair.match(item), f"bad udev key in: {line!r} ({item!r})"
            if item.startswith("LABEL="):
                labels.add(item.split('"')[1])
            if item.startswith("GOTO="):
                gotos.add(item.split('"')[1])
    assert gotos <= labels
    for vendor in ("0416", "0483", "1fc9", "28e9", "0fe6"):
        assert vendor in text
    assert 'GROUP="lp"' in text and 'MODE="0660"' in text
    assert 'SYMLINK+="kiosk-printer"' in text


def test_printer_that_never_answers_is_offline(fake_printer, monkeypatch):
    import drivers.printer.base as printer_base

    monkeypatch.setattr(printer_base, "STATUS_TIMEOUT_S", 0.1)
    printer = network(fake_printer)
    fake_printer.state.silent = True
    st = printer.status()
    assert not st.ready and st.reason == "no status answer"
    fake_printer.state.silent = False
    assert printer.status().ready
    printer.close()


def test_usb_bulk_endpoints_from_descriptors():
    from types import SimpleNamespace as Ep

    from drivers.printer.usb import bulk_endpoints

    xprinter = [Ep(bEndpointAddress=0x81, bmAttributes=0x02), Ep(bEndpointAddress=0x03, bmAttributes=0x02)]
    assert bulk_endpoints(xprinter, 0x82, 0x01) == (0x81, 0x03)
    out_only = [Ep(bEndpointAddress=0x02, bmAttributes=0x02), Ep(bEndpointAddress=0x83, bmAttributes=0x03)]
    assert bulk_endpoints(out_only, 0x82, 0x01) == (0x82, 0x02)  # interrupt IN ignored
