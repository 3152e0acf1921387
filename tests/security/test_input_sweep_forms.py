"""Server-side validation of the forms: hypothesis fills the portal's main forms (self-reading,
personal data, mailing address, direct debit, invoice e-mail, account changes) and back-office
forms (a new contact, FAB's add form of an agent) and list parameters with hostile values. Each
answer is below 500; a refused submission answers a page (200 or 400) that says what is wrong and
leaves the database as it was; an accepted one stores no control character."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from hypothesis import given, settings, strategies as st

from app.models import (Activity, Agent, AuditLog, Contact, Customer, DirectDebitMandate,
                        InvoiceDeliveryRecipient, InvoiceDeliverySetting, MailingAddress, MeterReading,
                        OutboxMessage, OutgoingMail, SportelloUser, SupplyPoint)
from app.roles import ADMIN
from app.views.input_guard import has_control_characters
from tests.conftest import csrf_token
from tests.portal.conftest import PASSWORD
from tests.security.test_input_sweep import NASTY

pytestmark = pytest.mark.sweep

# What a refusal shows: a field's error, an error notice, or the error page.
ERROR_MARKS = ('aria-invalid="true"', "error-summary", "flash-error", 'class="error-code"', "has-error",
               "alert-danger", "invalid-feedback", 'class="col-md-8 staff-error"')
WATCHED = (Activity, Agent, AuditLog, Contact, Customer, DirectDebitMandate, InvoiceDeliveryRecipient,
           InvoiceDeliverySetting, MailingAddress, MeterReading, OutboxMessage, OutgoingMail, SportelloUser,
           SupplyPoint)
TEXT_ALLOWED = frozenset("\t\r\n")  # multi-line fields keep their line breaks


def _state(db) -> dict:
    """Every row of the tables a form may write, as plain values."""
    db.session.expire_all()
    return {m.__tablename__: sorted(map(repr, db.session.execute(sa.select(m.__table__)).all())) for m in WATCHED}


def _stored_text(db) -> list[str]:
    return [value for m in WATCHED for row in db.session.execute(sa.select(m.__table__)).all()
            for value in row if isinstance(value, str)]


def _check(db, before: dict, resp) -> None:
    """Below 500; refused: a page with the reason and nothing stored; accepted: nothing unclean."""
    assert resp.status_code < 500, resp.status_code
    if resp.status_code in (302, 303):
        assert [t for t in _stored_text(db) if has_control_characters(t, TEXT_ALLOWED)] == []
        return
    assert resp.status_code in (200, 400, 404), resp.status_code
    if resp.status_code != 404:
        html = resp.get_data(as_text=True)
        assert any(mark in html for mark in ERROR_MARKS), html[:1500]
    assert _state(db) == before


def _sweep(client, db, url: str, token_field: str = "csrf_token"):
    """A probe posting `fields` to `url` with the page's CSRF token, checked by _check."""
    from app.extensions import limiter

    token = csrf_token(client.get(url).get_data(as_text=True))

    def post(fields: dict):
        limiter.reset()  # the limits are not what is under test here
        before = _state(db)
        resp = client.post(url, data={**fields, token_field: token})
        _check(db, before, resp)
        return resp

    return post


def _fuzzed(valid: dict, names) -> st.SearchStrategy:
    """`valid` with one to three of the fields `names` replaced by hostile values."""
    return st.dictionaries(st.sampled_from(list(names)), NASTY, min_size=1, max_size=3) \
        .map(lambda bad: {**valid, **bad})


DATES = st.one_of(NASTY, st.dates(min_value=dt.date(1, 1, 1)).map(str))


def test_input_sweep_self_reading_form(client, db, logged_in):
    sp, meter = logged_in["supply_point"], logged_in["meter"]
    post = _sweep(client, db, f"/portal/supply/{sp.id}/reading")

    @settings(max_examples=40)
    @given(meter_id=st.one_of(st.just(str(meter.id)), NASTY), date=DATES,
           value=st.one_of(NASTY, st.integers(min_value=-10, max_value=10**7).map(str)), corrector=NASTY)
    def probe(meter_id, date, value, corrector):
        post({"meter": meter_id, "reading_date": date, "value": value, "corrector_value": corrector})

    probe()


def test_input_sweep_personal_data_form(client, db, logged_in):
    c = logged_in["customer"]
    valid = {"last_name": c.last_name, "first_name": c.first_name, "company_name": "", "tax_code": c.tax_code,
             "vat_number": "", "birth_date": "", "address": c.address, "post_code": c.post_code, "city": c.city,
             "province": c.province, "phone": c.phone, "email": c.email, "current_password": PASSWORD}
    post = _sweep(client, db, "/portal/personal-data")

    @settings(max_examples=40)
    @given(fields=_fuzzed(valid, [k for k in valid if k != "current_password"]))
    def probe(fields):
        post(fields)

    probe()


