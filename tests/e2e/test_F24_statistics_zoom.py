"""F-24 statistics at 200 % zoom (a 1280 px screen zoomed twice: 640 CSS px at device scale 2):
the page does not scroll sideways, every chart fits its box, bar labels do not collide and stay
readable."""
import datetime as dt
import math

import pytest

from app.models import Activity, ActivityKind, ActivityStatus, Channel, ContactKind
from app.roles import BACK_OFFICE, MANAGER
from app.services.crm.contacts import create_contact
from tests.e2e.browsing import shot, sideways_overflow, staff_sign_in

pytestmark = pytest.mark.browser

# For every chart: its box, its rendered width, and every bar label's box, angle and font size
# in CSS pixels.
CHARTS_JS = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.parentElement.getBoundingClientRect();
  const r = svg.getBoundingClientRect();
  const scale = svg.getScreenCTM().a;
  const labels = [...svg.querySelectorAll('text:not(.tick):not(.axis-title)')]
    .filter(t => t.closest('g.value') === null && !t.classList.contains('value'))
    .map(t => {
      const b = t.getBoundingClientRect();
      const m = /rotate\\((-?[\\d.]+)/.exec(t.getAttribute('transform') || '');
      return {text: t.textContent, left: b.left, right: b.right, top: b.top, bottom: b.bottom,
              x: parseFloat(t.getAttribute('x')) * scale, angle: m ? parseFloat(m[1]) : 0,
              size: parseFloat(t.getAttribute('font-size')) * scale};
    });
  return {left: r.left, right: r.right, boxLeft: box.left, boxRight: box.right, labels};
})"""


def _overlap(a, b) -> bool:
    return a["left"] < b["right"] - 0.5 and b["left"] < a["right"] - 0.5 and \
        a["top"] < b["bottom"] - 0.5 and b["top"] < a["bottom"] - 0.5


def _seed(db, make_user):
    operators = [make_user(BACK_OFFICE)[0] for _ in range(9)]
    kinds = list(ActivityKind)
    start = dt.datetime(2026, 1, 10, 10)
    for i in range(80):
        db.session.add(Activity(kind=kinds[i % len(kinds)], channel=list(Channel)[i % len(Channel)],
                                status=list(ActivityStatus)[i % len(ActivityStatus)],
                                created_at=start + dt.timedelta(days=4 * i),
                                assignee_id=operators[i % len(operators)].id, subject=f"r{i}"))
    db.session.commit()
    for i, kind in enumerate(list(ContactKind) * 3):
        create_contact(kind, operators[i % len(operators)], customer_id=None, subject="c",
                       starts_at=dt.datetime(2026, 10, 5, 10) + dt.timedelta(days=i))


@pytest.mark.parametrize("lang", ["it", "en"])
def test_F24_statistics_readable_at_200_percent_zoom(live_server, chromium, make_user, db, lang):
    _seed(db, make_user)
    manager, password = make_user(MANAGER)
    context = chromium.new_context(locale="it-IT" if lang == "it" else "en-GB",
                                   viewport={"width": 640, "height": 900}, device_scale_factor=2)
    page = context.new_page()
    try:
        staff_sign_in(page, live_server, manager, password)
        page.goto(f"{live_server}/lang/{lang}")
        page.goto(f"{live_server}/statistics/?date_from=2026-01-01&date_to=2026-12-31")
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("h1").count() == 1
        charts = page.evaluate(CHARTS_JS)
        shot(page, f"statistics-zoom-200-{lang}")
        assert len(charts) >= 6, len(charts)  # requests by kind, status, channel, operator, month; contacts
        assert sideways_overflow(page) == 0
        for chart in charts:
            assert chart["left"] >= chart["boxLeft"] - 1 and chart["right"] <= chart["boxRight"] + 1, chart
            labels = chart["labels"]
            assert labels, chart
            for label in labels:
                assert label["size"] >= 9, label  # 11 units of the chart, scaled to its box
            for a, b in zip(labels, labels[1:]):
                if a["angle"] == 0 and b["angle"] == 0:
                    assert not _overlap(a, b), (a, b)
                else:  # parallel slanted lines: their distance holds one line of text
                    gap = abs(b["x"] - a["x"]) * math.sin(math.radians(abs(a["angle"])))
                    assert gap >= a["size"] * 0.9, (a, b, gap)
    finally:
        context.close()
