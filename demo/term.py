"""Terminal output of the demo: bilingual section titles, steps, boxes and tables."""

from __future__ import annotations

import sys
import unicodedata

_BOLD = "\033[1m"
_DIM = "\033[2m"
_GREEN = "\033[32m"
_RED = "\033[31m"
_CYAN = "\033[36m"
_RESET = "\033[0m"


def _color() -> bool:
    return sys.stdout.isatty()


def _c(code: str, text: str) -> str:
    return f"{code}{text}{_RESET}" if _color() else text


def width(text: str) -> int:
    """Terminal columns of ``text`` (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, cols: int, align: str = "left") -> str:
    gap = max(cols - width(text), 0)
    return (" " * gap + text) if align == "right" else (text + " " * gap)


def out(text: str = "") -> None:
    print(text, flush=True)


def section(zh: str, en: str) -> None:
    out()
    out(_c(_BOLD + _CYAN, f"== {zh}  {en} =="))


def step(zh: str, en: str = "") -> None:
    out(f"  > {zh}" + (f"  {_c(_DIM, en)}" if en else ""))


def ok(text: str) -> None:
    out("  " + _c(_GREEN, "✓ ") + text)


def warn(text: str) -> None:
    out("  " + _c(_RED, "! ") + text)


def note(text: str) -> None:
    out("    " + _c(_DIM, text))


def display_line(line1: str, line2: str) -> None:
    """What the customer display shows (2 x 20 columns)."""
    out(f"    {_c(_DIM, '显示屏')} │{pad(line1, 20)}│{pad(line2, 20)}│")


def box(title: str, lines: list[str]) -> None:
    """A framed block (the receipt as text)."""
    inner = max([width(x) for x in lines] + [width(title)]) + 2
    out("    ┌" + "─" * inner + "┐")
    out("    │ " + pad(title, inner - 1) + "│")
    out("    ├" + "─" * inner + "┤")
    for line in lines:
        out("    │ " + pad(line, inner - 1) + "│")
    out("    └" + "─" * inner + "┘")


def table(headers: list[str], rows: list[list[str]]) -> None:
    cols = [max(width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        cells = [pad(str(v), cols[i], "left" if i == 0 else "right") for i, v in enumerate(row)]
        return "    │ " + " │ ".join(cells) + " │"

    sep = "─┼─".join("─" * c for c in cols)
    out("    ┌─" + "─┬─".join("─" * c for c in cols) + "─┐")
    out(fmt(headers))
    out("    ├─" + sep + "─┤")
    for r in rows:
        out(fmt(r))
    out("    └─" + "─┴─".join("─" * c for c in cols) + "─┘")
