"""F-02 self-reading: congruity, corrector, roll-over, plausibility, export to billing."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.models import (Activity, ActivityKind, ActivityStatus, MeterReading, OutboxMessage,
                        ReadingSource, ReadingStatus)
from app.services.core import settings
from tests import factories as f
from tests.portal.conftest import LAST_READING, make_account, portal_login, post_form, received_mail

TODAY = dt.date.today()


def _post(client, sp, meter, value, date=None, corrector=None, confirm=False, rollover=False):
    data = {"meter": str(meter.id), "reading_date": (date or TODAY).isoformat(), "value": str(value)}
    if corrector is not None:
        data["corrector_value"] = str(corrector)
    if confirm:
        data["confirm"] = "y"
    if rollover:
        data["confirm_rollover"] = "y"
    return post_form(client, f"/portal/supply/{sp.id}/reading", data)


def _self_readings(db):
    return list(db.session.scalars(sa.select(MeterReading).where(
        MeterReading.source == ReadingSource.CUSTOMER, MeterReading.activity_id.is_not(None))))


def test_F02_reading_is_stored_with_activity_and_outbox(client, db, logged_in):
    sp, m = logged_in["supply_point"], logged_in["meter"]
    resp = _post(client, sp, m, 1250)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    [r] = _self_readings(db)
    assert (r.value, r.consumption, r.status, r.flagged) == (1250, 50, ReadingStatus.RECEIVED, False)
    activity = db.session.get(Activity, r.activity_id)
    assert activity.kind == ActivityKind.SELF_READING and activity.status == ActivityStatus.NEW
    msg = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.activity_id == activity.id))
    assert msg.operation == "submit_reading" and msg.payload["value"] == 1250
    page = client.get(resp.location).get_data(as_text=True)
    assert "1.250" in page and "Lettura ricevuta" in page


@pytest.mark.parametrize("value,date,message", [
    (1150, None, "inferiore alla precedente"),
    (1250, LAST_READING - dt.timedelta(days=16), "successiva alla lettura precedente"),
    (1250, LAST_READING, "successiva alla lettura precedente"),
    (1250, "tomorrow", "non può essere nel futuro"),
    (123456, None, "ha 5 cifre"),
])
def test_F02_incongruous_readings_are_refused(client, db, logged_in, value, date, message):
    if date == "tomorrow":   # the day after the one the test runs on, not the one it was collected on
        date = dt.date.today() + dt.timedelta(days=1)
    resp = _post(client, logged_in["supply_point"], logged_in["meter"], value, date)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert _self_readings(db) == []


def test_F02_equal_reading_is_accepted_with_a_clear_message(client, db, logged_in):
    resp = _post(client, logged_in["supply_point"], logged_in["meter"], 1200)
    assert resp.status_code == 302
    assert "uguale alla precedente" in client.get(resp.location).get_data(as_text=True)
    assert _self_readings(db)[0].consumption == 0


def test_F02_corrector_reading_required(client, db, customer_graph):
    c = customer_graph["customer"]
    sp = f.supply_point(c, annual_consumption=8000)
    m = f.meter(sp, digits=6, has_corrector=True, corrector_serial="CV1")
    f.reading(sp, m, reading_date=LAST_READING, value=5000, corrector_value=5150)
    db.session.commit()
    user = make_account(db, None, c)
    portal_login(client, user.username)
    missing = _post(client, sp, m, 5100)
    assert missing.status_code == 400 and "correttore volumetrico" in missing.get_data(as_text=True)
    lower = _post(client, sp, m, 5100, corrector=5100)
    assert lower.status_code == 400 and "correttore è inferiore" in lower.get_data(as_text=True)
    ok = _post(client, sp, m, 5100, corrector=5253)
    assert ok.status_code == 302
    assert _self_readings(db)[0].corrector_value == 5253


def test_F02_meter_roll_over_is_handled(client, db, customer_graph):
    c = customer_graph["customer"]
    sp = f.supply_point(c, annual_consumption=1200)
    m = f.meter(sp, digits=4)
    f.reading(sp, m, reading_date=LAST_READING - dt.timedelta(days=30), value=9800, consumption=100)
    f.reading(sp, m, reading_date=LAST_READING, value=9950, consumption=150)
    db.session.commit()
    user = make_account(db, None, c)
    portal_login(client, user.username)
    offered = _post(client, sp, m, 40)
    assert offered.status_code == 400
    assert "passato lo zero: conferma" in offered.get_data(as_text=True)
    assert _self_readings(db) == []
    resp = _post(client, sp, m, 40, rollover=True)
    assert resp.status_code == 302
    assert "superato lo zero" in client.get(resp.location).get_data(as_text=True)
    assert _self_readings(db)[0].consumption == 90  # 9950 -> 9999 -> 0 -> 40


def test_F02_implausible_consumption_needs_confirmation_and_is_flagged(client, db, logged_in):
    settings.update({"consumption plausibility factor": 3})
    sp, m = logged_in["supply_point"], logged_in["meter"]
    first = _post(client, sp, m, 9000)
    assert first.status_code == 400 and "spunta la conferma" in first.get_data(as_text=True)
    assert _self_readings(db) == []
    confirmed = _post(client, sp, m, 9000, confirm=True)
    assert confirmed.status_code == 302
    [r] = _self_readings(db)
    assert r.flagged and r.consumption == 7800
    msg = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.activity_id == r.activity_id))
    assert msg.payload["flagged"] is True


def test_F02_reading_confirmation_and_mail_carry_the_reference(client, db, logged_in, smtp_server):
    sp, m = logged_in["supply_point"], logged_in["meter"]
    resp = _post(client, sp, m, 1250)
    [r] = _self_readings(db)
    reference = db.session.get(Activity, r.activity_id).reference
    page = client.get(resp.location).get_data(as_text=True)
    assert f"Lettura ricevuta: grazie. Numero della richiesta: {reference}." in page
    msg = received_mail(smtp_server, reference)
    assert msg["To"] == logged_in["customer"].email
    assert msg["Subject"] == f"Abbiamo ricevuto la tua richiesta {reference}"
    assert 'abbiamo ricevuto la tua richiesta "Autolettura"' in msg.get_body(("plain",)).get_content()


def test_F02_plausibility_factor_setting_is_used(client, db, logged_in):
    # History: 100 per month; 57 days since the last reading -> about 190 expected.
    settings.update({"consumption plausibility factor": 10})
    resp = _post(client, logged_in["supply_point"], logged_in["meter"], 1200 + 1000, date=TODAY)
    assert resp.status_code == 302  # 1000 < 10 x expected: no confirmation asked


def test_F02_reading_reaches_billing_and_activity_is_executed(client, db, billing_sim, app):
    from app.services.sync.alignment import align
    from app.services.sync.outbox import deliver_due
    from app.models import Customer, Meter, SupplyPoint

    assert align(full=True).status == "ok"
    meter = db.session.scalar(sa.select(Meter).join(SupplyPoint).where(
        Meter.has_corrector.is_(False), Meter.removed_on.is_(None)).order_by(Meter.id))
    sp = meter.supply_point
    customer = db.session.get(Customer, sp.customer_id)
    user = make_account(db, None, customer)
    portal_login(client, user.username)
    from app.services.portal.readings import previous_reading

    prev = previous_reading(meter)
    value = (prev.value + 5) % 10 ** meter.digits
    assert _post(client, sp, meter, value).status_code == 302
    assert deliver_due()["delivered"] >= 1
    assert billing_sim.stats()["applied"].get("SubmitReading") == 1
    [r] = _self_readings(db)
    db.session.refresh(r)
    assert r.billing_entry_no is not None and r.status == ReadingStatus.SENT
    assert db.session.get(Activity, r.activity_id).status == ActivityStatus.EXECUTED
    # Alignment brings billing's copy onto the same row, not a second one.
    assert align().status == "ok"
    assert len(_self_readings(db)) == 1


def test_F02_fixture_readings_keep_their_distance_from_today(customer_graph):
    """The plausibility checks above compare with the time since the last reading: the
    fixture's readings move with today, so those tests never expire."""
    assert (TODAY - customer_graph["reading"].reading_date).days == 57


