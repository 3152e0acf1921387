"""F-43 the customers' JSON API: an OpenAPI document that validates, the interactive page served
locally, problem details in the caller's language, paging links, ETags, CORS for listed origins
and token calls only, CSRF for the portal session's unsafe calls, the public operations."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from app.models import Activity, ActivityKind

from .conftest import bearer, forget_cookies

API = "/api/portal/v1"


def test_F43_openapi_document_validates_and_lists_every_operation(client, db):
    from openapi_spec_validator import validate

    resp = client.get(f"{API}/openapi.json")
    assert resp.status_code == 200
    doc = resp.json
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    ids = {op["operationId"] for ops in doc["paths"].values() for op in ops.values()}
    assert {"getStatus", "createInformationRequest", "getProfile", "listSupplyPoints", "listInvoices",
            "getInvoice", "getInvoicePdf", "getBalance", "listReadings", "submitReading", "getConsumption",
            "listRequests", "getRequest", "zipInvoices", "exportReadingsCsv"} <= ids


def test_F43_interactive_page_uses_local_swagger_files(client, db):
    resp = client.get(f"{API}/docs")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in s for s in sources)
    assert all(s.startswith("/") for s in sources), sources  # nothing from another host
    for src in sources:
        assert client.get(src).status_code == 200, src


def test_F43_errors_are_problem_details_in_the_callers_language(client, db):
    en = client.get(f"{API}/me", headers={"Accept-Language": "en"})
    it = client.get(f"{API}/me", headers={"Accept-Language": "it-IT,it;q=0.9"})
    assert en.status_code == it.status_code == 401
    assert en.mimetype == it.mimetype == "application/problem+json"
    assert en.json["status"] == 401 and en.json["detail"] != it.json["detail"]
    missing = client.get(f"{API}/no-such-thing", headers={"Accept-Language": "en"})
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_F43_lists_are_paged_with_links_and_reads_carry_etags(client, db, two_customers):
    from tests import factories as f

    a = two_customers["a"]
    for _ in range(14):
        f.invoice(a["customer"], a["supply_point"])
    db.session.commit()
    forget_cookies(client)
    first = client.get(f"{API}/invoices", headers=bearer(a["secret"]))
    assert first.status_code == 200
    body = first.json
    assert body["total"] == 15 and body["pages"] == 2 and len(body["items"]) == 12
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(body["links"]["next"], headers=bearer(a["secret"]))
    assert second.json["page"] == 2 and len(second.json["items"]) == 3
    # Filters as in the portal.
    paid = client.get(f"{API}/invoices?status=PAID", headers=bearer(a["secret"]))
    assert {i["status"] for i in paid.json["items"]} == {"paid"}
    bad = client.get(f"{API}/invoices?status=nope", headers=bearer(a["secret"]))
    assert bad.status_code == 400 and "status" in bad.json["errors"]
    # ETag: unchanged data answer 304.
    etag = first.headers["ETag"]
    again = client.get(f"{API}/invoices", headers={**bearer(a["secret"]), "If-None-Match": etag})
    assert again.status_code == 304
    assert "no-store" in first.headers["Cache-Control"]


def test_F43_cors_only_for_listed_origins_and_token_calls(client, db, logged_in):
    from app.services.core import settings

    from .conftest import make_token

    settings.update({"api_cors_origins": "https://www.example.it"})
    _t, secret = make_token(logged_in["user"])
    # Session call from a listed origin: no CORS header (same-origin only).
    session_call = client.get(f"{API}/me", headers={"Origin": "https://www.example.it"})
    assert session_call.status_code == 200 and "Access-Control-Allow-Origin" not in session_call.headers
    forget_cookies(client)
    listed = client.get(f"{API}/me", headers={**bearer(secret), "Origin": "https://www.example.it"})
    assert listed.headers["Access-Control-Allow-Origin"] == "https://www.example.it"
    assert "Access-Control-Allow-Credentials" not in listed.headers
    other = client.get(f"{API}/me", headers={**bearer(secret), "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    pre = client.options(f"{API}/me", headers={"Origin": "https://www.example.it",
                                               "Access-Control-Request-Method": "GET",
                                               "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 204 and "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    pre_other = client.options(f"{API}/me", headers={"Origin": "https://evil.example",
                                                     "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in pre_other.headers


def test_F43_portal_session_calls_need_csrf_for_unsafe_methods(client, db, logged_in):
    sp, meter = logged_in["supply_point"], logged_in["meter"]
    assert client.get(f"{API}/me").status_code == 200  # reads with the session
    body = {"meter_id": meter.id, "reading_date": dt.date.today().isoformat(), "value": 1230}
    refused = client.post(f"{API}/supply-points/{sp.id}/readings", json=body)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    from tests.conftest import csrf_token

    token = csrf_token(client.get("/portal/account").get_data(as_text=True))
    done = client.post(f"{API}/supply-points/{sp.id}/readings", json=body, headers={"X-CSRFToken": token})
    assert done.status_code == 201, done.json


def test_F43_public_information_request_with_honeypot_and_rate_limit(client, db):
    body = {"name": "Giulia Verdi", "question": "Do you supply gas in Bergamo?", "email": "giulia@example.com"}
    resp = client.post(f"{API}/information-requests", json=body)
    assert resp.status_code == 201 and resp.json["reference"].startswith("RIC-")
    [activity] = db.session.scalars(sa.select(Activity).where(Activity.kind == ActivityKind.INFORMATION_REQUEST)).all()
    assert activity.contact_email == "giulia@example.com" and activity.customer_id is None
    trap = client.post(f"{API}/information-requests", json={**body, "website": "http://spam"})
    assert trap.status_code == 201 and trap.json["reference"] == ""
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 1
    no_contact = client.post(f"{API}/information-requests", json={"name": "Giulia", "question": "A question here?"})
    assert no_contact.status_code == 422 and no_contact.json["errors"]
    not_json = client.post(f"{API}/information-requests", data="name=x")
    assert not_json.status_code == 415
    statuses = [client.post(f"{API}/information-requests", json=body).status_code for _ in range(5)]
    assert statuses[-1] == 429


def test_F43_service_status_says_whether_billing_answers(client, db, billing_sim):
    resp = client.get(f"{API}/status")
    assert resp.status_code == 200
    assert resp.json["portal"] == "ok" and resp.json["billing"] in ("ok", "unavailable")
    assert set(resp.json) == {"portal", "billing", "data_aligned_at"}


def test_F43_rate_limit_counts_per_token(client, db, two_customers, app):
    a, b = two_customers["a"], two_customers["b"]
    forget_cookies(client)
    limit = app.config["API_RATE_LIMIT"]
    app.config["API_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [client.get(f"{API}/balance", headers=bearer(a["secret"])).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get(f"{API}/balance", headers={**bearer(a["secret"]), "Accept-Language": "en"})
        assert limited.mimetype == "application/problem+json" and "Retry-After" in limited.headers
        # Another customer's token has its own count.
        assert client.get(f"{API}/balance", headers=bearer(b["secret"])).status_code == 200
    finally:
        app.config["API_RATE_LIMIT"] = limit
