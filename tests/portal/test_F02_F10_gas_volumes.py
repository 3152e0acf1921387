"""F-02 / F-10 gas volumes: m³ × C = Smc, the corrector's difference is Smc, roll-over of the
meter and of the corrector offered for confirmation, rejected readings never a base, and the
consumption page with every column, units and a chart in the page's language.

Every figure is computed by hand in the comment next to it."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest
from babel.dates import format_date as babel_format_date
import sqlalchemy as sa

from app.models import OutboxMessage, ReadingSource, ReadingStatus, ReadingType, Service
from tests import factories as f
from tests.portal.conftest import make_account, portal_login, post_form
from tests.portal.test_F02_readings import _post, _self_readings

TODAY = dt.date.today()
C = Decimal("1.019700")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _table(html: str) -> tuple[list[str], list[list[str]]]:
    """Header labels and body cells (as text) of the page's readings table."""
    start = re.search(r'<table class="[^"]*\bdata\b', html)
    assert start, "no readings table on the page"
    table = html[start.start():]
    table = table[:table.index("</table>")]
    heads = [_text(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)]
    body = table[table.index("<tbody>"):]
    rows = [[_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return heads, rows


@pytest.fixture
def customer(client, db):
    """A logged-in customer; the test adds the supply points it needs."""
    c = f.customer()
    db.session.commit()
    holder = {"customer": c}

    def login():
        user = make_account(db, None, c)
        assert portal_login(client, user.username).status_code == 302
    holder["login"] = login
    return holder


def _gas(db, customer, *, coefficient=C, digits=5, corrector=False, corrector_digits=9,
         annual=12000, readings=()):
    sp = f.supply_point(customer["customer"], annual_consumption=annual,
                        conversion_coefficient=coefficient)
    m = f.meter(sp, digits=digits, has_corrector=corrector,
                corrector_serial="CV0001" if corrector else "", corrector_digits=corrector_digits)
    for days_ago, value, corr, kw in readings:
        f.reading(sp, m, reading_date=TODAY - dt.timedelta(days=days_ago), value=value,
                  corrector_value=corr, **kw)
    db.session.commit()
    customer["login"]()
    return sp, m


def test_F02_meter_without_corrector_bills_m3_times_C(client, db, customer):
    sp, m = _gas(db, customer, readings=[(60, 1200, None, {"consumption": None})])
    resp = _post(client, sp, m, 1337)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    [r] = _self_readings(db)
    # 1337 - 1200 = 137 m³; 137 × 1.0197 = 139.6989 -> 140 Smc
    assert (r.value, r.consumption) == (1337, 140)
    page = client.get(resp.location).get_data(as_text=True)
    heads, rows = _table(page)
    assert rows[0][1] == "1.337 m³" and rows[0][3] == "140 Smc"
    assert "1,019700" in _text(page)  # the coefficient the customer can check on the bill


def test_F02_rounding_of_m3_times_C_is_half_up(client, db, customer):
    sp, m = _gas(db, customer, coefficient=Decimal("1.019800"),
                 readings=[(60, 1000, None, {"consumption": None})])
    assert _post(client, sp, m, 1250).status_code == 302
    # 250 m³ × 1.0198 = 254.95 -> 255 Smc (half up)
    assert _self_readings(db)[0].consumption == 255


def test_F02_corrector_difference_is_the_smc_volume(client, db, customer):
    # Billing sets C = 1 where a corrector is fitted; even a stray C is not applied to it.
    sp, m = _gas(db, customer, digits=6, corrector=True, corrector_digits=8,
                 readings=[(60, 5000, 5150, {"consumption": None})])
    resp = _post(client, sp, m, 5100, corrector=5253)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    [r] = _self_readings(db)
    # meter 5100 - 5000 = 100 m³ (not billed); corrector 5253 - 5150 = 103 Smc
    assert (r.value, r.corrector_value, r.consumption) == (5100, 5253, 103)
    msg = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.activity_id == r.activity_id))
    assert (msg.payload["value"], msg.payload["corrector_value"]) == (5100, 5253)
    heads, rows = _table(client.get(resp.location).get_data(as_text=True))
    assert rows[0][1] == "5.100 m³ · correttore 5.253 Smc" and rows[0][3] == "103 Smc"


def test_F02_meter_roll_over_is_offered_for_confirmation(client, db, customer):
    sp, m = _gas(db, customer, digits=4, annual=1200,
                 readings=[(60, 9800, None, {"consumption": 100}), (30, 9950, None, {"consumption": 150})])
    offered = _post(client, sp, m, 40)
    assert offered.status_code == 400
    text = _text(offered.get_data(as_text=True))
    # 9950 -> 9999 -> 0 -> 40 = 90 m³; 90 × 1.0197 = 91.773 -> 92 Smc
    assert "Il contatore ha passato lo zero: conferma" in text and "92 Smc" in text
    assert "Confermo che il contatore ha passato lo zero" in text
    assert _self_readings(db) == []
    confirmed = _post(client, sp, m, 40, rollover=True)
    assert confirmed.status_code == 302
    [r] = _self_readings(db)
    assert r.consumption == 92
    assert r.status == ReadingStatus.RECEIVED and not r.flagged


