"""E-invoices (数电发票) through the sandbox platform: a blue invoice from a request, red-letter
invoices for refunds (partial and full, with the 红字确认单 step), the ledger's invoiced
output VAT, and the refusals (a second blue, more red than blue, a bad tax id)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import delete, select

from cloud_bridge import catalog, invoices, orders
from cloud_bridge.errors import Conflict, InvalidRequest
from cloud_bridge.finance import accounts as A
from cloud_bridge.finance import fapiao as F
from cloud_bridge.finance.fapiao_client import FapiaoClient, FapiaoError
from cloud_bridge.finance.jobs import post_pending
from cloud_bridge.finance.models import Fapiao
from cloud_bridge.finance.reports import parse_period, trial_balance
from cloud_bridge.finance.service import local_date
from cloud_bridge.finance.vat import vat_return
from cloud_bridge.payments.sandbox.fapiao_pdf import capital_amount
from cloud_bridge.service.storage import LocalFileStorage
from contract.pricebook import PriceBook, Product

from .helpers import ingest_sales, refund, sale_data

pytestmark = pytest.mark.timeout(90)
COMPANY_TAX_ID = "91310115MA1K4LXX3B"


@pytest.fixture
def platform(sandbox):
    """The sandbox's e-invoice platform, issuing at once (no asynchronous delay)."""
    sandbox.wechat.fapiao.issue_delay_s = 0.0
    return sandbox.wechat.fapiao


MILK_TAX_CODE = "1030203010000000000"


async def _publish_book(db) -> None:
    book = PriceBook(version="fapiao-1", products=(
        Product(product_id="milk", name_zh="纯牛奶", unit_price=565, vat_rate_bp=1300,
                category="dairy", tax_code=MILK_TAX_CODE),
        Product(product_id="rice", name_zh="大米", unit_price=1090, vat_rate_bp=900,
                category="grain")))
    async with db.session() as s:
        await catalog.publish_book(s, "s1", book, "admin:t")


async def _invoiced_sale(db, no: str, kind: str = "personal") -> int:
    now = datetime.now(UTC)
    async with db.session() as s:
        published = await catalog.current_info(s, "s1")
    if published is None:
        await _publish_book(db)
    await ingest_sales(db, "s1", [sale_data(no, [("milk", 2, 565, 1300), ("rice", 1, 1090, 900)],
                                            [("wechat", 2220)], now)])
    await post_pending(db)
    async with db.session() as s:
        order = await orders.get_order(s, no)
        inv = await invoices.request_invoice(
            s, order, openid=None, kind=kind, title="张三" if kind == "personal" else "某某科技有限公司",
            tax_id=COMPANY_TAX_ID if kind == "company" else None, email="a@example.com")
        return inv.id


async def _issue(db, client, storage, platform, invoice_id: int) -> Fapiao:
    async with db.session() as s:
        doc = await F.start_blue(s, invoice_id, "admin:fin")
        await s.flush()
        doc_id = doc.id
    await F.sync_one(db, client, storage, doc_id)
    async with db.session() as s:
        assert (await s.get(Fapiao, doc_id)).status == F.ACCEPTED
    await platform.idle()
    await F.sync(db, client, storage)
    async with db.session() as s:
        return await s.get(Fapiao, doc_id)


def _pdf_text(path) -> str:
    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext missing: apt install poppler-utils (Makefile APT_PACKAGES)")
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                          text=True).stdout


