"""Charts drawn as SVG on the server, for the portal and the back office alike: no chart
service or script from outside.

`bar_chart` returns markup safe to place in a template; the SVG has a <title> per bar and a
text table is expected next to it in the page for screen readers. The value axis has ticks at
round values (`nice_ticks`: steps of 1, 2 or 5 times a power of ten, never a repeated label),
every number is written in the page's locale (Italian "1.926", "10.000"), and the unit is the
axis title, not a suffix of the top value.
"""
from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_decimal as babel_format_decimal
from markupsafe import Markup, escape

from app.i18n import locale_id

_NICE = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


def nice_step(raw: float | Decimal) -> Decimal:
    """The smallest round step not below `raw` (> 0): 1, 2 or 5 times a power of ten, or 25,
    250, 2,500… (whole numbers only, so 0.25 is never a step)."""
    raw = Decimal(str(raw))
    if raw <= 0:
        raise ValueError("a step must be positive")
    exponent = math.floor(math.log10(raw))
    power = Decimal(1).scaleb(exponent)
    for n in _NICE:
        if n == Decimal("2.5") and exponent < 1:
            continue
        if n * power >= raw:
            return n * power
    return 10 * power


def nice_ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[Decimal]:
    """Round tick values covering [low, high]: about `count` ticks, strictly increasing, each a
    multiple of one step of 1, 2 or 5 times a power of ten (whole numbers when `integer`)."""
    low, high = Decimal(str(low)), Decimal(str(high))
    if high < low:
        low, high = high, low
    if high == low:  # one value: a range around it, from zero when it is positive
        low, high = (min(low, Decimal(0)), high) if high else (Decimal(0), Decimal(1))
        if high == low:
            high = low + 1
    step = nice_step((high - low) / max(count - 1, 1))
    if integer and step < 1:
        step = Decimal(1)
    first = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    last = (high / step).to_integral_value(rounding="ROUND_CEILING") * step
    n = int((last - first) / step)
    exact = Decimal(1).scaleb(-decimals_of(step))  # plain digits: 500, not 5E+2
    return [(first + i * step).quantize(exact) for i in range(n + 1)]


def decimals_of(step: Decimal) -> int:
    """Decimal places needed to write multiples of `step` without repeats."""
    return max(0, -int(step.normalize().as_tuple().exponent))


def format_number(value, decimals: int | None = 0, locale: str | None = None) -> str:
    """A number with the locale's grouping and decimal signs and exactly `decimals` places
    (None: the locale's standard pattern, up to three places)."""
    return _format_number(str(value), decimals, locale or locale_id())


@lru_cache(maxsize=8192)
def _format_number(text: str, decimals: int | None, locale: str) -> str:
    """Remembered: Babel parses its locale and pattern at every call, and a chart writes some
    fifty numbers (ticks and bars) that repeat from page to page."""
    if decimals is None:
        return babel_format_decimal(Decimal(text), locale=locale)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return babel_format_decimal(Decimal(text), pattern, locale=locale)


LABEL_CHAR_PX = 6.2  # average width of a character at the labels' 11 px
MIN_LABEL_CHARS = 8  # below this a shortened label says nothing: slant it instead
SLANTED_LABEL_CHARS = 18


def shorten(text: str, fit: int) -> str:
    """`text` in at most `fit` characters, an ellipsis marking what was cut."""
    return text if len(text) <= fit else text[:max(fit - 1, 1)].rstrip() + "…"


def _bar_label(label: str, x: float, y: float, fit: int, slanted: bool) -> str:
    shown = shorten(label, fit)
    full = f"<title>{escape(label)}</title>" if shown != label else ""
    if slanted:
        return (f'<text x="{x:.1f}" y="{y - 6:.1f}" font-size="11" text-anchor="end" '
                f'transform="rotate(-45 {x:.1f} {y - 6:.1f})">{full}{escape(shown)}</text>')
    return f'<text x="{x:.1f}" y="{y}" font-size="11" text-anchor="middle">{full}{escape(shown)}</text>'


