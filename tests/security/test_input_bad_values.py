"""The bad values the issue found answering 500 now answer 400 or 404 with the area's own page."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.roles import ADMIN

PORTAL = [("/portal/invoices?year=-1", 400), ("/portal/invoices?year=99999999999999999999", 400),
          ("/portal/invoices?year=%D9%A3", 400), ("/portal/invoices?page=99999999999999999999", 400),
          ("/portal/invoices?supply=99999999999999999999999", 404), ("/portal/invoices?supply=3000000000", 404),
          ("/portal/invoices/99999999999999999999999", 404), ("/portal/requests?page=-1", 400),
          ("/portal/login?next=%0a/portal/home", 400)]
BACK_OFFICE = [("/customerview/list/?_oc_CustomerView=nonexistent&_od_CustomerView=asc", 400),
               ("/customerview/list/?page_CustomerView=99999999999999999999", 400),
               ("/auditlogview/list/?page_AuditLogView=abc", 400),
               ("/customerview/list/?psize_CustomerView=99999999999999999999", 400),
               ("/activityview/list/?_flt_9_status=x", 400),
               ("/customerview/show/99999999999999999999999", 404), ("/users/show/99999999999999999999", 404),
               ("/customerview/show/3000000000", 404),  # past PostgreSQL's INTEGER, not a database error
               ("/users/download/x", 404), ("/login/?next=%0a", 400)]


def test_input_bad_values_answer_400_or_404(client, logged_in, app):
    for url, code in PORTAL:
        resp = client.get(url)
        assert resp.status_code == code, url
        html = resp.get_data(as_text=True)
        assert "/portal/information" in html and "Werkzeug" not in html, url  # the portal's page
    from tests.conftest import staff_login

    staff = app.test_client()
    sm = app.appbuilder.sm
    user = sm.add_user("bad-values-admin", "A", "B", "bva@example.com", [sm.find_role(ADMIN)],
                       "tre gatti neri sul tetto di via Roma")
    staff_login(staff, user.username, "tre gatti neri sul tetto di via Roma")
    for url, code in BACK_OFFICE:
        resp = staff.get(url)
        assert resp.status_code == code, url
        html = resp.get_data(as_text=True)
        assert "<title>" in html and "Sportello" in html and "Werkzeug" not in html, url  # the staff page


@pytest.mark.parametrize("value", ["Mario\x00Rossi", "Mario\x07", "Mario\x1bRossi", "Mario\x85"])
def test_input_control_characters_refused_with_a_message(client, db, value):
    from app.models import Activity
    from tests.portal.conftest import post_form

    resp = post_form(client, "/portal/information", {
        "name": value, "question": "Quali sono le tariffe?", "email": "v@example.com",
        "phone": "", "postal_address": "", "website": ""})
    assert resp.status_code == 400
    assert "caratteri di controllo" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 0
    ok = post_form(client, "/portal/information", {
        "name": "Mario Rossi", "question": "Riga uno\r\nRiga due\tfine", "email": "v@example.com",
        "phone": "", "postal_address": "", "website": ""})
    assert ok.status_code == 302  # multi-line text and tabs stay allowed in forms


def test_input_line_breaks_refused_in_single_line_fields(client, db):
    """Tabs, CR and LF are refused in one-line fields with a message; textareas keep them."""
    from app.models import Activity
    from tests.portal.conftest import post_form

    for value in ("Mario\nRossi", "Mario\rRossi", "Mario\tRossi"):
        resp = post_form(client, "/portal/information", {
            "name": value, "question": "Riga uno\r\nRiga due", "email": "v@example.com",
            "phone": "", "postal_address": "", "website": ""})
        assert "una sola riga" in resp.get_data(as_text=True), repr(value)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 0


def test_input_numbers_take_ascii_digits_only(client, db, logged_in, app):
    """A number typed with other scripts' digits ('١٢٥٠' is 1250 to Python) is refused with a
    message, in the portal's forms and in FAB's (WTForms' IntegerField everywhere)."""
    from app.models import MeterReading, ReadingSource
    from tests.portal.conftest import post_form

    sp, meter = logged_in["supply_point"], logged_in["meter"]
    import datetime as dt

    resp = post_form(client, f"/portal/supply/{sp.id}/reading",
                     {"meter": str(meter.id), "reading_date": dt.date.today().isoformat(), "value": "١٢٥٠"})
    assert resp.status_code == 400 and "cifre da 0 a 9" in resp.get_data(as_text=True)
    assert not db.session.scalars(sa.select(MeterReading).where(MeterReading.source == ReadingSource.CUSTOMER)).all()
    from flask_appbuilder.forms import DynamicForm
    from werkzeug.datastructures import MultiDict
    from wtforms import IntegerField

    class Form(DynamicForm):
        amount = IntegerField("n")

    with app.test_request_context():
        form = Form(MultiDict({"amount": "١٢"}), meta={"csrf": False})
        assert not form.validate() and "cifre da 0 a 9" in form.amount.errors[0]
        assert Form(MultiDict({"amount": "12"}), meta={"csrf": False}).validate()
