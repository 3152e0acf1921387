"""F-61 data export: readings and consumption as CSV (Excel in Italian: `;`, BOM, decimal comma,
formulas neutralised) and JSON, invoices as a ZIP holding exactly the chosen PDFs — from the
portal and through the API."""
from __future__ import annotations

import csv
import io
import json
import zipfile

from tests import factories as f
from tests.conftest import csrf_token

from .conftest import bearer, forget_cookies

API = "/api/portal/v1"


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode("utf-8"))  # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_F61_readings_and_consumption_csv_open_with_semicolons(client, db, logged_in):
    sp = logged_in["supply_point"]
    resp = client.get(f"/portal/supply/{sp.id}/export/readings.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = _csv_rows(resp.data)
    assert len(rows) == 1 + 3 and all(len(r) == len(rows[0]) for r in rows)
    assert [r[2] for r in rows[1:]] == ["1200", "1100", "1000"]  # newest first
    series = _csv_rows(client.get(f"/portal/supply/{sp.id}/export/consumption.csv").data)
    assert [r[3] for r in series[1:]] == ["100", "100"]
    daily = series[1][5]
    assert "," in daily and "." not in daily  # decimal comma
    # JSON: the same rows, plain numbers.
    data = json.loads(client.get(f"/portal/supply/{sp.id}/export/readings.json").data)
    assert [r["value"] for r in data["readings"]] == [1200, 1100, 1000]
    # Through the API with a token: the same file.
    from .conftest import make_token

    _t, secret = make_token(logged_in["user"])
    forget_cookies(client)
    api_csv = client.get(f"{API}/supply-points/{sp.id}/readings.csv", headers=bearer(secret))
    assert api_csv.status_code == 200 and _csv_rows(api_csv.data) == rows
    series_json = client.get(f"{API}/supply-points/{sp.id}/consumption", headers=bearer(secret)).json
    assert [p["consumption"] for p in series_json["items"]] == [100, 100]


def test_F61_csv_cells_cannot_run_as_formulas(client, db, logged_in):
    from app.services.portal import exports

    sp = logged_in["supply_point"]
    meter = logged_in["meter"]
    meter.serial = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    rows = _csv_rows(exports.readings_csv(sp))
    assert all(r[1].startswith("'=") for r in rows[1:])


def test_F61_zip_holds_exactly_the_chosen_pdfs(client, db, logged_in):
    c, sp = logged_in["customer"], logged_in["supply_point"]
    chosen = [f.invoice(c, sp), f.invoice(c, sp)]
    other = f.invoice(c, sp)
    stranger = f.invoice(f.customer())
    for inv in chosen + [other]:
        inv.pdf = b"%PDF-1.4 " + inv.number.encode()
    db.session.commit()
    page = client.get("/portal/export")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    resp = client.post("/portal/invoices/zip", data={"csrf_token": csrf_token(html),
                                                     "invoice": [str(i.id) for i in chosen]})
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(resp.data))
    expected = {f"{i.number.replace('/', '-')}.pdf": b"%PDF-1.4 " + i.number.encode() for i in chosen}
    assert {n: archive.read(n) for n in archive.namelist()} == expected
    # Someone else's invoice in the choice: refused, nothing built.
    refused = client.post("/portal/invoices/zip", data={"csrf_token": csrf_token(html),
                                                        "invoice": [str(chosen[0].id), str(stranger.id)]})
    assert refused.status_code == 302
    # The API gives the same archive.
    from .conftest import make_token

    _t, secret = make_token(logged_in["user"])
    forget_cookies(client)
    api = client.post(f"{API}/invoices/zip", headers=bearer(secret), json={"invoices": [i.id for i in chosen]})
    assert api.status_code == 200
    assert set(zipfile.ZipFile(io.BytesIO(api.data)).namelist()) == set(expected)
    assert client.post(f"{API}/invoices/zip", headers=bearer(secret),
                       json={"invoices": [stranger.id]}).status_code == 404