def bar_chart(labels: list[str], values: list[float], *, unit: str = "", title: str = "",
              width: int = 640, height: int = 240, color: str = "#2b6cb0",
              axis_title: str | None = None, locale: str | None = None,
              css_class: str = "", value_decimals: int | None = None) -> Markup:
    """A responsive vertical bar chart; `axis_title` (default: the unit) names the value axis.

    The SVG scales to its box, text included: for a phone draw a narrower one (fewer bars,
    `width` about 360) rather than shrinking a wide one. `value_decimals` fixes the places of
    each bar's own label (2 for money); by default whole numbers stay whole."""
    locale = locale or locale_id()
    axis_title = unit if axis_title is None else axis_title
    data = [v for v in values if v is not None]
    integer = all(float(v).is_integer() for v in data)
    ticks = nice_ticks(min(data + [0]), max(data + [0]), integer=integer)
    places = decimals_of(ticks[1] - ticks[0]) if len(ticks) > 1 else 0
    tick_labels = [format_number(t, places, locale) for t in ticks]
    value_places = value_decimals if value_decimals is not None else (0 if integer else None)
    bottom, top = float(ticks[0]), float(ticks[-1])
    pad_top, pad_bottom, pad_right = 16, 36, 8
    pad_left = 14 + (18 if axis_title else 0) + 7 * max(len(s) for s in tick_labels)
    n = max(len(values), 1)
    step = (width - pad_left - pad_right) / n
    # Bar labels never collide: shortened to the bar's width (the full text stays in a <title>),
    # or, when even that leaves too little, slanted with room made below the plot.
    fit = int(step * 0.95 / LABEL_CHAR_PX)
    slanted = any(len(str(label)) > fit for label in labels) and fit < MIN_LABEL_CHARS
    if slanted:
        fit = SLANTED_LABEL_CHARS
        pad_bottom = 20 + int(SLANTED_LABEL_CHARS * LABEL_CHAR_PX * 0.72)
    plot_h = height - pad_bottom - pad_top
    bar_w = max(step * 0.7, 1)

    def y_of(v: float) -> float:
        return pad_top + plot_h * (top - v) / (top - bottom)

    parts = [f'<svg class="{escape(("chart " + css_class).strip())}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet" '
             f'xmlns="http://www.w3.org/2000/svg">']
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for tick, text in zip(ticks, tick_labels):  # horizontal grid with values
        y = y_of(float(tick))
        parts.append(f'<line x1="{pad_left}" y1="{y:.1f}" x2="{width - pad_right}" y2="{y:.1f}" '
                     f'stroke="{"#767676" if tick == 0 else "#ddd"}"/>')
        parts.append(f'<text class="tick" x="{pad_left - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{escape(text)}</text>')
    if axis_title:
        mid = pad_top + plot_h / 2
        parts.append(f'<text class="axis-title" x="12" y="{mid:.1f}" font-size="11" '
                     f'text-anchor="middle" transform="rotate(-90 12 {mid:.1f})">'
                     f"{escape(axis_title)}</text>")
    # Every bar keeps its label unless bars are narrower than a line of slanted text.
    every = max(1, math.ceil(14 / step)) if slanted else 1
    zero = y_of(0.0)
    for i, (label, value) in enumerate(zip(labels, values)):
        v = float(value or 0)
        y1, y2 = sorted((y_of(v), zero))
        x = pad_left + i * step + (step - bar_w) / 2
        shown = format_number(v, value_places, locale) + (f" {unit}" if unit else "")
        parts.append(f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bar_w:.1f}" height="{y2 - y1:.1f}" '
                     f'fill="{color}"><title>{escape(label)}: {escape(shown)}</title></rect>')
        if i % every == 0:
            parts.append(_bar_label(str(label), x + bar_w / 2, height - pad_bottom + 16, fit, slanted))
    parts.append("</svg>")
    return Markup("".join(parts))
