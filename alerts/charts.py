"""Small bar charts drawn on the server as inline SVG, for the admin home.

No JavaScript and nothing fetched from elsewhere: each bar carries its number in an SVG
<title> (shown on hover), and the page puts the same numbers in a table for screen readers.
Colours come from the stylesheet (classes), so the charts follow the admin's light or dark
scheme. Plain Python: every value is escaped here, nothing is trusted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 300, 90
TOP, BOTTOM = 14, 16  # room for the maximum's label above and the dates below


@dataclass(frozen=True)
class Series:
    """One metric per day: `label` names it ("Digests sent"), `values` follows `days`."""

    key: str
    label: str
    days: Sequence[dt.date]
    values: Sequence[int]

    @property
    def total(self) -> int:
        return sum(self.values)


def _bar(x: float, width: float, value: int, top: int, day: dt.date, label: str) -> str:
    plot = HEIGHT - TOP - BOTTOM
    height = 0.0 if top == 0 else plot * value / top
    # A day with nothing still gets a 1-pixel stub so its title can be hovered.
    shown = max(height, 1.0)
    y = HEIGHT - BOTTOM - shown
    tip = escape(f"{day:%a %-d %b}: {value} {label.lower()}")
    kind = "bar" if value else "bar empty"
    return (
        f'<rect class="{kind}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{shown:.1f}">'
        f"<title>{tip}</title></rect>"
    )


def bar_chart(series: Series) -> str:
    """An SVG bar chart of one series, one bar per day, oldest on the left."""
    count = max(len(series.values), 1)
    top = max(series.values, default=0)
    step = WIDTH / count
    width = max(step - 1.0, 1.0)
    bars = "".join(
        _bar(i * step, width, value, top, day, series.label)
        for i, (day, value) in enumerate(zip(series.days, series.values, strict=True))
    )
    first = f"{series.days[0]:%-d %b}" if series.days else ""
    last = f"{series.days[-1]:%-d %b}" if series.days else ""
    name = escape(series.label)
    summary = escape(f"{series.label}: {series.total} over {len(series.values)} days, at most {top} a day")
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{summary}" xmlns="http://www.w3.org/2000/svg">'
        f'<text class="axis" x="0" y="10">{name}: max {top}</text>'
        f'<line class="baseline" x1="0" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}"/>'
        f"{bars}"
        f'<text class="axis" x="0" y="{HEIGHT - 3}">{escape(first)}</text>'
        f'<text class="axis" x="{WIDTH}" y="{HEIGHT - 3}" text-anchor="end">{escape(last)}</text>'
        "</svg>"
    )
