"""Receipt text metrics: printer columns per character, fitting, wrapping, amounts.

With a GB18030/GBK printer every non-ASCII character goes through the double-byte
glyph table, so it is two columns wide (``×``, ``·`` ...); with UTF-8 the East Asian
Width decides (W and F are two columns). The customer display uses the same metrics.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


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
