"""Receipts: one list of layout ops, rendered to ESC/POS bytes or a PNG.

``layout_receipt(order, options)`` turns a wire ``OrderCompletedData`` into a
:class:`ReceiptLayout` (paper width, encoding, ops). ``render_escpos(layout)`` gives
the exact bytes for the printer and ``render_png(layout)`` draws the same ops dot for
dot, so the preview shows what the paper will show.

Modules by concern: :mod:`.ops` (the layout ops), :mod:`.text` (printer columns,
fitting, wrapping, amounts), :mod:`.layout` (order -> ops), :mod:`.escpos` (ops ->
bytes), :mod:`.png` (ops -> preview image). This package exports the few names a
caller needs; text metrics are imported from :mod:`.text`.
"""

from .escpos import render_escpos, render_receipt
from .layout import ReceiptOptions, layout_pay_qr, layout_receipt, layout_test_page
from .ops import ReceiptLayout
from .png import render_png

__all__ = [
    "ReceiptLayout",
    "ReceiptOptions",
    "layout_pay_qr",
    "layout_receipt",
    "layout_test_page",
    "render_escpos",
    "render_png",
    "render_receipt",
]
