"""Print spooler against the real journal: exactly once, paper out, reprint, faults."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from contract.wire.events import OrderCompletedData
from drivers.fake_printer import FakeNetworkPrinter
from drivers.printer import DummyPrinter, PrinterStatus, build_printer
from drivers.receipt import ReceiptOptions, render_receipt
from kiosk_agent.config import PrinterSection
from kiosk_agent.journal import Journal
from kiosk_agent.printing import PrintSpooler
from tests.support.waiting import until

ORDER_JSON = Path(__file__).parent.parent / "drivers" / "golden" / "order_reference.json"
RETRY_S = 0.05  # the spooler's re-check interval, shrunk for tests


@pytest.fixture
def order() -> OrderCompletedData:
    """The reference order of the golden receipts."""
    return OrderCompletedData.model_validate(json.loads(ORDER_JSON.read_text(encoding="utf-8")))


@pytest.fixture
async def journal(tmp_path):
    """A real SQLite journal in tmp_path."""
    async with Journal(tmp_path / "journal.db", "store1", "kiosk1") as j:
        yield j


async def no_pending(journal) -> bool:
    return not await journal.print_jobs_pending()


async def test_receipt_printed_exactly_once(journal, order):
    printer = DummyPrinter()
    outcomes = []
    spooler = PrintSpooler(journal, printer, ReceiptOptions(), retry_s=RETRY_S,
                           on_job=lambda job, outcome, reason: outcomes.append(outcome))
    await journal.commit_sale(order)
    async with spooler:
        await until(lambda: no_pending(journal))
        await asyncio.sleep(RETRY_S * 4)  # a few more passes: nothing prints again
    assert printer.output == render_receipt(order, ReceiptOptions())
    assert outcomes == ["printed"]
    assert spooler.health()["state"] == "ok"
    assert spooler.health()["printed_jobs"] == 1
    assert await spooler.run_once() == 0
    assert printer.output.count(b"\x1dVB\x00") == 1


async def test_paper_out_waits_then_prints_once(journal, order, caplog):
    caplog.set_level(logging.INFO, logger="kiosk_agent.printing")
    with FakeNetworkPrinter() as fake:
        fake.set_paper("out")
        printer = build_printer(PrinterSection(kind="network", host="127.0.0.1", port=fake.port))
        spooler = PrintSpooler(journal, printer, retry_s=RETRY_S)
        async with spooler:
            await journal.commit_sale(order)

            async def waiting_for_paper() -> bool:
                jobs = await journal.print_jobs_pending()
                return len(jobs) == 1 and jobs[0].last_error == "paper out"

            await until(waiting_for_paper)
            health = spooler.health()
            assert health["state"] == "error" and health["reason"] == "paper out"
            assert health["paper"] == "out" and health["pending_jobs"] == 1
            await asyncio.sleep(RETRY_S * 4)  # several retries while out of paper
            assert fake.printed == b"" and fake.received == b""  # nothing was even sent

            fake.set_paper("ok")  # staff loads paper
            await until(lambda: no_pending(journal))
            await asyncio.to_thread(fake.wait_printed, b"\x1dVB\x00")
            await asyncio.sleep(RETRY_S * 4)
            assert fake.cuts == 1
            assert "可口可乐".encode("gb18030") in fake.printed
            assert spooler.health()["state"] == "ok"
    # logged once per transition, not once per retry
    assert sum("printer: paper out" in r.getMessage() for r in caplog.records) == 1
    assert sum(r.getMessage().startswith("printer ok") for r in caplog.records) == 1


async def test_reprint_is_marked_and_original_not_repeated(journal, order):
    printer = DummyPrinter()
    spooler = PrintSpooler(journal, printer, retry_s=RETRY_S)
    await journal.commit_sale(order)
    assert await spooler.run_once() == 1
    first = printer.output
    assert "重印".encode("gb18030") not in first
    await journal.add_print_job(order.order_no, "reprint")
    assert await spooler.run_once() == 1
    second = printer.output[len(first):]
    assert "重印 REPRINT".encode("gb18030") in second
    assert second == render_receipt(order, ReceiptOptions(reprint=True))
    assert await spooler.run_once() == 0


async def test_unplugged_printer_recovers(journal, order):
    fake = FakeNetworkPrinter().start()
    try:
        printer = build_printer(PrinterSection(kind="network", host="127.0.0.1", port=fake.port))
        spooler = PrintSpooler(journal, printer, retry_s=RETRY_S)
        async with spooler:
            await until(lambda: spooler.health()["state"] == "ok")
            fake.stop()  # unplugged
            await until(lambda: spooler.health()["state"] == "error")
            await journal.commit_sale(order)
            await until(lambda: journal.print_jobs_pending())
            assert spooler.health()["online"] is False
            fake.start()  # plugged back in
            await until(lambda: no_pending(journal))
            await asyncio.to_thread(fake.wait_printed, b"\x1dVB\x00")
            assert fake.cuts == 1
    finally:
        fake.stop()


async def test_write_failure_leaves_job_pending(journal, order):
    printer = DummyPrinter()
    printer.fail_writes = "usb write timeout"
    spooler = PrintSpooler(journal, printer, retry_s=RETRY_S)
    await journal.commit_sale(order)
    assert await spooler.run_once() == 0
    jobs = await journal.print_jobs_pending()
    assert jobs[0].last_error == "usb write timeout"
    assert spooler.health()["reason"] == "usb write timeout"
    printer.fail_writes = None
    assert await spooler.run_once() == 1
    assert await journal.print_jobs_pending() == []


async def test_done_failure_does_not_print_twice(journal, order):
    class FlakyDone:
        """The real journal, whose first print_job_done fails."""

        def __init__(self, inner):
            self.inner, self.failed = inner, False
            self.print_signal = inner.print_signal

        async def print_jobs_pending(self):
            return await self.inner.print_jobs_pending()

        async def print_job_failed(self, job_id, reason):
            return await self.inner.print_job_failed(job_id, reason)

        async def order_receipt(self, order_no):
            return await self.inner.order_receipt(order_no)

        async def print_job_done(self, job_id):
            if not self.failed:
                self.failed = True
                raise OSError("disk hiccup")
            return await self.inner.print_job_done(job_id)

    printer = DummyPrinter()
    spooler = PrintSpooler(FlakyDone(journal), printer, retry_s=RETRY_S)
    await journal.commit_sale(order)
    await spooler.run_once()
    assert len(await journal.print_jobs_pending()) == 1  # printed, not yet marked done
    await spooler.run_once()
    assert await journal.print_jobs_pending() == []
    assert printer.output.count(b"\x1dVB\x00") == 1


async def test_missing_order_does_not_block_others(journal, order):
    printer = DummyPrinter()
    spooler = PrintSpooler(journal, printer, retry_s=RETRY_S)
    await journal.add_print_job("NO-SUCH-ORDER", "reprint")
    await journal.commit_sale(order)
    assert await spooler.run_once() == 1
    jobs = await journal.print_jobs_pending()
    assert [j.order_no for j in jobs] == ["NO-SUCH-ORDER"]
    assert "not in the journal" in jobs[0].last_error


async def test_test_page_and_no_printer(journal):
    printer = DummyPrinter()
    spooler = PrintSpooler(journal, printer, retry_s=RETRY_S)
    await journal.add_print_job("", "test")
    assert await spooler.run_once() == 1
    assert "打印测试".encode("gb18030") in printer.output

    none = PrintSpooler(journal, build_printer(PrinterSection(kind="none")), retry_s=RETRY_S)
    await journal.add_print_job("", "test")
    assert await none.run_once() == 0
    assert none.health()["state"] == "error"
    assert none.health()["reason"] == "no printer configured"


async def test_near_end_is_a_warning_and_still_prints(journal, order):
    printer = DummyPrinter()
    printer.set_status(PrinterStatus(online=True, paper="near_end"))
    spooler = PrintSpooler(journal, printer, retry_s=RETRY_S)
    await journal.commit_sale(order)
    assert await spooler.run_once() == 1
    assert spooler.health()["state"] == "warning"
    assert spooler.health()["reason"] == "paper near end"


async def test_printer_answering_garbage_is_an_error_until_it_recovers(journal, order):
    with FakeNetworkPrinter() as fake:
        fake.set_garbage(True)
        printer = build_printer(PrinterSection(kind="network", host="127.0.0.1", port=fake.port))
        spooler = PrintSpooler(journal, printer, retry_s=RETRY_S)
        await journal.commit_sale(order)
        assert await spooler.run_once() == 0
        health = spooler.health()
        assert health["state"] == "error" and "garbage" in health["reason"]
        assert fake.cuts == 0
        fake.set_garbage(False)
        assert await spooler.run_once() == 1
        await asyncio.to_thread(fake.wait_printed, b"\x1dVB\x00")
        assert fake.cuts == 1 and spooler.health()["state"] == "ok"
        printer.close()


async def test_unrenderable_order_does_not_block_others(journal, order, monkeypatch):
    import kiosk_agent.printing as printing

    real = printing.layout_receipt

    def picky(o, opts):
        if opts.reprint:
            raise ValueError("broken order data")
        return real(o, opts)

    monkeypatch.setattr(printing, "layout_receipt", picky)
    printer = DummyPrinter()
    spooler = PrintSpooler(journal, printer, retry_s=RETRY_S)
    await journal.commit_sale(order)
    await journal.add_print_job(order.order_no, "reprint")
    assert await spooler.run_once() == 1
    jobs = await journal.print_jobs_pending()
    assert [j.kind for j in jobs] == ["reprint"]
    assert "broken order data" in jobs[0].last_error


async def test_jobs_that_cannot_print_are_reported_to_on_job(journal, order, monkeypatch):
    import kiosk_agent.printing as printing

    real = printing.layout_receipt

    def picky(o, opts):
        if opts.reprint:
            raise ValueError("broken order data")
        return real(o, opts)

    monkeypatch.setattr(printing, "layout_receipt", picky)
    outcomes = []
    spooler = PrintSpooler(journal, DummyPrinter(), retry_s=RETRY_S,
                           on_job=lambda job, outcome, reason: outcomes.append(
                               (job.order_no, outcome, reason)))
    await journal.add_print_job("NO-SUCH-ORDER", "reprint")
    await journal.commit_sale(order)
    await journal.add_print_job(order.order_no, "reprint")
    assert await spooler.run_once() == 1
    assert ("NO-SUCH-ORDER", "pending", "order 'NO-SUCH-ORDER' not in the journal") in outcomes
    assert (order.order_no, "printed", None) in outcomes
    assert any(no == order.order_no and outcome == "pending" and "broken order data" in reason
               for no, outcome, reason in outcomes if reason)