def test_F02_each_meter_shows_its_own_last_reading_that_counts(client, db, customer_graph):
    c = customer_graph["customer"]
    sp = f.supply_point(c, annual_consumption=1200)
    first, second, unread = f.meter(sp, digits=5), f.meter(sp, digits=5), f.meter(sp, digits=5)
    f.reading(sp, first, reading_date=LAST_READING - dt.timedelta(days=30), value=1111)
    f.reading(sp, first, reading_date=LAST_READING, value=1234)
    f.reading(sp, second, reading_date=LAST_READING - dt.timedelta(days=30), value=4321)
    f.reading(sp, second, reading_date=LAST_READING, value=9876, status=ReadingStatus.REJECTED)
    db.session.commit()
    user = make_account(db, None, c)
    portal_login(client, user.username)
    page = client.get(f"/portal/supply/{sp.id}/reading").get_data(as_text=True)
    rows = {m.serial: page.split(m.serial, 1)[1].split("</tr>", 1)[0] for m in (first, second, unread)}
    assert "1.234" in rows[first.serial] and "1.111" not in rows[first.serial]
    assert "4.321" in rows[second.serial] and "9.876" not in page  # a rejected reading does not count
    assert "1.234" not in rows[unread.serial] and "—" in rows[unread.serial]


def test_F02_a_reading_is_checked_against_its_meters_last_that_counts_and_the_validated_history(db):
    """The base of a new reading is its own meter's latest reading that counts (a received one
    does, a rejected one never); the expected consumption comes from the supply point's
    validated readings of every meter, counted after the first of them."""
    from app.services.portal.readings import check_reading, expected_daily

    customer = f.customer()
    sp = f.supply_point(customer, annual_consumption=3650)
    a, b = f.meter(sp), f.meter(sp)
    f.reading(sp, a, reading_date=dt.date(2026, 7, 1), value=1000, consumption=40)  # before the span
    f.reading(sp, a, reading_date=dt.date(2026, 8, 1), value=1100, consumption=100)
    f.reading(sp, b, reading_date=dt.date(2026, 8, 15), value=300, consumption=62)
    f.reading(sp, a, reading_date=dt.date(2026, 8, 20), value=1120, consumption=20,
              status=ReadingStatus.RECEIVED, source=ReadingSource.CUSTOMER)
    f.reading(sp, a, reading_date=dt.date(2026, 9, 1), value=9000, consumption=7880,
              status=ReadingStatus.REJECTED)
    db.session.commit()

    assert expected_daily(sp) == pytest.approx(162 / 45)  # 1 Jul to 15 Aug, 100 + 62
    check = check_reading(sp, a, dt.date(2026, 9, 10), 1150, None, today=dt.date(2026, 12, 1))
    assert (check.previous.reading_date, check.previous.value) == (dt.date(2026, 8, 20), 1120)
    assert check.expected == int(162 / 45 * 21)  # 21 days since 20 Aug
    assert check.consumption == 30 and not check.implausible
    check = check_reading(sp, b, dt.date(2026, 9, 10), 310, None, today=dt.date(2026, 12, 1))
    assert check.previous.value == 300 and check.consumption == 10

    lone = f.supply_point(customer, annual_consumption=730)
    m = f.meter(lone)
    f.reading(lone, m, reading_date=dt.date(2026, 8, 1), value=500, consumption=None)
    db.session.commit()
    assert expected_daily(lone) == 2  # one validated reading: the annual estimate, per day
    assert check_reading(lone, m, dt.date(2026, 8, 11), 540, None, today=dt.date(2026, 12, 1)).expected == 20