def test_F02_a_lower_reading_that_cannot_be_a_roll_over_is_refused(client, db, customer):
    sp, m = _gas(db, customer, digits=5, annual=1200,
                 readings=[(60, 1100, None, {"consumption": 100}), (30, 1200, None, {"consumption": 100})])
    resp = _post(client, sp, m, 1150, rollover=True)
    # across zero it would be 1150 + 100000 - 1200 = 99950 m³: no meter does that in a month
    assert resp.status_code == 400
    assert "inferiore alla precedente" in resp.get_data(as_text=True)
    assert _self_readings(db) == []


def test_F02_corrector_roll_over_is_offered_for_confirmation(client, db, customer):
    sp, m = _gas(db, customer, coefficient=Decimal(1), digits=6, corrector=True, corrector_digits=5,
                 annual=12000, readings=[(30, 5000, 99950, {"consumption": None})])
    offered = _post(client, sp, m, 5100, corrector=53)
    assert offered.status_code == 400
    text = _text(offered.get_data(as_text=True))
    # corrector 99950 -> 99999 -> 0 -> 53 = 103 Smc
    assert "La lettura del correttore volumetrico è inferiore alla precedente (99.950" in text
    assert "Il correttore volumetrico ha passato lo zero: conferma" in text and "103 Smc" in text
    assert "Confermo che il correttore volumetrico ha passato lo zero" in text
    assert _self_readings(db) == []
    confirmed = _post(client, sp, m, 5100, corrector=53, rollover=True)
    assert confirmed.status_code == 302
    assert "correttore volumetrico ha superato lo zero" in client.get(confirmed.location).get_data(as_text=True)
    [r] = _self_readings(db)
    assert (r.corrector_value, r.consumption) == (53, 103)


def test_F02_meter_and_corrector_roll_over_together(client, db, customer):
    sp, m = _gas(db, customer, coefficient=Decimal(1), digits=4, corrector=True, corrector_digits=5,
                 readings=[(30, 9950, 99900, {"consumption": None})])
    assert _post(client, sp, m, 30, corrector=80).status_code == 400
    assert _post(client, sp, m, 30, corrector=80, rollover=True).status_code == 302
    # meter 9950 -> 30 = 80 m³; corrector 99900 -> 80 = 180 Smc: the corrector's is billed
    assert _self_readings(db)[0].consumption == 180


def test_F02_rejected_reading_is_never_the_base(client, db, customer):
    sp, m = _gas(db, customer, coefficient=Decimal(1), annual=1200, readings=[
        (60, 1200, None, {"consumption": 100}),
        (20, 1900, None, {"consumption": 700, "status": ReadingStatus.REJECTED,
                          "reading_type": ReadingType.SELF, "source": ReadingSource.CUSTOMER})])
    page = client.get(f"/portal/supply/{sp.id}/reading").get_data(as_text=True)
    heads, rows = _table(page)
    assert "1.200 m³" in rows[0][3] and "1.900" not in page  # the last reading that counts
    # a date before the rejected reading's is fine: only the valid one at 60 days counts
    resp = _post(client, sp, m, 1300, date=TODAY - dt.timedelta(days=30))
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    [r] = _self_readings(db)
    assert r.consumption == 100  # 1300 - 1200, not 1300 - 1900 (refused) nor a roll-over
    heads, rows = _table(client.get(resp.location).get_data(as_text=True))
    by_value = {row[1]: row for row in rows}
    assert by_value["1.900 m³"][3] == "non conteggiato" and by_value["1.900 m³"][5] == "Respinta"
    assert by_value["1.300 m³"][3] == "100 Smc"


def test_F10_reading_after_a_later_rejected_one_is_counted_from_the_last_good_one(client, db, customer):
    sp, m = _gas(db, customer, coefficient=C, readings=[(60, 1200, None, {"consumption": None})])
    assert _post(client, sp, m, 1500, date=TODAY - dt.timedelta(days=30)).status_code == 302
    assert _post(client, sp, m, 1600, date=TODAY - dt.timedelta(days=10)).status_code == 302
    first, second = sorted(_self_readings(db), key=lambda r: r.reading_date)
    assert (first.consumption, second.consumption) == (306, 102)  # 300 × C = 305.91; 100 × C = 101.97
    first.status = ReadingStatus.REJECTED  # billing refused the first one (alignment)
    db.session.commit()
    heads, rows = _table(client.get(f"/portal/supply/{sp.id}/consumption").get_data(as_text=True))
    by_value = {row[1]: row for row in rows}
    # 1600 - 1200 = 400 m³; 400 × 1.0197 = 407.88 -> 408 Smc
    assert by_value["1.600 m³"][3] == "408 Smc"
    assert by_value["1.500 m³"][3] == "non conteggiato"


