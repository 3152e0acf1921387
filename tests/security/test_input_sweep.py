"""Server-side validation: hypothesis throws arbitrary query parameters and form fields at the
portal and the back office; nothing answers 500 (the client re-raises any exception), and no
control character is stored."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import given, settings, strategies as st

from app.roles import ADMIN
from tests.conftest import csrf_token

pytestmark = pytest.mark.sweep

# Values a hostile or careless client sends: text with control characters, huge and negative
# numbers, non-ASCII digits, dates out of range, SQL and path fragments.
NASTY = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from(["", "-1", "0", "99999999999999999999", "٣", "１２", "1e9", "2026-13-45", "\x00",
                     "a\nb", "../../etc/passwd", "' OR 1=1 --", "asc", "desc", "name", "id", "%00"]),
)

PORTAL_PAGES = ["/portal/home", "/portal/invoices", "/portal/requests", "/portal/personal-data",
                "/portal/login", "/portal/information", "/portal/reset"]
PORTAL_KEYS = ["year", "page", "supply", "status", "sort", "dir", "back", "next", "t", "x"]


def _ok(resp) -> None:
    assert resp.status_code < 500, resp.status_code


def test_input_sweep_portal_query_parameters(client, logged_in):
    @settings(max_examples=40)
    @given(path=st.sampled_from(PORTAL_PAGES), params=st.dictionaries(st.sampled_from(PORTAL_KEYS), NASTY, max_size=4))
    def probe(path, params):
        _ok(client.get(path, query_string=params))

    probe()


def test_input_sweep_portal_ids_in_paths(client, logged_in):
    @settings(max_examples=25)
    @given(kind=st.sampled_from(["/portal/invoices/{}", "/portal/supply/{}", "/portal/invoices/{}/pdf"]),
           ident=st.one_of(st.integers(min_value=-5, max_value=10**25).map(str), st.text(max_size=8)))
    def probe(kind, ident):
        _ok(client.get(kind.format(ident)))

    probe()


BACK_OFFICE_VIEWS = ["CustomerView", "ActivityView", "InvoiceView", "AuditLogView", "ContractView"]


def test_input_sweep_back_office_list_parameters(client, login_as):
    login_as(ADMIN)

    @settings(max_examples=40)
    @given(view=st.sampled_from(BACK_OFFICE_VIEWS),
           params=st.dictionaries(st.sampled_from(["page_{}", "psize_{}", "_oc_{}", "_od_{}", "_flt_0_id",
                                                  "_flt_0_name", "_flt_1_created_at", "_flt_2_status"]),
                                  NASTY, max_size=4))
    def probe(view, params):
        query = {key.format(view): value for key, value in params.items()}
        _ok(client.get(f"/{view.lower()}/list/", query_string=query))

    probe()


def test_input_sweep_back_office_ids_and_filters(client, login_as):
    login_as(ADMIN)

    @settings(max_examples=25)
    @given(url=st.sampled_from(["/customerview/show/{}", "/activityview/show/{}", "/users/show/{}",
                                "/users/download/{}", "/statistics/?operator={}", "/statistics/?date_from={}",
                                "/statistics/csv?detail=1&kind={}", "/callcenter/?q={}"]),
           value=NASTY)
    def probe(url, value):
        from urllib.parse import quote

        _ok(client.get(url.format(quote(value, safe=""))))

    probe()


def test_input_sweep_information_form_stores_no_control_characters(client, db):
    from app.extensions import limiter
    from app.models import Activity

    token = csrf_token(client.get("/portal/information").get_data(as_text=True))

    @settings(max_examples=25)
    @given(name=NASTY, question=st.text(min_size=5, max_size=60), phone=NASTY)
    def probe(name, question, phone):
        limiter.reset()
        resp = client.post("/portal/information", data={
            "name": name, "question": question, "email": "v@example.com", "phone": phone,
            "postal_address": "", "website": "", "csrf_token": token})
        _ok(resp)

    probe()
    from app.views.input_guard import has_control_characters

    for a in db.session.scalars(sa.select(Activity)):
        for text in (a.contact_name, a.subject, a.contact_phone):
            assert not has_control_characters(text or "", frozenset("\t\r\n")), text
