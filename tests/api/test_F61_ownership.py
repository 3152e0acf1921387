"""F-61 / F-43: customer A's token on customer B's objects answers 404 for every operation of the
OpenAPI document that names an object, and B's data never appear in A's lists."""
from __future__ import annotations

import datetime as dt

from .conftest import bearer, forget_cookies

API = "/api/portal/v1"


def _b_ids(b) -> dict:
    from app.services.portal import zip_exports

    export = zip_exports.request_zip(b["user"], None)  # B's invoice ZIP, prepared in the background
    assert zip_exports.build_due()["built"] == 1
    return {"supply_point_id": b["supply_point"].id, "invoice_id": b["invoice"].id,
            "request_id": b["request"].id, "export_id": export.id}


def _body_for(operation_id: str, b) -> dict | None:
    if operation_id == "submitReading":
        return {"meter_id": b["meter"].id, "reading_date": dt.date.today().isoformat(), "value": 600}
    if operation_id == "zipInvoices":
        return {"invoices": [b["invoice"].id]}
    return None


def test_F61_token_of_customer_a_on_b_objects_is_404_for_every_operation(client, db, two_customers):
    a, b = two_customers["a"], two_customers["b"]
    doc = client.get(f"{API}/openapi.json").json
    forget_cookies(client)
    ids = _b_ids(b)
    tried = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if op["security"] == []:
                continue  # public
            body = _body_for(op["operationId"], b)
            names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            if not names and body is None:
                continue  # nothing of B's to name (the caller's own lists, checked below)
            url = API + path.format(**{n: ids[n] for n in names})
            resp = client.open(url, method=method.upper(), headers=bearer(a["secret"]), json=body)
            assert resp.status_code == 404, (method, url, resp.status_code, resp.get_data(as_text=True)[:300])
            assert resp.mimetype == "application/problem+json"
            tried.append(op["operationId"])
    assert {"getInvoice", "getInvoicePdf", "getSupplyPoint", "listReadings", "submitReading",
            "getConsumption", "getRequest", "zipInvoices", "exportReadingsCsv",
            "exportConsumptionCsv", "getExport", "getExportZip"} <= set(tried)
    # And with B's own token those B objects answer (so the 404 meant "not yours").
    assert client.get(f"{API}/invoices/{b['invoice'].id}", headers=bearer(b["secret"])).status_code == 200
    assert client.get(f"{API}/exports/{ids['export_id']}/zip", headers=bearer(b["secret"])).status_code == 200
    # A's lists hold nothing of B's.
    invoices = client.get(f"{API}/invoices", headers=bearer(a["secret"])).json["items"]
    assert b["invoice"].id not in {i["id"] for i in invoices} and invoices
    sps = client.get(f"{API}/supply-points", headers=bearer(a["secret"])).json["items"]
    assert {s["id"] for s in sps} == {a["supply_point"].id}
    reqs = client.get(f"{API}/requests", headers=bearer(a["secret"])).json["items"]
    assert b["request"].id not in {r["id"] for r in reqs}
    filtered = client.get(f"{API}/invoices?supply_point={b['supply_point'].id}", headers=bearer(a["secret"]))
    assert filtered.status_code == 404
    # Nothing was stored for B by A's attempts.
    from app.models import MeterReading
    import sqlalchemy as sa

    assert db.session.scalar(sa.select(sa.func.count()).select_from(MeterReading)
                             .where(MeterReading.supply_point_id == b["supply_point"].id)) == 1
