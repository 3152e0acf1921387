"""Charts drawn as SVG on the server: no chart service or script from outside.

`bar_chart` returns markup safe to place in a template; the SVG has a <title> per bar and a
text table is expected next to it in the page for screen readers.
"""
from __future__ import annotations

from markupsafe import Markup, escape


def bar_chart(labels: list[str], values: list[float], *, unit: str = "", title: str = "",
              width: int = 640, height: int = 240, color: str = "#2b6cb0") -> Markup:
    """A responsive vertical bar chart."""
    pad_left, pad_bottom, pad_top = 48, 36, 16
    n = max(len(values), 1)
    top = max([v for v in values if v is not None] + [0]) or 1
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    step = plot_w / n
    bar_w = max(step * 0.7, 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet" '
             f'xmlns="http://www.w3.org/2000/svg">']
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for i in range(5):  # horizontal grid with values
        y = pad_top + plot_h * i / 4
        value = top * (4 - i) / 4
        parts.append(f'<line x1="{pad_left}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{pad_left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{value:,.0f}</text>')
    every = max(1, n // 12)
    for i, (label, value) in enumerate(zip(labels, values)):
        v = value or 0
        h = plot_h * v / top
        x = pad_left + i * step + (step - bar_w) / 2
        y = pad_top + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color}">'
                     f"<title>{escape(label)}: {v:,.0f} {escape(unit)}</title></rect>")
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - pad_bottom + 16}" font-size="11" '
                         f'text-anchor="middle">{escape(label)}</text>')
    if unit:
        parts.append(f'<text x="4" y="{pad_top - 4}" font-size="11">{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
