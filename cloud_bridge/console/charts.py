"""Charts as server-rendered SVG: no JavaScript, no dependency, readable without colour.

Each chart is a ``<figure>`` with an SVG (``role="img"`` and a text alternative) plus
a visually hidden table of the same figures for screen readers. Only presentation
attributes are used (no ``style=``), so the console's CSP needs no ``unsafe-inline``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

BAR = "#0b5cad"  # 6.6:1 on white; bars also carry their value as text
GRID = "#c5ced6"
INK = "#1f2933"


def _nice_max(value: int) -> int:
    if value <= 0:
        return 100  # an empty chart still gets a readable axis (¥1.00)
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bar_chart(points: Sequence[tuple[str, int]], label: str, value_text: Callable[[int], str],
              *, width: int = 640, height: int = 220, every: int = 1) -> Markup:
    """Vertical bars, one per ``(label, value)``; every ``every``-th label is printed."""
    n = max(len(points), 1)
    top = _nice_max(max((v for _, v in points), default=0))
    left, bottom, pad_top = 64, 28, 12
    plot_w, plot_h = width - left - 8, height - bottom - pad_top
    slot = plot_w / n
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
             f'class="chart" preserveAspectRatio="xMinYMin meet">']
    for frac in (0, 0.5, 1):
        y = pad_top + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="{INK}">{escape(value_text(int(top * frac)))}</text>')
    for i, (name, value) in enumerate(points):
        h = plot_h * value / top if top else 0
        x = left + i * slot + slot * 0.15
        y = pad_top + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{h:.1f}" fill="{BAR}"><title>{escape(name)}: '
                     f'{escape(value_text(value))}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - 10}" font-size="11" '
                         f'text-anchor="middle" fill="{INK}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def share_bars(points: Sequence[tuple[str, int]], label: str,
               value_text: Callable[[int], str], *, width: int = 640,
               percent: bool = True) -> Markup:
    """Horizontal bars with name, amount and (``percent``) share printed (a readable pie)."""
    total = (sum(v for _, v in points) if percent else max((v for _, v in points),
                                                           default=0)) or 1
    row_h, left = 30, 130
    height = max(len(points), 1) * row_h + 8
    plot_w = width - left - 190
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
             f'class="chart" preserveAspectRatio="xMinYMin meet">']
    for i, (name, value) in enumerate(points):
        y = 4 + i * row_h
        w = plot_w * value / total
        pct = value * 1000 // total
        parts.append(f'<text x="{left - 8}" y="{y + 19}" text-anchor="end" font-size="13" '
                     f'fill="{INK}">{escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}" '
                     f'fill="{BAR}"/>')
        share = f" ({pct // 10}.{pct % 10}%)" if percent else ""
        parts.append(f'<text x="{left + w + 8:.1f}" y="{y + 19}" font-size="13" fill="{INK}">'
                     f'{escape(value_text(value))}{share}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
