"""Hand-drawn SVG charts for the report: horizontal bars with their labels written on them.

Every chart is readable without colour: segments differ by pattern as well as by shade, and
every bar carries its number as text.  Values are escaped here, once, by :func:`esc`.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Segment", "bar_rows", "esc", "legend", "range_rows"]

WIDTH = 900
LABEL = 170  # the left column with the row's name
BAR_AREA = WIDTH - LABEL - 240  # a full bar; the 240 px after it hold the labels that do not fit
CHAR = 6.6  # an average character's width at 12px, to decide whether a label fits in a bar


def esc(value: object) -> str:
    """*value* as text safe in HTML and SVG, quotes included.

    >>> esc('<script>"x"</script>')
    '&lt;script&gt;&quot;x&quot;&lt;/script&gt;'
    """
    return escape(str(value), quote=True)


class Segment:
    """One part of a bar: its value, its style class and the label written on it."""

    __slots__ = ("css", "label", "value")

    def __init__(self, value: float, css: str, label: str) -> None:
        self.value = value
        self.css = css
        self.label = label


def _fits(label: str, width: float) -> bool:
    return len(label) * CHAR + 8 <= width


def _svg(height: float, title: str, body: list[str], css: str) -> str:
    return (
        f'<svg class="chart {esc(css)}" role="img" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{esc(title)}</title>{_PATTERNS}{''.join(body)}</svg>"
    )


_PATTERNS = (
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" class="hatch-bg"/>'
    '<line x1="0" y1="0" x2="0" y2="6" class="hatch-line" stroke-width="3"/></pattern>'
    '<pattern id="dots" width="5" height="5" patternUnits="userSpaceOnUse">'
    '<rect width="5" height="5" class="dots-bg"/><circle cx="2.5" cy="2.5" r="1.1" '
    'class="dots-dot"/></pattern></defs>'
)


def legend(items: Sequence[tuple[str, str]]) -> str:
    """An HTML legend: (style class, text) pairs, each with a swatch drawn like its segment."""
    parts = [
        f'<span class="key"><svg width="14" height="14" aria-hidden="true">{_PATTERNS}'
        f'<rect class="seg {esc(css)}" width="14" height="14"/></svg>{esc(text)}</span>'
        for css, text in items
    ]
    return f'<p class="legend">{"".join(parts)}</p>'


def bar_rows(rows: Sequence[tuple[str, str, Sequence[Segment]]], *, title: str, css: str,
             scale: float | None = None) -> str:
    """One horizontal stacked bar per row: ``(name, caption, segments)``.

    The caption is written above the bar; each segment's label inside it when it fits, else
    after the bar.  *scale* is the value of a full-width bar (default: the largest row total).
    """
    totals = [sum(s.value for s in segments) for _, _, segments in rows]
    full = scale or max(totals, default=0) or 1
    top = 18 if any(caption for _, caption, _ in rows) else 0  # room for captions above bars
    row_h = top + 30
    body: list[str] = []
    for i, (name, caption, segments) in enumerate(rows):
        y = 8 + i * row_h + top - 18
        body.append(f'<text class="name" x="{LABEL - 10}" y="{y + 33}" '
                    f'text-anchor="end">{esc(name)}</text>')
        if caption:
            body.append(f'<text class="caption" x="{LABEL}" y="{y + 12}">{esc(caption)}</text>')
        x = float(LABEL)
        outside: list[str] = []
        for seg in segments:
            w = BAR_AREA * seg.value / full
            if w <= 0:
                if seg.label:
                    outside.append(seg.label)
                continue
            body.append(f'<rect class="bar seg {esc(seg.css)}" x="{x:.1f}" y="{y + 18}" '
                        f'width="{max(w, 1.5):.1f}" height="22"><title>{esc(seg.label)}'
                        f"</title></rect>")
            if seg.label and _fits(seg.label, w):
                body.append(f'<text class="on-bar on-{esc(seg.css)}" x="{x + 4:.1f}" '
                            f'y="{y + 33}">{esc(seg.label)}</text>')
            elif seg.label:
                outside.append(seg.label)
            x += w
        if outside:
            body.append(f'<text class="after" x="{x + 6:.1f}" y="{y + 33}">'
                        f"{esc(' · '.join(outside))}</text>")
    return _svg(16 + len(rows) * row_h, title, body, css)


def range_rows(rows: Sequence[tuple[str, float, float, float, str]], *, title: str,
               css: str) -> str:
    """One interval per row: ``(name, low, mid, high, label)``.

    A bar from low to high, a tick at mid and the label after it (P10 / P50 / P90, or a
    median and P90 from zero).
    """
    full = max((high for _, _, _, high, _ in rows), default=0) or 1
    row_h = 34
    body: list[str] = []
    for i, (name, low, mid, high, label) in enumerate(rows):
        y = 8 + i * row_h
        x0 = LABEL + BAR_AREA * low / full
        x1 = LABEL + BAR_AREA * high / full
        xm = LABEL + BAR_AREA * mid / full
        body.append(f'<text class="name" x="{LABEL - 10}" y="{y + 17}" '
                    f'text-anchor="end">{esc(name)}</text>')
        body.append(f'<rect class="bar seg range" x="{x0:.1f}" y="{y + 4}" '
                    f'width="{max(x1 - x0, 1.5):.1f}" height="18"><title>{esc(label)}</title>'
                    f"</rect>")
        body.append(f'<line class="mid" x1="{xm:.1f}" x2="{xm:.1f}" y1="{y}" y2="{y + 26}"/>')
        body.append(f'<text class="after" x="{max(x1, xm) + 8:.1f}" y="{y + 17}">'
                    f"{esc(label)}</text>")
    return _svg(16 + len(rows) * row_h, title, body, css)