def test_input_sweep_mailing_address_form(client, db, logged_in):
    sp = logged_in["supply_point"]
    valid = {"name": "Mario Rossi", "address": "Via Milano 3", "post_code": "20100", "city": "Milano",
             "province": "MI"}
    post = _sweep(client, db, f"/portal/supply/{sp.id}/mailing-address")

    @settings(max_examples=40)
    @given(fields=_fuzzed(valid, valid))
    def probe(fields):
        post(fields)

    probe()


def test_input_sweep_direct_debit_form(client, db, logged_in):
    sp = logged_in["supply_point"]
    valid = {"iban": "IT60X0542811101000000123456", "holder_last_name": "Rossi", "holder_first_name": "Mario",
             "holder_tax_code": "", "bank": "Banca", "branch": "", "branch_address": "", "accept": "y",
             "current_password": PASSWORD}
    post = _sweep(client, db, f"/portal/supply/{sp.id}/direct-debit")

    @settings(max_examples=40)
    @given(fields=_fuzzed(valid, [k for k in valid if k != "current_password"]))
    def probe(fields):
        post(fields)

    probe()


def test_input_sweep_invoice_email_form(client, db, logged_in):
    sp = logged_in["supply_point"]
    addresses = st.one_of(NASTY, st.lists(st.emails(), max_size=6).map("\n".join))
    post = _sweep(client, db, f"/portal/supply/{sp.id}/invoice-email")

    @settings(max_examples=40)
    @given(enabled=st.sampled_from(["y", "", "x"]), mode=st.one_of(st.sampled_from(["link", "attachment"]), NASTY),
           addresses=addresses)
    def probe(enabled, mode, addresses):
        post({"enabled": enabled, "mode": mode, "addresses": addresses})

    probe()


def test_input_sweep_account_change_forms(client, db, logged_in):
    current = {"password": PASSWORD}
    tokens = {}

    @settings(max_examples=40)
    @given(what=st.sampled_from(["password", "username", "question"]), first=NASTY, second=NASTY,
           same=st.booleans())
    def probe(what, first, second, same):
        from app.extensions import limiter

        limiter.reset()
        prefix = {"password": "pw", "username": "un", "question": "sq"}[what]
        if "token" not in tokens:
            tokens["token"] = csrf_token(client.get("/portal/account").get_data(as_text=True))
        fields = {"password": {"password": first, "password_confirm": first if same else second},
                  "username": {"username": first},
                  "question": {"question": first, "answer": second}}[what]
        data = {f"{prefix}-{k}": v for k, v in fields.items()}
        data.update({f"{prefix}-current_password": current["password"], f"{prefix}-csrf_token": tokens["token"]})
        before = _state(db)
        resp = client.post(f"/portal/account/{what}", data=data)
        _check(db, before, resp)
        if resp.status_code == 302 and what == "password":
            current["password"] = first

    probe()


def test_input_sweep_back_office_new_contact_form(client, db, login_as):
    login_as(ADMIN)
    valid = {"kind": "phone_call", "customer": "", "subject": "A call", "notes": "", "starts_at": "",
             "ends_at": "", "location": ""}
    post = _sweep(client, db, "/contactview/file")

    @settings(max_examples=40)
    @given(fields=_fuzzed(valid, valid))
    def probe(fields):
        post(fields)

    probe()


def test_input_sweep_back_office_fab_add_form(client, db, login_as):
    login_as(ADMIN)
    counter = iter(range(10**6))
    post = _sweep(client, db, "/agentview/add")

    @settings(max_examples=40)
    @given(fields=_fuzzed({"code": "AG", "name": "Paolo Russo", "email": "p@example.com", "phone": "3331234567",
                           "active": "y"}, ["code", "name", "email", "phone", "user", "manager"]))
    def probe(fields):
        if fields["code"] == "AG":
            fields = {**fields, "code": f"AG{next(counter)}"}  # a new code each time, not a duplicate
        post(fields)

    probe()


def test_input_sweep_back_office_list_filter_sort_page(client, db, login_as):
    login_as(ADMIN)

    @settings(max_examples=40)
    @given(view=st.sampled_from(["customerview", "activityview", "contactview", "agentview"]),
           params=st.dictionaries(st.sampled_from(["page_{}", "psize_{}", "_oc_{}", "_od_{}", "_flt_0_code",
                                                  "_flt_0_name", "_flt_3_kind", "_flt_1_starts_at", "q"]),
                                  NASTY, min_size=1, max_size=4))
    def probe(view, params):
        views = {"customerview": "CustomerView", "activityview": "ActivityView", "contactview": "ContactView",
                 "agentview": "AgentView"}
        query = {key.format(views[view]): value for key, value in params.items()}
        before = _state(db)
        resp = client.get(f"/{view}/list/", query_string=query)
        assert resp.status_code in (200, 400, 404), resp.status_code
        if resp.status_code == 400:
            assert any(mark in resp.get_data(as_text=True) for mark in ERROR_MARKS + ("400",))
        assert _state(db) == before  # a list never writes

    probe()
