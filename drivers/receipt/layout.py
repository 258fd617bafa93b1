"""Receipt layout: a completed order (or a test page) as :mod:`~drivers.receipt.ops`.

``layout_receipt(order, options)`` turns a wire ``OrderCompletedData`` into a
:class:`~drivers.receipt.ops.ReceiptLayout`; :mod:`~drivers.receipt.escpos` and
:mod:`~drivers.receipt.png` render it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from .ops import (
    PAPER,
    Align,
    Cut,
    Encoding,
    Feed,
    Language,
    LayoutOp,
    QrCode,
    ReceiptLayout,
    Rule,
    Size,
    Text,
)
from .text import (
    amount_text,
    clean_text,
    columns_row,
    fit,
    mask_reference,
    rate_text,
    text_width,
    wrap,
)

if TYPE_CHECKING:
    from contract.wire.events import DiscountData, OrderCompletedData


# --------------------------------------------------------------------------- options
LABELS: dict[str, tuple[str, str]] = {
    "reprint": ("重印", "REPRINT"),
    "store": ("门店", "Store"),
    "kiosk": ("机号", "Kiosk"),
    "order": ("单号", "Order"),
    "time": ("时间", "Time"),
    "offline": ("离线交易", "OFFLINE SALE"),
    "item": ("商品", "Item"),
    "qty": ("数量", "Qty"),
    "unit": ("单价", "Price"),
    "amount": ("金额", "Amount"),
    "discount": ("优惠", "Discount"),
    "count": ("件数", "Items"),
    "subtotal": ("小计", "Subtotal"),
    "points_redeemed": ("积分抵扣", "Points used"),
    "coupon": ("优惠券", "Coupon"),
    "total": ("合计", "TOTAL"),
    "vat_rate": ("税率", "VAT"),
    "vat_gross": ("含税", "Gross"),
    "vat_net": ("不含税", "Net"),
    "vat_tax": ("税额", "Tax"),
    "paid": ("实付", "Paid"),
    "ref": ("参考号", "Ref"),
    "member": ("会员", "Member"),
    "points": ("本次积分", "Points earned"),
    "scan": ("扫码查看电子小票/开发票", "Scan for e-receipt/invoice 发票"),
    "test": ("打印测试", "PRINTER TEST"),
    "thanks": ("谢谢惠顾，欢迎再次光临", "Thank you, please come again"),
}

TENDERS: dict[str, tuple[str, str]] = {
    "wechat": ("微信支付", "WeChat Pay"),
    "alipay": ("支付宝", "Alipay"),
    "card": ("银行卡", "Card"),
    "unionpay": ("银联", "UnionPay"),
    "paypal": ("PayPal", "PayPal"),
    "stored_value": ("会员储值", "Stored value"),
    "cash": ("现金", "Cash"),
}

CURRENCY_MARK = {"CNY": "￥"}  # fullwidth yen: in GBK (A3A4), prints on every Chinese model


@dataclass(frozen=True)
class ReceiptOptions:
    """Everything about a receipt that does not come from the order."""

    paper_mm: Literal[58, 80] = 80
    encoding: Encoding = "gb18030"
    language: Language = "zh"
    store_name: str = "自助收银演示店"
    store_name_en: str = "Self-checkout Demo Store"
    store_id: str = "store1"
    kiosk_id: str = "kiosk1"
    header: str = ""
    footer: str = "谢谢惠顾，欢迎再次光临"
    ereceipt_url: str = "https://mp.example.com/r/{order_no}"
    timezone: str = "Asia/Shanghai"
    reprint: bool = False


# --------------------------------------------------------------------------- layout
class _Builder:
    def __init__(self, opts: ReceiptOptions) -> None:
        self.opts = opts
        self.enc: Encoding = opts.encoding
        self.cols = PAPER[opts.paper_mm][0]
        self.layout = ReceiptLayout(opts.paper_mm, opts.encoding)

    def label(self, key: str) -> str:
        zh, en = LABELS[key]
        return {"zh": zh, "en": en, "both": f"{zh} {en}"}[self.opts.language]

    def line(self, text: str, *, align: Align = "left", bold: bool = False, size: Size = "normal",
             invert: bool = False) -> None:
        width = self.cols // 2 if size == "big" else self.cols
        for part in wrap(clean_text(text, self.enc), width, self.enc):
            if align == "left" and not invert:
                part = part.rstrip()
            self.layout.ops.append(Text(part, align=align, bold=bold, size=size, invert=invert))

    def pair(self, left: str, right: str, *, bold: bool = False, size: Size = "normal") -> None:
        """``left ...... right`` on one line (wrapping the left text if it must)."""
        left, right = clean_text(left, self.enc), clean_text(right, self.enc)
        if text_width(right, self.enc) > self.cols:
            right = fit(right, self.cols, encoding=self.enc).rstrip()
        rw = text_width(right, self.enc)
        if text_width(left, self.enc) + 1 + rw > self.cols:
            # Too long for one row: the label on its own row(s), the value right-aligned below.
            for part in wrap(left, self.cols, self.enc):
                self.layout.ops.append(Text(part, bold=bold, size=size))
            left = ""
        row = fit(left, self.cols - rw, "left", self.enc) + right
        self.layout.ops.append(Text(row, bold=bold, size=size))

    def op(self, op: LayoutOp) -> None:
        self.layout.ops.append(op)


def _local_time(moment: datetime, tz_name: str) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        from zoneinfo import ZoneInfo

        return moment.astimezone(ZoneInfo(tz_name))
    except Exception:  # no tz database on the device: China has no DST, UTC+8 is exact
        return moment.astimezone(timezone(timedelta(hours=8)))


def layout_receipt(order: OrderCompletedData, opts: ReceiptOptions) -> ReceiptLayout:
    """The receipt for a completed order, as layout ops."""
    b = _Builder(opts)
    lang = opts.language
    if opts.reprint:
        b.line(f"** {LABELS['reprint'][0]} {LABELS['reprint'][1]} **", align="center", bold=True,
               size="big", invert=True)
        b.op(Feed(1))
    # Store name, big.
    if lang == "en":
        b.line(opts.store_name_en or opts.store_name, align="center", bold=True, size="big")
    else:
        b.line(opts.store_name, align="center", bold=True, size="big")
        if lang == "both" and opts.store_name_en:
            b.line(opts.store_name_en, align="center")
    if opts.header:
        b.line(opts.header, align="center")
    b.op(Rule("="))
    store, kiosk = f"{b.label('store')}: {opts.store_id}", f"{b.label('kiosk')}: {opts.kiosk_id}"
    if text_width(store + kiosk, b.enc) + 1 <= b.cols:
        b.pair(store, kiosk)
    else:
        b.line(store)
        b.line(kiosk)
    b.line(f"{b.label('order')}: {order.order_no}")
    local = _local_time(order.completed_at, opts.timezone)
    b.line(f"{b.label('time')}: {local:%Y-%m-%d %H:%M:%S}")
    if order.offline:
        b.line(f"[{b.label('offline')}]", bold=True)
    b.op(Rule())
    _lines_block(b, order)
    b.op(Rule())
    _totals_block(b, order)
    if order.vat:
        b.op(Rule())
        _vat_block(b, order)
    if order.tenders:
        b.op(Rule())
        _tender_block(b, order)
    if order.member_id:
        b.op(Rule())
        b.pair(f"{b.label('member')}:", mask_reference(order.member_id))
        if order.points_earned:
            b.pair(f"{b.label('points')}:", f"+{order.points_earned}")
    b.op(Rule())
    url = opts.ereceipt_url.format(order_no=order.order_no, store=opts.store_id,
                                   kiosk=opts.kiosk_id)
    if order.receipt_token:  # the proof of holding this receipt (mini-program claim)
        url += ("&" if "?" in url else "?") + f"t={order.receipt_token}"
    b.line(b.label("scan"), align="center")
    b.op(QrCode(url))
    b.op(Feed(1))
    _footer(b)
    if opts.reprint:
        b.line(f"{LABELS['reprint'][0]} {LABELS['reprint'][1]}", align="center", bold=True)
    b.op(Cut())
    return b.layout


def _lines_block(b: _Builder, order: OrderCompletedData) -> None:
    lang, enc, cols = b.opts.language, b.enc, b.cols
    wide = cols >= 48
    # 80 mm: name | qty | unit | amount on one row; 58 mm: the name gets its own row.
    # 80 mm: name | qty | unit | amount on one row; 58 mm: the name gets its own row(s)
    # and the numbers go on the row below, under a 4-column indent.
    name_w = cols - 28 if wide else cols
    lead = 0 if wide else 4
    num = [("qty", 8, "right"), ("unit", 10, "right"), ("amount", 10, "right")] if wide else \
          [("qty", 7, "right"), ("unit", 10, "right"), ("amount", 11, "right")]
    # A line's promotions are discount ids; the order's discounts carry their labels
    # (orders from before the labels were on the wire print the ids).
    labels = {d.id: d for d in order.discounts}
    for code in (["zh", "en"] if lang == "both" else [lang]):
        idx = 0 if code == "zh" else 1
        cells = [(LABELS["item"][idx], name_w if wide else lead, "left")]
        cells += [(LABELS[k][idx], w, a) for k, w, a in num]
        b.op(Text(columns_row(cells, enc).rstrip()))
    for line in order.lines:
        names = []
        if lang in ("zh", "both"):
            names.append(line.name_zh)
        if lang == "en" or (lang == "both" and line.name_en):
            names.append(line.name_en or line.name_zh)
        name_lines: list[str] = []
        for name in names:
            name_lines += wrap(clean_text(name, enc), name_w, enc)
        if line.weight_g:
            qty = f"{line.weight_g // 1000}.{line.weight_g % 1000:03d}kg"
        else:
            qty = str(line.qty)
        numbers = [(qty, num[0][1], "right"), (amount_text(line.unit_price), num[1][1], "right"),
                   (amount_text(line.list_amount), num[2][1], "right")]
        if wide:
            first = columns_row([(name_lines[0], name_w, "left"), *numbers], enc)
            b.op(Text(first))
            for rest in name_lines[1:]:
                b.op(Text(rest))
        else:
            for nl in name_lines:
                b.op(Text(nl))
            b.op(Text(columns_row([("", lead, "left"), *numbers], enc)))
        for promo in line.promotions:
            for label in _discount_labels(b, labels[promo]) if promo in labels else [promo]:
                for part in wrap(clean_text(label, enc), cols - 2, enc):
                    b.op(Text("  " + part))
        if line.discount:
            b.pair(f"  {b.label('discount')}", amount_text(-line.discount))


def _totals_block(b: _Builder, order: OrderCompletedData) -> None:
    count = sum(1 if line.weight_g else line.qty for line in order.lines)
    b.pair(f"{b.label('count')}:", str(count))
    b.pair(f"{b.label('subtotal')}:", amount_text(order.subtotal))
    if order.discount_total:
        b.pair(f"{b.label('discount')}:", amount_text(-order.discount_total))
    for discount in order.discounts:
        first, *rest = _discount_labels(b, discount)
        _indented_pair(b, first, amount_text(-discount.amount))
        for label in rest:
            for part in wrap(clean_text(label, b.enc), b.cols - 2, b.enc):
                b.op(Text("  " + part))
    if order.points_redeemed:
        b.pair(f"{b.label('points_redeemed')}:", str(order.points_redeemed))
    for coupon in order.coupons:
        b.pair(f"{b.label('coupon')}:", coupon)
    mark = CURRENCY_MARK.get(order.currency, order.currency + " ")
    b.pair(f"{b.label('total')}:", f"{mark}{amount_text(order.total)}", bold=True, size="tall")


def _discount_labels(b: _Builder, discount: DiscountData) -> list[str]:
    """The discount's label in the receipt language: one row, or for "both" the Chinese
    row then the English one (like the item names)."""
    zh = discount.label_zh or discount.id
    en = discount.label_en or zh
    return {"zh": [zh], "en": [en], "both": [zh, en] if en != zh else [zh]}[b.opts.language]


def _indented_pair(b: _Builder, label: str, value: str, indent: int = 2) -> None:
    """``  label ...... value`` with a wrapped label kept under the indent."""
    enc, pad = b.enc, " " * indent
    right = clean_text(value, enc)
    rw = text_width(right, enc)
    parts = wrap(clean_text(label, enc), b.cols - indent, enc)
    for part in parts[:-1]:
        b.op(Text(pad + part))
    last = pad + parts[-1]
    if text_width(last, enc) + 1 + rw > b.cols:
        b.op(Text(last))
        last = ""
    b.op(Text(fit(last, b.cols - rw, "left", enc) + right))


def _vat_block(b: _Builder, order: OrderCompletedData) -> None:
    lang, enc = b.opts.language, b.enc
    w = b.cols // 4
    spec = [("vat_rate", b.cols - 3 * w, "left"), ("vat_gross", w, "right"), ("vat_net", w, "right"),
            ("vat_tax", w, "right")]
    for code in (["zh", "en"] if lang == "both" else [lang]):
        idx = 0 if code == "zh" else 1
        b.op(Text(columns_row([(LABELS[k][idx], width, a) for k, width, a in spec], enc).rstrip()))
    for vat in order.vat:
        row = [(rate_text(vat.rate_bp), spec[0][1], "left"), (amount_text(vat.gross), w, "right"),
               (amount_text(vat.net), w, "right"), (amount_text(vat.tax), w, "right")]
        b.op(Text(columns_row(row, enc)))


def _tender_block(b: _Builder, order: OrderCompletedData) -> None:
    for tender in order.tenders:
        zh, en = TENDERS.get(tender.method, (tender.method, tender.method))
        name = {"zh": zh, "en": en, "both": f"{zh} {en}" if zh != en else en}[b.opts.language]
        if tender.offline:
            name += f" ({b.label('offline')})"
        b.pair(f"{b.label('paid')} {name}:", amount_text(tender.amount))
        ref = tender.masked or mask_reference(tender.provider_ref or tender.out_trade_no)
        if ref:
            b.pair(f"  {b.label('ref')}:", ref)


def _footer(b: _Builder) -> None:
    lang, footer = b.opts.language, b.opts.footer.strip()
    if lang in ("zh", "both") and footer:
        b.line(footer, align="center")
    if lang == "en":
        b.line(footer if footer and footer.isascii() else LABELS["thanks"][1], align="center")
    elif lang == "both" and (not footer or not footer.isascii()):
        b.line(LABELS["thanks"][1], align="center")


def layout_test_page(opts: ReceiptOptions, when: datetime | None = None) -> ReceiptLayout:
    """A printer test page: both languages, column ruler, a QR code, cut."""
    b = _Builder(replace(opts, language="both"))
    b.line(f"{LABELS['test'][0]} {LABELS['test'][1]}", align="center", bold=True, size="big")
    b.line(opts.store_name, align="center")
    b.line(f"{opts.store_id} / {opts.kiosk_id}", align="center")
    if when is not None:
        b.line(f"{_local_time(when, opts.timezone):%Y-%m-%d %H:%M:%S}", align="center")
    b.op(Rule())
    b.op(Text(("1234567890" * 5)[: b.cols]))
    b.op(Text(fit("中文对齐测试一二三四五六七八九十", b.cols, encoding=b.enc)))
    b.line(f"{opts.paper_mm}mm {b.cols} cols {opts.encoding}", align="center")
    b.op(QrCode("https://example.com/printer-test"))
    b.op(Cut())
    return b.layout


def layout_pay_qr(code_url: str, amount: int, currency: str, opts: ReceiptOptions,
                  order_no: str | None = None) -> ReceiptLayout:
    """A payment slip (扫码支付): the WeChat Pay QR the shopper scans, with the amount due.

    Not a receipt: it says so in both languages, and the receipt follows once paid."""
    b = _Builder(replace(opts, language="both"))
    mark = CURRENCY_MARK.get(currency, currency + " ")
    b.line(opts.store_name, align="center")
    b.line("微信扫码支付", align="center", bold=True, size="big")
    b.line("Scan with WeChat to pay", align="center")
    b.op(Rule())
    b.line(f"应付 To pay {mark}{amount_text(amount)}", align="center", bold=True, size="tall")
    if order_no:
        b.line(order_no, align="center")
    b.op(QrCode(code_url))
    b.line("此单非小票，付款后打印小票", align="center")
    b.line("Not a receipt: printed after payment", align="center")
    b.op(Cut())
    return b.layout

