"""The sandbox tax platform's invoice file: a real PDF of a 数电发票 (reportlab).

Laid out like the State Taxation Administration's 电子发票（普通发票）: title, number
and date, buyer and seller with their tax ids, one row per line (name with its
``*category*`` prefix, tax classification code, quantity, amount excl. VAT, rate, tax),
the totals and the total in Chinese capitals (价税合计（大写）). A red-letter invoice
prints negative amounts and names the blue invoice it reverses. WenQuanYi Micro Hei is
embedded so the Chinese renders everywhere (Helvetica when the font is missing, which
only a test machine without ``fonts-wqy-microhei`` would see).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TypedDict

from common.jsontypes import JsonObject
from contract.money import major_text

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_NAME = "WenQuanYiMicroHei"
DIGITS = "零壹贰叁肆伍陆柒捌玖"
UNITS = ("", "拾", "佰", "仟")
GROUPS = ("", "万", "亿", "万亿")


def capital_amount(fen: int) -> str:
    """An amount in Chinese financial capitals (大写), e.g. 1130 -> 壹拾壹圆叁角整."""
    sign = "负" if fen < 0 else ""
    fen = abs(fen)
    yuan, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    words = ""
    if yuan:
        groups, g = [], 0
        while yuan:
            groups.append((yuan % 10000, g))
            yuan //= 10000
            g += 1
        zero_pending = False
        for value, g in reversed(groups):
            if value == 0:
                zero_pending = bool(words)
                continue
            part = ""
            for i in range(3, -1, -1):
                d = value // 10**i % 10
                if d == 0:
                    zero_pending = bool(words or part)
                    continue
                if zero_pending:
                    part += "零"
                    zero_pending = False
                part += DIGITS[d] + UNITS[i]
            words += part + GROUPS[g]
        words += "圆"
    if not jiao and not cents:
        return sign + (words or "零圆") + "整"
    if jiao:
        words += DIGITS[jiao] + "角"
    elif words:
        words += "零"
    if cents:
        words += DIGITS[cents] + "分"
    return sign + words


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return FONT_NAME
    if not CJK_FONT.is_file():
        return "Helvetica"
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(CJK_FONT), subfontIndex=0))
    return FONT_NAME


class FapiaoItem(TypedDict):
    """A checked line of an invoice (fen; tax rate in basis points)."""

    tax_code: str
    goods_name: str
    category_name: str
    quantity: object  # printed as the request gave it
    total_amount: int
    tax_rate: int
    tax_amount: int
    amount: int


class FapiaoDocument(TypedDict):
    """What the PDF shows: the platform's record of one invoice."""

    number: str
    time: str
    buyer: JsonObject
    seller: dict[str, str]
    items: list[FapiaoItem]
    amount: int
    tax_amount: int
    total_amount: int
    remark: object
    red_of: str | None
    confirmation_no: str | None


def render_fapiao(doc: FapiaoDocument) -> bytes:
    """The PDF of one invoice ``doc`` (the platform's record: number, time, parties, items,
    totals in fen; ``red_of`` for a red-letter invoice)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A5, landscape
    from reportlab.pdfgen import canvas

    font = _font()
    out = io.BytesIO()
    width, height = landscape(A5)
    c = canvas.Canvas(out, pagesize=(width, height))
    c.setTitle(f"{doc['number']}")
    red = bool(doc.get("red_of"))
    ink = colors.HexColor("#b0281a") if red else colors.HexColor("#7a4a12")
    c.setFillColor(ink)
    c.setFont(font, 16)
    c.drawCentredString(width / 2, height - 40, "电子发票（普通发票）")
    c.setFont(font, 9)
    c.setFillColor(colors.black)
    c.drawString(width - 210, height - 35, f"发票号码：{doc['number']}")
    c.drawString(width - 210, height - 48, f"开票日期：{doc['time'][:10]}")
    if red:
        c.setFillColor(ink)
        c.drawString(30, height - 40, "红字")
        c.setFillColor(colors.black)
    y = height - 75
    buyer, seller = doc["buyer"], doc["seller"]
    c.drawString(30, y, f"购买方  名称：{buyer.get('name', '')}")
    c.drawString(30, y - 13, f"统一社会信用代码/纳税人识别号：{buyer.get('taxpayer_id') or ''}")
    c.drawString(width / 2 + 10, y, f"销售方  名称：{seller['name']}")
    c.drawString(width / 2 + 10, y - 13, f"统一社会信用代码/纳税人识别号：{seller['taxpayer_id']}")
    y -= 40
    cols = (30, 220, 330, 380, 450, 500)
    heads = ("项目名称", "税收分类编码", "数量", "金额", "税率", "税额")
    for x, h in zip(cols, heads, strict=True):
        c.drawString(x, y, h)
    c.line(30, y - 4, width - 30, y - 4)
    sign = -1 if red else 1
    for item in doc["items"]:
        y -= 15
        cells = (f"*{item.get('category_name', '商品')}*{item['goods_name']}"[:24],
                 item["tax_code"], str(item["quantity"]),
                 major_text(sign * item["amount"]), f"{item['tax_rate'] / 100:g}%",
                 major_text(sign * item["tax_amount"]))
        for x, text in zip(cols, cells, strict=True):
            c.drawString(x, y, text)
    y -= 22
    c.line(30, y + 10, width - 30, y + 10)
    c.drawString(30, y, "合计")
    c.drawString(cols[3], y, f"¥{major_text(sign * doc['amount'])}")
    c.drawString(cols[5], y, f"¥{major_text(sign * doc['tax_amount'])}")
    y -= 16
    total = sign * doc["total_amount"]
    c.drawString(30, y, f"价税合计（大写）：{capital_amount(total)}")
    c.drawString(cols[3], y, f"（小写）¥{major_text(total)}")
    y -= 22
    remark: object = doc.get("remark") or ""
    if red:
        remark = f"被红冲蓝字数电发票号码：{doc['red_of']}  红字发票信息确认单编号：" \
                 f"{doc.get('confirmation_no', '')} {remark}"
    c.drawString(30, y, f"备注：{remark}"[:90])
    c.drawString(width - 160, 30, f"开票人：{seller.get('drawer', '系统')}")
    c.showPage()
    c.save()
    return out.getvalue()
