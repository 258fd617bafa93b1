"""ESC/POS encoding of a receipt layout: the exact bytes for the printer.

Chinese text: GB18030 (default), GBK or UTF-8 per printer model. For GB18030/GBK the
printer is put in Chinese character mode (``FS &``, the command Xprinter, Gprinter,
SPRT and Epson China models share); for UTF-8 Chinese mode is cancelled (``FS .``) and
the Epson ``FS ( C`` "select character encoding" command picks UTF-8.

Rendering the bytes is pure string work (well under a millisecond per line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import ReceiptOptions, layout_receipt
from .ops import Cut, Encoding, Feed, QrCode, ReceiptLayout, Rule, Text

if TYPE_CHECKING:
    from contract.wire.events import OrderCompletedData

ESC, GS, FS, LF = b"\x1b", b"\x1d", b"\x1c", b"\n"


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
