"""Receipt layout: golden ESC/POS bytes, CJK column widths, encodings, PNG preview."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.wire.events import DiscountData
from drivers.receipt import (
    ReceiptOptions,
    layout_receipt,
    layout_test_page,
    render_escpos,
    render_png,
)
from drivers.receipt.ops import Cut, QrCode, Text
from drivers.receipt.text import (
    amount_text,
    cell_width,
    clean_text,
    fit,
    rate_text,
    text_width,
    wrap,
)

from .conftest import GOLDEN

# Regenerate with: UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/drivers/test_receipt.py
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

GOLDEN_CASES = {
    "receipt_80mm_zh.bin": dict(paper_mm=80, encoding="gb18030", language="zh"),
    "receipt_58mm_both_gbk.bin": dict(paper_mm=58, encoding="gbk", language="both"),
    "receipt_80mm_en_utf8_reprint.bin": dict(paper_mm=80, encoding="utf-8", language="en",
                                             reprint=True),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_bytes(reference_order, name):
    data = render_escpos(layout_receipt(reference_order, ReceiptOptions(**GOLDEN_CASES[name])))
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(data)
    assert data == path.read_bytes(), f"{name} changed; set UPDATE_GOLDEN=1 if intended"


def test_golden_80mm_zh_structure(reference_order):
    data = (GOLDEN / "receipt_80mm_zh.bin").read_bytes()
    assert data.startswith(b"\x1b@\x1c&")  # init, Chinese character mode
    assert "自助收银演示店".encode("gb18030") in data
    assert "可口可乐 330ml".encode("gb18030") in data
    assert "合计:".encode("gb18030") in data
    assert "谢谢惠顾，欢迎再次光临".encode("gb18030") in data
    assert b"2026-11-29 10:11:47" in data  # 02:11:47Z shown in Asia/Shanghai
    url = b"https://mp.example.com/r/S1K1-20261129-000042"
    n = len(url) + 3
    assert b"\x1d(k" + bytes([n, 0]) + b"1P0" + url in data
    assert data.endswith(b"\x1dVB\x00")
    assert "重印".encode("gb18030") not in data
    # the full provider transaction id never reaches paper; only the masked reference
    assert b"4200001234202611290012345678" not in data
    assert b"1340****5678" in data


def test_utf8_and_gbk_setup(reference_order):
    utf8 = render_escpos(layout_receipt(reference_order, ReceiptOptions(encoding="utf-8")))
    assert utf8.startswith(b"\x1b@\x1c.\x1c(C\x02\x000\x02")
    assert "可口可乐".encode() in utf8
    gbk = render_escpos(layout_receipt(reference_order, ReceiptOptions(encoding="gbk")))
    assert gbk.startswith(b"\x1b@\x1c&")
    assert "可口可乐".encode("gbk") in gbk


def test_reprint_is_marked(reference_order):
    layout = layout_receipt(reference_order, ReceiptOptions(reprint=True))
    lines = layout.text_lines()
    assert any("重印 REPRINT" in line for line in lines[:2])
    assert "重印 REPRINT".encode("gb18030") in render_escpos(layout)


@pytest.mark.parametrize("paper,cols", [(80, 48), (58, 32)])
@pytest.mark.parametrize("language", ["zh", "en", "both"])
def test_every_line_fits_the_paper(reference_order, paper, cols, language):
    layout = layout_receipt(reference_order, ReceiptOptions(paper_mm=paper, language=language))
    assert layout.columns == cols
    for op in layout.ops:
        if isinstance(op, Text):
            limit = cols // 2 if op.size == "big" else cols
            assert text_width(op.text) <= limit, op
    assert isinstance(layout.ops[-1], Cut)
    assert any(isinstance(op, QrCode) for op in layout.ops)


def test_amount_columns_line_up_with_cjk_names(reference_order):
    layout = layout_receipt(reference_order, ReceiptOptions(paper_mm=80, language="zh"))
    rows = [t for t in layout.text_lines() if t.endswith(("7.00", "15.90", "6.81"))]
    assert len(rows) == 3
    # Every item row is exactly 48 columns although the names mix CJK and ASCII.
    assert {text_width(r) for r in rows} == {48}
    first = next(r for r in rows if r.startswith("康师傅"))
    assert first.startswith("康师傅红烧牛肉面（五")  # the long name wraps inside its column
    assert "连包）经典口味家庭装" in layout.text_lines()


def test_weighed_line_and_vat_rates(reference_order):
    lines = layout_receipt(reference_order, ReceiptOptions(paper_mm=80)).text_lines()
    assert any("0.532kg" in t and "12.80" in t and "6.81" in t for t in lines)
    assert any(t.startswith("13%") and t.endswith("0.69") for t in lines)
    assert any(t.startswith("9%") and t.endswith("1.88") for t in lines)
    assert any("+28" in t for t in lines)  # points earned
    assert any("****8000" in t for t in lines)  # member id masked


def test_control_characters_in_names_cannot_inject_commands(reference_order):
    evil = reference_order.model_copy(deep=True)
    evil.lines[0].name_zh = "坏\x1b@\x10\x04\x01\x1dV\x00名字"
    data = render_escpos(layout_receipt(evil, ReceiptOptions()))
    body = data[4:]  # after ESC @ FS &
    assert b"\x1b@" not in body
    assert b"\x10\x04" not in data
    assert data.count(b"\x1dV") == 1  # only the real cut


def test_gbk_replaces_what_it_cannot_carry():
    assert clean_text("面\U00020000包", "gbk") == "面?包"
    assert clean_text("面\U00020000包", "gb18030") == "面\U00020000包"


def test_cell_widths():
    assert cell_width("a") == 1
    assert cell_width("中") == 2
    assert cell_width("（") == 2
    assert cell_width("×", "gb18030") == 2  # the printer prints it from the double-byte table
    assert cell_width("×", "utf-8") == 1  # East Asian Width "A": one column in UTF-8 mode
    assert text_width("可口可乐 330ml") == 14
    assert fit("中文", 3) == "中 "  # never splits a wide character
    assert fit("12", 5, "right") == "   12"


def test_money_and_rate_text():
    assert amount_text(2871) == "28.71"
    assert amount_text(-100) == "-1.00"
    assert amount_text(5) == "0.05"
    assert rate_text(1300) == "13%"
    assert rate_text(950) == "9.5%"
    assert rate_text(0) == "0%"


@given(st.text(alphabet=st.sampled_from("ab cd中文字（）-1"), max_size=60), st.integers(2, 48))
def test_wrap_fits_and_keeps_text(text, width):
    lines = wrap(text, width)
    assert all(text_width(line) <= width for line in lines)
    assert "".join("".join(lines).split()) == "".join(text.split())


def test_png_preview_from_same_layout(reference_order):
    for paper, dots in ((80, 576), (58, 384)):
        layout = layout_receipt(reference_order, ReceiptOptions(paper_mm=paper, language="both"))
        img = render_png(layout)
        assert img.mode == "1" and img.width == dots
        # one row of at least 30 dots per text line, plus the QR code
        assert img.height > 30 * len(layout.text_lines())
        assert img.getbbox() is not None
        inverted = img.convert("L").point(lambda v: 255 - v)
        assert inverted.getbbox() is not None  # there is ink


def test_escpos_rendering_is_fast(reference_order):
    opts = ReceiptOptions(language="both")
    render_escpos(layout_receipt(reference_order, opts))
    start = time.perf_counter()
    for _ in range(50):
        render_escpos(layout_receipt(reference_order, opts))
    per_receipt_ms = (time.perf_counter() - start) * 1000 / 50
    assert per_receipt_ms < 10, per_receipt_ms


def test_test_page():
    layout = layout_test_page(ReceiptOptions(paper_mm=58))
    data = render_escpos(layout)
    assert "打印测试".encode("gb18030") in data
    assert all(text_width(t) <= 32 for t in layout.text_lines())
    assert data.endswith(b"\x1dVB\x00")


def _discounted(order):
    """The reference order with promotion ids on its lines and the labelled discounts."""
    order = order.model_copy(deep=True)
    order.lines[0].promotions = ["flash-noodle-350"]
    order.lines[1].promotions = ["member_price"]
    order.lines[2].promotions = ["old-promo-7"]  # an id without a label (an old order)
    order.discounts = [
        DiscountData(id="member_price", kind="member_price", amount=60, label_zh="会员价",
                     label_en="Member price"),
        DiscountData(id="flash-noodle-350", kind="fixed_price", amount=40,
                     label_zh="限时秒杀 红烧牛肉面 ¥3.50",
                     label_en="Flash sale: beef noodles ¥3.50"),
    ]
    return order


@pytest.mark.parametrize("paper,cols", [(80, 48), (58, 32)])
def test_discounts_print_their_labels_and_amounts(reference_order, paper, cols):
    order = _discounted(reference_order)
    zh = layout_receipt(order, ReceiptOptions(paper_mm=paper, language="zh")).text_lines()
    assert "flash-noodle-350" not in "\n".join(zh) and "member_price" not in "\n".join(zh)
    assert "  限时秒杀 红烧牛肉面 ¥3.50" in zh and "  会员价" in zh  # under their lines
    assert "  old-promo-7" in zh  # no label: the id
    assert any(t.startswith("  会员价 ") and t.endswith("-0.60") and text_width(t) == cols
               for t in zh)  # the discounts section, amount right-aligned
    assert any(t.endswith(" -0.40") and text_width(t) == cols for t in zh)
    en = layout_receipt(order, ReceiptOptions(paper_mm=paper, language="en")).text_lines()
    assert any(t.startswith("  Member price ") and t.endswith("-0.60") for t in en)
    assert not any("会员价" in t for t in en)
    both = layout_receipt(order, ReceiptOptions(paper_mm=paper, language="both",
                                                encoding="gbk"))
    texts = both.text_lines()
    assert "  会员价" in texts and "  Member price" in texts
    i = next(i for i, t in enumerate(texts) if t.startswith("  会员价 ") and t.endswith("-0.60"))
    assert texts[i + 1] == "  Member price"  # both: Chinese row with the amount, then English
    assert any("￥3.50" in t for t in texts)  # GBK has no ¥: the fullwidth sign, not "?"
    for op in both.ops:
        if isinstance(op, Text):
            assert text_width(op.text, "gbk") <= (cols // 2 if op.size == "big" else cols)
    render_png(both)  # draws


def test_order_without_discounts_prints_promotion_ids_as_before(reference_order):
    assert reference_order.discounts == []
    lines = layout_receipt(reference_order, ReceiptOptions()).text_lines()
    assert "  第二件半价 2nd at half price" in lines


@pytest.mark.parametrize("paper,cols", [(80, 48), (58, 32)])
def test_pay_qr_slip(paper, cols):
    """扫码支付: the WeChat Pay QR as a native QR with the amount, said to be no receipt."""
    from drivers.receipt import layout_pay_qr

    url = "weixin://wxpay/bizpayurl?pr=Ab3_x-9"
    layout = layout_pay_qr(url, 1290, "CNY", ReceiptOptions(paper_mm=paper), "S1K1-0001")
    data = render_escpos(layout)
    assert b"\x1d(k" + bytes([len(url) + 3, 0]) + b"1P0" + url.encode() in data
    assert "微信扫码支付".encode("gb18030") in data and b"12.90" in data
    assert "此单非小票".encode("gb18030") in data and b"Not a receipt" in data
    assert all(text_width(t) <= cols for t in layout.text_lines())
    assert data.endswith(b"\x1dVB\x00")
