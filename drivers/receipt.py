"""Receipt layout engine: one list of layout ops, rendered to ESC/POS bytes or a PNG.

``layout_receipt(order, options)`` turns a wire ``OrderCompletedData`` into a
:class:`ReceiptLayout` (paper width, encoding, ops). ``render_escpos(layout)`` gives
the exact bytes for the printer and ``render_png(layout)`` draws the same ops dot for
dot (one PNG pixel = one printer dot), so the preview shows what the paper will show.

Columns: Font A is 12x24 dots, so 80 mm paper (576 dots) has 48 columns and 58 mm
(384 dots) has 32. A Chinese character is printed as a 24x24 double-byte glyph and
takes two columns. With a GB18030/GBK printer every non-ASCII character goes through
the double-byte glyph table, so it is two columns wide too (``×``, ``·`` ...); with
UTF-8 the East Asian Width decides (W and F are two columns).

Chinese text: GB18030 (default), GBK or UTF-8 per printer model. For GB18030/GBK the
printer is put in Chinese character mode (``FS &``, the command Xprinter, Gprinter,
SPRT and Epson China models share); for UTF-8 Chinese mode is cancelled (``FS .``) and
the Epson ``FS ( C`` "select character encoding" command picks UTF-8.

Rendering the bytes is pure string work (well under a millisecond per line); the PNG
(Pillow) is for previews and the CLI, never on the checkout's hot path.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL import Image

    from contract.wire.events import DiscountData, OrderCompletedData

Encoding = Literal["gb18030", "gbk", "utf-8"]
Language = Literal["zh", "en", "both"]
Align = Literal["left", "center", "right"]
Size = Literal["normal", "tall", "big"]  # tall = double height; big = double width and height

PAPER = {58: (32, 384), 80: (48, 576)}  # paper mm -> (columns, dots)
CELL_W, CELL_H = 12, 24  # Font A in dots
# Default ESC/POS line spacing on these printers is 30 dots (ESC 2); the preview uses it.
LINE_SPACING = 30
QR_MODULE_DOTS = 6  # 6-dot modules: a 33-module URL code is ~25 mm, scannable by any phone
FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
# The printer's 24x24 CJK glyphs leave a dot or two of air; 22 px keeps descenders
# (g, y, p) inside the 24-dot cell in the preview.
GLYPH_PX = 22

ESC, GS, FS, LF = b"\x1b", b"\x1d", b"\x1c", b"\n"


# --------------------------------------------------------------------------- ops
@dataclass(frozen=True)
class Text:
    """One printed line; ``text`` already fits the columns (see :func:`cell_width`)."""

    text: str
    align: Align = "left"
    bold: bool = False
    size: Size = "normal"
    invert: bool = False


@dataclass(frozen=True)
class Rule:
    """A full-width separator line."""

    char: str = "-"


@dataclass(frozen=True)
class Feed:
    """Blank lines."""

    lines: int = 1


@dataclass(frozen=True)
class QrCode:
    """A native ESC/POS QR code (GS ( k), centred."""

    data: str
    module: int = QR_MODULE_DOTS


@dataclass(frozen=True)
class Cut:
    """Feed to the cutter and cut (partial cut)."""


LayoutOp = Text | Rule | Feed | QrCode | Cut


@dataclass
class ReceiptLayout:
    """What to print, independent of how: the ops plus the paper they are for."""

    paper_mm: int
    encoding: Encoding
    ops: list[LayoutOp] = field(default_factory=list)

    @property
    def columns(self) -> int:
        return PAPER[self.paper_mm][0]

    @property
    def dots(self) -> int:
        return PAPER[self.paper_mm][1]

    def text_lines(self) -> list[str]:
        """The text of every Text op (for tests and logs)."""
        return [op.text for op in self.ops if isinstance(op, Text)]


# --------------------------------------------------------------------------- text helpers
def cell_width(ch: str, encoding: str = "gb18030") -> int:
    """Columns one character takes on the printer (1 or 2)."""
    if ord(ch) < 0x80:
        return 1
    if encoding != "utf-8":
        return 2
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str, encoding: str = "gb18030") -> int:
    """Columns a string takes on the printer."""
    if text.isascii():
        return len(text)
    if encoding != "utf-8":
        return len(text) + sum(1 for ch in text if ord(ch) >= 0x80)
    return sum(cell_width(ch, encoding) for ch in text)


def clean_text(text: str, encoding: str = "gb18030") -> str:
    """Printable text only: control/format characters (which could smuggle ESC/POS
    commands in a product name) become spaces; characters the encoding cannot carry
    become ``?`` so the preview shows what the paper will."""
    if text.isprintable():  # the common case: nothing to strip (Cc/Cf/Zl/Zp are not printable)
        try:
            text.encode(encoding)
            return text
        except UnicodeEncodeError:
            pass
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(" ")
            continue
        try:
            ch.encode(encoding)
        except UnicodeEncodeError:
            out.append(_STAND_INS.get(ch, "?"))
            continue
        out.append(ch)
    return "".join(out)


# Characters GBK lacks that price books write anyway, and what prints instead.
_STAND_INS = {"¥": "￥"}  # U+00A5 is not in GBK; the fullwidth yen (A3A4) is


def fit(text: str, width: int, align: str = "left", encoding: str = "gb18030") -> str:
    """Pad (or cut) ``text`` to exactly ``width`` columns; never splits a wide char."""
    out, used = [], 0
    for ch in text:
        w = cell_width(ch, encoding)
        if used + w > width:
            break
        out.append(ch)
        used += w
    s = "".join(out)
    pad = width - used
    if align == "right":
        return " " * pad + s
    if align == "center":
        return " " * (pad // 2) + s + " " * (pad - pad // 2)
    return s + " " * pad


def wrap(text: str, width: int, encoding: str = "gb18030") -> list[str]:
    """Greedy wrap to ``width`` columns; breaks between CJK chars or at spaces."""
    text = " ".join(text.split())
    if not text:
        return [""]
    lines: list[str] = []
    line, used = "", 0
    for token in _tokens(text, encoding):
        tw = text_width(token, encoding)
        if token == " ":
            if used and used + 1 <= width:
                line, used = line + " ", used + 1
            continue
        if used + tw > width and used:
            lines.append(line.rstrip())
            line, used = "", 0
        while tw > width:  # a word longer than the line: hard split
            head = fit(token, width, encoding=encoding).rstrip()
            lines.append(head)
            token = token[len(head) :]
            tw = text_width(token, encoding)
        line, used = line + token, used + tw
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def _tokens(text: str, encoding: str) -> Iterable[str]:
    word = ""
    for ch in text:
        # A wide currency sign starts a word: "￥3.50" never breaks after the sign.
        if ch == " " or (cell_width(ch, encoding) == 2 and ch not in _CURRENCY_SIGNS):
            if word:
                yield word
                word = ""
            yield ch
        else:
            word += ch
    if word:
        yield word


_CURRENCY_SIGNS = frozenset("￥¥")


def columns_row(cells: Iterable[tuple[str, int, str]], encoding: str = "gb18030") -> str:
    """Cells ``(text, width, align)`` side by side, each fitted to its width."""
    return "".join(fit(text, width, align, encoding) for text, width, align in cells)


def amount_text(fen: int, digits: int = 2) -> str:
    """``1230 -> '12.30'`` without floats (the symbol is printed once, on the total)."""
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(fen), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def rate_text(rate_bp: int) -> str:
    """VAT rate in basis points as a percentage: ``1300 -> '13%'``, ``950 -> '9.5%'``."""
    whole, frac = divmod(rate_bp, 100)
    if not frac:
        return f"{whole}%"
    return f"{whole}.{frac:02d}".rstrip("0") + "%"


def mask_reference(ref: str | None) -> str:
    """Last four characters only: ``'4200001234567890' -> '****7890'``."""
    if not ref:
        return ""
    ref = ref.strip()
    return "****" + ref[-4:] if len(ref) > 4 else "****"


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


# --------------------------------------------------------------------------- ESC/POS
def _encoding_setup(encoding: Encoding) -> bytes:
    if encoding == "utf-8":
        # Cancel Chinese (double-byte) mode, then FS ( C fn=0x30: character encoding UTF-8.
        return FS + b"." + FS + b"(C\x02\x00\x30\x02"
    # GB18030/GBK: Chinese character mode; ASCII stays single-byte, >= 0x81 starts a
    # double-byte code. GBK is the double-byte subset of GB18030, same command.
    return FS + b"&"


_ALIGN = {"left": 0, "center": 1, "right": 2}
_SIZE = {"normal": 0x00, "tall": 0x01, "big": 0x11}


def _qr_bytes(data: str, module: int) -> bytes:
    payload = data.encode("utf-8")
    n = len(payload) + 3
    return b"".join([
        GS + b"(k\x04\x00\x31\x41\x32\x00",  # model 2
        GS + b"(k\x03\x00\x31\x43" + bytes([module]),  # module size in dots
        GS + b"(k\x03\x00\x31\x45\x31",  # error correction level M (15%)
        GS + b"(k" + bytes([n & 0xFF, n >> 8]) + b"\x31\x50\x30" + payload,  # store
        GS + b"(k\x03\x00\x31\x51\x30",  # print
    ])


def render_escpos(layout: ReceiptLayout) -> bytes:
    """The exact bytes to send to the printer for ``layout``."""
    enc = layout.encoding
    errors = "replace" if enc == "gbk" else "strict"
    out = [ESC + b"@", _encoding_setup(enc)]
    align, bold, size, invert = "left", False, "normal", False
    for op in layout.ops:
        if isinstance(op, Text):
            if op.align != align:
                out.append(ESC + b"a" + bytes([_ALIGN[op.align]]))
                align = op.align
            if op.bold != bold:
                out.append(ESC + b"E" + bytes([int(op.bold)]))
                bold = op.bold
            if op.size != size:
                out.append(GS + b"!" + bytes([_SIZE[op.size]]))
                size = op.size
            if op.invert != invert:
                out.append(GS + b"B" + bytes([int(op.invert)]))
                invert = op.invert
            out.append(op.text.encode(enc, errors) + LF)
        elif isinstance(op, Rule):
            if align != "left":
                out.append(ESC + b"a\x00")
                align = "left"
            for cmd, on in ((ESC + b"E\x00", bold), (GS + b"!\x00", size != "normal"),
                            (GS + b"B\x00", invert)):
                if on:
                    out.append(cmd)
            bold, size, invert = False, "normal", False
            out.append((op.char * layout.columns).encode(enc, errors) + LF)
        elif isinstance(op, Feed):
            out.append(ESC + b"d" + bytes([op.lines]))
        elif isinstance(op, QrCode):
            if align != "center":
                out.append(ESC + b"a\x01")
                align = "center"
            out.append(_qr_bytes(op.data, op.module))
            out.append(LF)
        elif isinstance(op, Cut):
            out.append(GS + b"VB\x00")  # feed to the cutter position, then partial cut
    return b"".join(out)


def render_receipt(order: OrderCompletedData, opts: ReceiptOptions) -> bytes:
    """Shortcut: layout and ESC/POS bytes in one call."""
    return render_escpos(layout_receipt(order, opts))


# --------------------------------------------------------------------------- PNG
@functools.lru_cache(maxsize=4)
def _font(px: int):
    from PIL import ImageFont

    try:
        return ImageFont.truetype(FONT_PATH, px)
    except OSError:  # font package missing: still draw something readable
        return ImageFont.load_default()


def _qr_matrix(data: str) -> list[list[bool]]:
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(data)
    qr.make(fit=True)
    return qr.get_matrix()


def render_png(layout: ReceiptLayout, margin: int = 8) -> Image.Image:
    """A 1-bit preview of ``layout``, one pixel per printer dot, same columns and lines."""
    from PIL import Image, ImageDraw

    width = layout.dots
    blocks: list[tuple[int, object]] = []  # (height, op) first, then draw
    for op in layout.ops:
        if isinstance(op, Text):
            h = CELL_H * (2 if op.size in ("tall", "big") else 1)
            blocks.append((max(LINE_SPACING, h + 6), op))
        elif isinstance(op, Rule):
            blocks.append((LINE_SPACING, op))
        elif isinstance(op, Feed):
            blocks.append((LINE_SPACING * op.lines, op))
        elif isinstance(op, QrCode):
            blocks.append((len(_qr_matrix(op.data)) * op.module + LINE_SPACING, op))
        elif isinstance(op, Cut):
            blocks.append((LINE_SPACING * 2, op))
    height = sum(h for h, _ in blocks) + 2 * margin
    img = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(img)
    y = margin
    for h, op in blocks:
        if isinstance(op, Text):
            _draw_text(img, op, y, width, layout.encoding)
        elif isinstance(op, Rule):
            _draw_text(img, Text(op.char * layout.columns), y, width, layout.encoding)
        elif isinstance(op, QrCode):
            matrix = _qr_matrix(op.data)
            side = len(matrix) * op.module
            x0 = (width - side) // 2
            for r, row in enumerate(matrix):
                for c, dark in enumerate(row):
                    if dark:
                        draw.rectangle([x0 + c * op.module, y + r * op.module,
                                        x0 + (c + 1) * op.module - 1, y + (r + 1) * op.module - 1], fill=0)
        elif isinstance(op, Cut):
            mid = y + h // 2
            for x in range(0, width, 16):
                draw.line([x, mid, x + 8, mid], fill=0)
        y += h
    return img


def _draw_text(img, op: Text, y: int, width: int, encoding: Encoding) -> None:
    """Draw one text line: at normal size into a strip, then scaled like GS ! does."""
    from PIL import Image, ImageDraw

    sx = 2 if op.size == "big" else 1
    sy = 2 if op.size in ("tall", "big") else 1
    cols_used = text_width(op.text, encoding)
    if cols_used == 0:
        return
    strip = Image.new("L", (cols_used * CELL_W, CELL_H), 0 if op.invert else 255)
    draw = ImageDraw.Draw(strip)
    font = _font(GLYPH_PX)
    ink = 255 if op.invert else 0
    x = 0
    for ch in op.text:
        box_w = cell_width(ch, encoding) * CELL_W
        if ch != " ":
            # Each glyph is centred in its own column cells, so columns line up
            # exactly as on paper whatever the font's advance widths are.
            gx = x + (box_w - draw.textlength(ch, font=font)) / 2
            draw.text((gx, CELL_H / 2), ch, font=font, fill=ink, anchor="lm",
                      stroke_width=1 if op.bold else 0, stroke_fill=ink)
        x += box_w
    if sx != 1 or sy != 1:
        strip = strip.resize((strip.width * sx, strip.height * sy), Image.NEAREST)
    text_dots = strip.width
    if op.align == "center":
        left = (width - text_dots) // 2
    elif op.align == "right":
        left = width - text_dots
    else:
        left = 0
    img.paste(strip.point(lambda v: 255 if v >= 128 else 0).convert("1"), (max(left, 0), y))