async def test_blue_then_partial_and_full_red_for_refunds(pay_service, platform, tmp_path):
    db = pay_service.db
    client = FapiaoClient(pay_service.providers["wechat"])
    storage = LocalFileStorage(tmp_path / "files")
    invoice_id = await _invoiced_sale(db, "s1-k1-1")
    blue = await _issue(db, client, storage, platform, invoice_id)
    assert blue.status == F.ISSUED and re.fullmatch(r"\d{20}", blue.number)
    # Lines: milk 1130 at 13 % (tax 130), rice 1090 at 9 % (tax 90): totals are the sums.
    assert [(i["total_amount"], i["tax_amount"]) for i in blue.items] == [(1130, 130),
                                                                           (1090, 90)]
    assert blue.total == 2220 and blue.tax == 220
    # The product's own tax classification code, else its category's.
    assert [i["tax_code"] for i in blue.items] == [MILK_TAX_CODE, F.DEFAULT_TAX_CODES["grain"]]
    pdf = await storage.get(blue.file_key)
    (tmp_path / "blue.pdf").write_bytes(pdf)
    text = _pdf_text(tmp_path / "blue.pdf")
    assert "电子发票（普通发票）" in text and blue.number in text and "张三" in text
    assert capital_amount(2220) in text.replace("\n", "")
    async with db.session() as s:
        assert (await s.get(invoices.Invoice, invoice_id)).status == "issued"
        tb = await trial_balance(s, store="s1")
        assert tb[A.OUTPUT_VAT_INVOICED] == -220 and tb[A.OUTPUT_VAT] == 0
        # The VAT worksheet shows the invoiced part and still ties to the ledger.
        day = local_date(datetime.now(UTC))
        vat = (await vat_return(s, store="s1", period=parse_period(day))).figures
        assert vat["invoiced_output_tax"] == 220
        assert vat["ledger_output_tax"] == vat["output_tax"] == 220
        # A second blue invoice for the same request is refused.
        with pytest.raises(Conflict, match="issued as"):
            await F.start_blue(s, invoice_id, "admin:fin")

    # A partial refund raises a red-letter invoice by itself (04: no goods came back); an
    # individual buyer's confirmation is confirmed at once.
    out_refund_no = await refund(db, "s1-k1-1", 565)
    await F.sync(db, client, storage)  # files the confirmation, asks for the red invoice
    await platform.idle()
    await F.sync(db, client, storage)  # the platform issued it
    await post_pending(db)  # the refund itself
    async with db.session() as s:
        red = await s.scalar(select(Fapiao).where(Fapiao.color == F.RED))
        assert (red.status, red.reason_code, red.source, red.total) == (
            F.ISSUED, "04", out_refund_no, 565)
        assert red.blue_id == blue.id and red.confirmation_no
        assert sum(i["total_amount"] for i in red.items) == 565
        (tmp_path / "red.pdf").write_bytes(await storage.get(red.file_key))
        text = _pdf_text(tmp_path / "red.pdf")
        assert "红字" in text and blue.number in text and "-5.65" in text
        tb = await trial_balance(s, store="s1")
        assert tb[A.OUTPUT_VAT_INVOICED] == -(220 - red.tax)
        # More red than what is left of the blue invoice is refused, here and at the platform.
        with pytest.raises(Conflict, match="more than the 1655 fen left"):
            await F.start_red(s, invoice_id, 1656, "01", "too-much", "admin:fin")
    with pytest.raises(FapiaoError, match="RED_EXCEEDS_BLUE"):
        await client.confirm_red({**F._red_payload(blue, red), "out_confirmation_id": "x1",
                                  "total_amount": 1656,
                                  "items": [{**{k: v for k, v in red.items[0].items()
                                                if k != "tax_amount"}, "total_amount": 1656}]})
    # Syncing again raises nothing new: one red per refund.
    await F.sync(db, client, storage)
    async with db.session() as s:
        assert len(list(await s.scalars(select(Fapiao)))) == 2
        rest = await F.start_red(s, invoice_id, 1655, "01", "rest", "admin:fin")
        assert rest.total == 1655
    await F.sync(db, client, storage)
    await platform.idle()
    await F.sync(db, client, storage)
    async with db.session() as s:
        assert (await s.get(Fapiao, rest.id)).status == F.ISSUED
        tb = await trial_balance(s, store="s1")
        assert tb.get(A.OUTPUT_VAT_INVOICED, 0) == 0
    assert (await client.query(blue.apply_id)).status == "REVERSED"


async def test_company_red_waits_for_the_buyer_and_bad_tax_ids_are_refused(
        pay_service, platform, sandbox, tmp_path):
    db = pay_service.db
    client = FapiaoClient(pay_service.providers["wechat"])
    storage = LocalFileStorage(tmp_path / "files")
    invoice_id = await _invoiced_sale(db, "s1-k1-2", kind="company")
    blue = await _issue(db, client, storage, platform, invoice_id)
    assert blue.status == F.ISSUED
    async with db.session() as s:
        red = await F.start_red(s, invoice_id, blue.total, "02", "return-1", "admin:fin")
        red_id = red.id
    await F.sync_one(db, client, storage, red_id)
    async with db.session() as s:
        red = await s.get(Fapiao, red_id)
        assert red.status == F.CONFIRMING  # an organisation confirms the 红字确认单 itself
    await F.sync(db, client, storage)
    async with db.session() as s:
        assert (await s.get(Fapiao, red_id)).status == F.CONFIRMING
    async with aiohttp.ClientSession() as http:
        r = await http.post(f"{sandbox.wechat.base_url}/__sandbox/fapiao/confirmations/"
                            f"{red.confirmation_no}", json={"accept": True})
        assert r.status == 200
    await F.sync(db, client, storage)
    await platform.idle()
    await F.sync(db, client, storage)
    async with db.session() as s:
        red = await s.get(Fapiao, red_id)
        assert red.status == F.ISSUED  # in full: the blue's lines exactly
        assert [{k: v for k, v in i.items() if k != "blue_line"} for i in red.items] == blue.items

    # A company request with a malformed tax id never reaches the platform ...
    async with db.session() as s:
        order = await orders.get_order(s, "s1-k1-2")
        with pytest.raises(InvalidRequest):
            await invoices.request_invoice(s, order, openid=None, kind="company", title="X",
                                           tax_id="1234", email="a@example.com")
        inv = await s.get(invoices.Invoice, invoice_id)
        assert inv.status == "issued"
        inv.tax_id = "91310115MA1K4LXX3"  # 17 characters: corrupted after the request
        inv.status = "requested"
    async with db.session() as s:
        await s.execute(delete(Fapiao).where(Fapiao.invoice_id == invoice_id))
    async with db.session() as s:
        with pytest.raises(InvalidRequest, match="tax id"):
            await F.start_blue(s, invoice_id, "admin:fin")
        # A request staff marked issued by hand (issued elsewhere) is not issued again.
        (await s.get(invoices.Invoice, invoice_id)).status = "issued"
    async with db.session() as s:
        with pytest.raises(Conflict, match="marked issued"):
            await F.start_blue(s, invoice_id, "admin:fin")
    # ... and the platform refuses one too, without issuing anything.
    async with db.session() as s:
        order = await orders.get_order(s, "s1-k1-2")
        items = await F.blue_items(s, order, 100)
    payload = {"scene": "WITH_WECHATPAY", "fapiao_apply_id": "bad-tax-id",
               "buyer_information": {"type": "ORGANIZATION", "name": "X", "taxpayer_id": "1234"},
               "fapiao_information": [{"fapiao_id": "bad-tax-id", "total_amount": 100,
                                       "items": items}]}
    with pytest.raises(FapiaoError, match="INVALID_TAXPAYER_ID"):
        await client.apply(payload)
    assert "bad-tax-id" not in platform.apps