def test_F10_consumption_page_has_every_brochure_column_with_units(client, db, customer):
    sp, m = _gas(db, customer, readings=[
        (90, 1000, None, {"consumption": None}),
        (60, 1100, None, {"consumption": 102, "reading_type": ReadingType.ESTIMATED}),
        (30, 1300, None, {"consumption": 204})])
    page = client.get(f"/portal/supply/{sp.id}/consumption").get_data(as_text=True)
    heads, rows = _table(page)
    assert heads == ["Data della lettura", "Lettura", "Tipo", "Consumo", "Matricola contatore", "Stato"]
    newest = rows[0]
    assert newest[0] == babel_format_date(TODAY - dt.timedelta(days=30), "medium", locale="it")
    assert newest[1:5] == ["1.300 m³", "Effettiva", "204 Smc", m.serial]
    assert newest[5]  # the reading's state, in words
    assert rows[1][2] == "Stimata" and rows[2][3] == "—"
    # electricity: kWh for the reading and the consumption
    power = f.supply_point(customer["customer"], service=Service.ELECTRICITY, pdr="",
                           pod="IT001E12345678")
    pm = f.meter(power, digits=6)
    f.reading(power, pm, reading_date=TODAY - dt.timedelta(days=30), value=4200, consumption=None)
    f.reading(power, pm, reading_date=TODAY - dt.timedelta(days=5), value=4450, consumption=250)
    db.session.commit()
    heads, rows = _table(client.get(f"/portal/supply/{power.id}/consumption").get_data(as_text=True))
    assert rows[0][1] == "4.450 kWh" and rows[0][3] == "250 kWh"


def _axis(html: str) -> tuple[list[str], list[str]]:
    svg = html[html.index("<svg"):html.index("</svg>")]
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', svg)
    titles = re.findall(r'<text class="axis-title"[^>]*>([^<]*)</text>', svg)
    return ticks, titles


def test_F10_chart_axis_speaks_the_page_language(client, db, customer):
    sp, m = _gas(db, customer, coefficient=Decimal(1), readings=[
        (90, 1000, None, {"consumption": None}),
        (60, 2926, None, {"consumption": 1926}),
        (30, 3926, None, {"consumption": 1000})])
    url = f"/portal/supply/{sp.id}/consumption"
    italian = client.get(url).get_data(as_text=True)
    ticks, titles = _axis(italian)
    assert ticks == ["0", "500", "1.000", "1.500", "2.000"]
    assert titles == ["Smc"]
    assert "1.926 Smc" in italian  # the bar's own label
    assert post_form(client, "/portal/language", {"language": "en", "next": url},
                     page_url=url).status_code == 302
    english = client.get(url).get_data(as_text=True)
    ticks, titles = _axis(english)
    assert ticks == ["0", "500", "1,000", "1,500", "2,000"]
    assert titles == ["Smc"] and "1,926 Smc" in english
    heads, rows = _table(english)
    assert heads[:5] == ["Reading date", "Reading", "Type", "Consumption", "Meter serial"]


def test_F02_C_comes_from_billing_and_billing_counts_the_same_smc(client, db, billing_sim, app):
    import sqlite3

    from app.models import Customer, Meter, SupplyPoint
    from app.services.sync.alignment import align
    from app.services.sync.outbox import deliver_due

    assert align(full=True).status == "ok"
    conn = sqlite3.connect(billing_sim.db_path)
    sim_c = dict(conn.execute("SELECT No, Conversion_Coefficient FROM supply_point").fetchall())
    points = list(db.session.scalars(sa.select(SupplyPoint).where(SupplyPoint.service == Service.GAS)))
    assert points and all(sp.conversion_coefficient == Decimal(sim_c[sp.code]) for sp in points)
    for sp in points:  # C = 1 where a corrector is fitted, a realistic C elsewhere
        if any(m.has_corrector for m in sp.meters):
            assert sp.conversion_coefficient == 1
        else:
            assert Decimal("0.85") < sp.conversion_coefficient < Decimal("1.06")
    meter = db.session.scalar(sa.select(Meter).join(SupplyPoint).where(
        SupplyPoint.service == Service.GAS, SupplyPoint.conversion_coefficient != 1,
        Meter.has_corrector.is_(False), Meter.removed_on.is_(None)).order_by(Meter.id))
    sp = meter.supply_point
    customer = db.session.get(Customer, sp.customer_id)
    user = make_account(db, None, customer)
    portal_login(client, user.username)
    from app.services.portal.readings import previous_reading

    prev = previous_reading(meter)
    value = (prev.value + 137) % 10 ** meter.digits
    resp = _post(client, sp, meter, value, rollover=value < prev.value)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    [r] = _self_readings(db)
    expected = int((137 * sp.conversion_coefficient).quantize(Decimal(1), "ROUND_HALF_UP"))
    assert r.consumption == expected
    assert deliver_due()["delivered"] >= 1
    billed = conn.execute("SELECT Consumption FROM meter_reading WHERE Meter_Serial_No = ? "
                          "ORDER BY Entry_No DESC LIMIT 1", (meter.serial,)).fetchone()[0]
    conn.close()
    assert billed == expected  # billing's Smc equals the portal's
