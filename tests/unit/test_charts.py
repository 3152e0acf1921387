"""The SVG charts (F-10, F-24): round ticks that cover the data, never repeat, and are
written in the page's locale; the unit is the axis title."""
from __future__ import annotations

import random
import re
from decimal import Decimal

import pytest

from app.views.charts import bar_chart, decimals_of, format_number, nice_step, nice_ticks

ROUND = {Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5)}


def _mantissa(step: Decimal) -> Decimal:
    """The step divided by its power of ten: 1, 2, 2.5 or 5 for a round step."""
    sign, digits, exponent = step.normalize().as_tuple()
    return Decimal((0, digits, -(len(digits) - 1)))


def _ranges():
    rng = random.Random(20261202)
    out = [(0, 2), (0, 1), (0, 1926), (0, 10000), (0, 0.37), (5, 5), (0, 0), (-3, 17),
           (0, 999_999_999), (0.001, 0.002), (97, 103), (-250, -10)]
    for _ in range(3000):
        scale = 10 ** rng.randint(-3, 9)
        a = round(rng.uniform(-1, 1) * scale, 4) if rng.random() < 0.2 else round(rng.random() * scale, 4)
        b = round(a + rng.random() * scale * rng.choice((0.001, 0.1, 1, 3)), 4)
        out.append((a, b))
    return out


@pytest.mark.parametrize("integer", [False, True])
def test_F10_ticks_are_round_increasing_and_cover_the_data(integer):
    for low, high in _ranges():
        ticks = nice_ticks(low, high, integer=integer)
        assert len(ticks) >= 2, (low, high)
        assert len(ticks) <= 7, (low, high, ticks)
        steps = {b - a for a, b in zip(ticks, ticks[1:])}
        assert len(steps) == 1, (low, high, ticks)  # evenly spaced, strictly increasing
        [step] = steps
        assert step > 0
        assert _mantissa(step) in ROUND, (low, high, step)
        assert all((t / step) == (t / step).to_integral_value() for t in ticks), (low, high, ticks)
        assert ticks[0] <= Decimal(str(min(low, high))) and ticks[-1] >= Decimal(str(max(low, high)))
        if integer:
            assert step >= 1 and all(t == t.to_integral_value() for t in ticks)
        for locale in ("it", "en"):
            labels = [format_number(t, decimals_of(step), locale) for t in ticks]
            assert len(set(labels)) == len(labels), (low, high, labels)  # never "2, 2, 1, 0, 0"


def test_F10_small_counts_get_whole_ticks_without_repeats():
    svg = str(bar_chart(["a", "b"], [2, 1], locale="it"))
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', svg)
    assert ticks == ["0", "1", "2"]


@pytest.mark.parametrize("raw,step", [(0.3, "0.5"), (1, "1"), (1.01, "2"), (2400, "2500"),
                                      (2600, "5000"), (0.24, "0.5"), (7, "10"), (0.0011, "0.002")])
def test_F10_nice_step(raw, step):
    assert nice_step(raw) == Decimal(step)


def test_F10_axis_numbers_and_title_follow_the_locale():
    italian = str(bar_chart(["ott", "nov"], [1926, 9400], unit="Smc", title="Consumi", locale="it"))
    english = str(bar_chart(["Oct", "Nov"], [1926, 9400], unit="Smc", title="Consumption", locale="en"))
    tick = r'<text class="tick"[^>]*>([^<]*)</text>'
    assert re.findall(tick, italian) == ["0", "2.500", "5.000", "7.500", "10.000"]
    assert re.findall(tick, english) == ["0", "2,500", "5,000", "7,500", "10,000"]
    assert "ott: 1.926 Smc" in italian and "Oct: 1,926 Smc" in english
    # the unit names the axis once; no tick carries it
    assert re.findall(r'<text class="axis-title"[^>]*>([^<]*)</text>', italian) == ["Smc"]
    assert not any("Smc" in t for t in re.findall(tick, italian))


def test_F10_decimal_values_keep_their_decimals_in_the_locale():
    svg = str(bar_chart(["a", "b"], [0.25, 1.75], unit="€", locale="it"))
    assert re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', svg) == ["0,0", "0,5", "1,0", "1,5", "2,0"]
    assert "b: 1,75 €" in svg and "a: 0,25 €" in svg


def test_F24_money_bars_keep_two_places():
    svg = str(bar_chart(["A01"], [1234.5], unit="€", value_decimals=2, locale="it"))
    assert "A01: 1.234,50 €" in svg


def _label_texts(svg: str) -> list[str]:
    import re

    return [re.sub(r"<title>.*?</title>", "", t) for t in
            re.findall(r'<text x="[^"]+" y="[^"]+" font-size="11" text-anchor="(?:middle|end)"[^>]*>(.*?)</text>', svg)]


def test_F24_long_bar_labels_are_shortened_to_their_bar_with_the_full_text_kept():
    from app.views.charts import LABEL_CHAR_PX, bar_chart

    names = [f"Operatore {n} (u-8f5cc85865)" for n in ("Anna", "Bruno", "Carla", "Dario", "Elena")]
    svg = str(bar_chart(names, [5, 4, 3, 2, 1], title="Contatti per operatore", locale="it"))
    shown = _label_texts(svg)
    assert len(shown) == 5 and all(s.endswith("…") for s in shown)
    assert len(set(shown)) == 5  # still told apart
    step = (640 - 40) / 5  # at least the bar's slot once the axis is drawn
    assert all(len(s) * LABEL_CHAR_PX <= step for s in shown)  # no label wider than its bar's slot
    for name in names:
        assert f"<title>{name}</title>" in svg  # the full text is still there


def test_F24_many_long_labels_are_slanted_not_overlapping():
    from app.views.charts import SLANTED_LABEL_CHARS, bar_chart

    labels = [f"Richiesta di tipo numero {i}" for i in range(14)]
    svg = str(bar_chart(labels, list(range(14)), title="t", locale="it"))
    shown = _label_texts(svg)
    assert len(shown) == 14 and 'rotate(-45' in svg
    assert all(len(s) <= SLANTED_LABEL_CHARS for s in shown)


def test_F24_short_labels_are_shown_whole_and_straight():
    from app.views.charts import bar_chart

    svg = str(bar_chart(["gen", "feb", "mar"], [1, 2, 3], title="t", locale="it"))
    assert _label_texts(svg) == ["gen", "feb", "mar"] and "rotate(-45" not in svg
