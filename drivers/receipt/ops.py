"""Receipt layout ops: what to print, independent of how (ESC/POS bytes or a PNG).

Columns: Font A is 12x24 dots, so 80 mm paper (576 dots) has 48 columns and 58 mm
(384 dots) has 32. A Chinese character is printed as a 24x24 double-byte glyph and
takes two columns (see :mod:`drivers.receipt.text`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Encoding = Literal["gb18030", "gbk", "utf-8"]
Language = Literal["zh", "en", "both"]
Align = Literal["left", "center", "right"]
Size = Literal["normal", "tall", "big"]  # tall = double height; big = double width and height

PAPER = {58: (32, 384), 80: (48, 576)}  # paper mm -> (columns, dots)
CELL_W, CELL_H = 12, 24  # Font A in dots
QR_MODULE_DOTS = 6  # 6-dot modules: a 33-module URL code is ~25 mm, scannable by any phone


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
