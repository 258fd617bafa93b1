"""PNG rendering of a receipt layout: the same ops drawn dot for dot.

One PNG pixel is one printer dot, so the preview shows what the paper will show.
Pillow is for previews and the CLI, never on the checkout's hot path.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .ops import CELL_H, CELL_W, Cut, Encoding, Feed, LayoutOp, QrCode, ReceiptLayout, Rule, Text
from .text import cell_width, text_width

if TYPE_CHECKING:
    from PIL import Image, ImageFont

# Default ESC/POS line spacing on these printers is 30 dots (ESC 2); the preview uses it.
LINE_SPACING = 30
FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
# The printer's 24x24 CJK glyphs leave a dot or two of air; 22 px keeps descenders
# (g, y, p) inside the 24-dot cell in the preview.
GLYPH_PX = 22


@functools.lru_cache(maxsize=4)
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
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
    return [[bool(cell) for cell in row] for row in qr.get_matrix()]


def render_png(layout: ReceiptLayout, margin: int = 8) -> Image.Image:
    """A 1-bit preview of ``layout``, one pixel per printer dot, same columns and lines."""
    from PIL import Image, ImageDraw

    width = layout.dots
    blocks: list[tuple[int, LayoutOp]] = []  # (height, op) first, then draw
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
                        left, top = x0 + c * op.module, y + r * op.module
                        draw.rectangle([left, top, left + op.module - 1, top + op.module - 1],
                                       fill=0)
        elif isinstance(op, Cut):
            mid = y + h // 2
            for x in range(0, width, 16):
                draw.line([x, mid, x + 8, mid], fill=0)
        y += h
    return img


def _draw_text(img: Image.Image, op: Text, y: int, width: int, encoding: Encoding) -> None:
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
        strip = strip.resize((strip.width * sx, strip.height * sy), Image.Resampling.NEAREST)
    text_dots = strip.width
    if op.align == "center":
        left = (width - text_dots) // 2
    elif op.align == "right":
        left = width - text_dots
    else:
        left = 0
    img.paste(strip.point(lambda v: 255 if v >= 128 else 0).convert("1"), (max(left, 0), y))
