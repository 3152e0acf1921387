"""F-61 large invoice ZIPs: more than 24 invoices are prepared by the `exports` job, the export
page says so while it is being prepared, the customer gets an e-mail (real SMTP) when it is
ready, and the ZIP opens for its owner only, until it expires."""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import sqlalchemy as sa

from app.models import ExportStatus, InvoiceExport
from app.models.base import utcnow
from tests import factories as f
from tests.conftest import csrf_token

from .conftest import forget_cookies


def _invoices(db, customer, sp, count):
    made = [f.invoice(customer, sp) for _ in range(count)]
    for inv in made:
        inv.pdf = b"%PDF-1.4 " + inv.number.encode()
    db.session.commit()
    return made


def _export_page(client) -> str:
    page = client.get("/portal/export")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_F61_large_zip_is_prepared_by_the_job_and_mailed(client, db, app, logged_in, smtp_server):
    from app.jobs import get_job
    from app.services.mailing.mail import deliver_mail

    c, sp = logged_in["customer"], logged_in["supply_point"]
    chosen = _invoices(db, c, sp, 30)
    html = _export_page(client)
    resp = client.post("/portal/invoices/zip", data={"csrf_token": csrf_token(html),
                                                     "invoice": [str(i.id) for i in chosen]})
    assert resp.status_code == 302  # not built while the customer waits
    html = _export_page(client)
    assert "We are preparing the ZIP of 30 invoices" in html or "Stiamo preparando lo ZIP di 30 bollette" in html
    assert "portal/export/" not in html  # nothing to download yet
    [export] = db.session.scalars(sa.select(InvoiceExport)).all()
    assert export.status == ExportStatus.PENDING and export.total == 30
    # A second large request while the first is waiting is refused.
    again = client.post("/portal/invoices/zip", data={"csrf_token": csrf_token(html), "all": "1"})
    assert again.status_code == 302 and db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceExport)) == 1

    counts = get_job("exports").func()
    assert counts["built"] == 1
    db.session.expire_all()
    assert db.session.get(InvoiceExport, export.id).status == ExportStatus.READY
    # The e-mail, through the mail job's SMTP delivery to the local server.
    deliver_mail()
    [message] = [m for m in smtp_server.messages if "ZIP" in m["Subject"]]
    assert message["To"] == c.email
    body = message.get_body(("plain",)).get_content()
    assert "30" in body and "/portal/export" in body
    # The export page offers the download; the ZIP holds exactly the chosen PDFs.
    html = _export_page(client)
    link = re.search(r'href="(/portal/export/\d+/invoices.zip)"', html).group(1)
    got = client.get(link)
    assert got.status_code == 200 and got.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(got.data))
    assert {n: archive.read(n) for n in archive.namelist()} == \
        {f"{i.number.replace('/', '-')}.pdf": b"%PDF-1.4 " + i.number.encode() for i in chosen}


def test_F61_prepared_zip_only_for_its_owner_and_until_it_expires(client, db, app, two_customers):
    from tests.portal.conftest import portal_login

    from app.services.portal import zip_exports

    a, b = two_customers["a"], two_customers["b"]
    _invoices(db, a["customer"], a["supply_point"], 26)
    export = zip_exports.request_zip(a["user"], None)  # all of A's invoices
    assert zip_exports.build_due()["built"] == 1
    url = f"/portal/export/{export.id}/invoices.zip"
    forget_cookies(client)
    assert portal_login(client, b["user"].username).status_code == 302
    assert client.get(url).status_code == 404  # not B's
    forget_cookies(client)
    assert client.get(url).status_code == 302  # signed out: to the sign-in page
    assert portal_login(client, a["user"].username).status_code == 302
    assert client.get(url).status_code == 200
    # After its days: no longer downloadable, and its content is deleted by the job.
    later = utcnow() + dt.timedelta(days=zip_exports.KEEP_DAYS, minutes=1)
    assert zip_exports.purge_expired(later) == 1
    db.session.expire_all()
    row = db.session.get(InvoiceExport, export.id)
    assert row.status == ExportStatus.EXPIRED and row.content is None
    assert client.get(url).status_code == 404


def test_F61_zip_job_takes_back_a_stopped_build_and_builds_each_export_once(db, app, logged_in):
    from app.services.portal import zip_exports

    c, sp = logged_in["customer"], logged_in["supply_point"]
    _invoices(db, c, sp, 3)
    export = zip_exports.request_zip(logged_in["user"], None)
    # A process took it and stopped long ago: the next run builds it.
    db.session.execute(sa.update(InvoiceExport).values(status=ExportStatus.BUILDING,
                                                       claimed_at=utcnow() - dt.timedelta(hours=2)))
    db.session.commit()
    counts = zip_exports.build_due()
    assert counts["recovered"] == 1 and counts["built"] == 1
    assert zip_exports.build_due()["built"] == 0  # nothing built twice
    db.session.expire_all()
    row = db.session.get(InvoiceExport, export.id)
    assert row.done == row.total == len(zipfile.ZipFile(io.BytesIO(row.content)).namelist()) >= 3


# --- the same through the API -------------------------------------------------------------------

API = "/api/portal/v1"


def test_F61_api_large_zip_answers_202_and_is_prepared_by_the_job(client, db, app, two_customers, smtp_server):
    from app.jobs import get_job
    from app.services.mailing.mail import deliver_mail

    from .conftest import bearer

    a, b = two_customers["a"], two_customers["b"]
    chosen = _invoices(db, a["customer"], a["supply_point"], 30)
    forget_cookies(client)
    token = bearer(a["secret"])
    resp = client.post(f"{API}/invoices/zip", headers=token, json={"invoices": [i.id for i in chosen]})
    assert resp.status_code == 202  # not built while the program waits
    location = resp.headers["Location"]
    assert resp.json["total"] == 30 and resp.json["status"] == "pending" and resp.json["links"]["self"] == location
    status = client.get(location, headers=token)
    assert status.status_code == 200 and status.json["done"] == 0 and "zip" not in status.json["links"]
    # While it is being prepared: the ZIP is not there yet, and a second large request is refused.
    early = client.get(f"{location}/zip", headers=token)
    assert early.status_code == 409 and early.mimetype == "application/problem+json" and early.headers["Retry-After"]
    italian = client.get(f"{location}/zip", headers={**token, "Accept-Language": "it"})
    assert italian.status_code == 409 and "Stiamo ancora preparando lo ZIP (0 di 30 bollette)" in italian.json["detail"]
    again = client.post(f"{API}/invoices/zip", headers=token, json={"all": True})
    assert again.status_code == 409 and again.headers["Location"] == location
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceExport)) == 1

    assert get_job("exports").func()["built"] == 1
    status = client.get(location, headers=token)
    assert status.json["status"] == "ready" and status.json["done"] == status.json["total"] == 30
    assert status.json["ready_at"] and status.json["expires_at"] and status.json["size"] > 0
    got = client.get(status.json["links"]["zip"], headers=token)
    assert got.status_code == 200 and got.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(got.data))
    assert {n: archive.read(n) for n in archive.namelist()} == \
        {f"{i.number.replace('/', '-')}.pdf": b"%PDF-1.4 " + i.number.encode() for i in chosen}
    # The portal's e-mail says it is ready.
    deliver_mail()
    [message] = [m for m in smtp_server.messages if "ZIP" in m["Subject"]]
    assert message["To"] == a["customer"].email and "30" in message.get_body(("plain",)).get_content()
    # Another customer's token: as if it did not exist.
    for url in (location, f"{location}/zip"):
        other = client.get(url, headers=bearer(b["secret"]))
        assert other.status_code == 404 and other.mimetype == "application/problem+json"
    # After its days: gone.
    from app.services.portal import zip_exports

    assert zip_exports.purge_expired(utcnow() + dt.timedelta(days=zip_exports.KEEP_DAYS, minutes=1)) == 1
    gone = client.get(f"{location}/zip", headers=token)
    assert gone.status_code == 410 and gone.mimetype == "application/problem+json"
    assert client.get(location, headers=token).json["status"] == "expired"


def test_F61_api_all_invoices_and_small_choices(client, db, app, two_customers):
    from .conftest import bearer

    a, b = two_customers["a"], two_customers["b"]
    _invoices(db, a["customer"], a["supply_point"], 3)
    forget_cookies(client)
    token = bearer(a["secret"])
    # A few invoices: the ZIP at once, as before.
    small = client.post(f"{API}/invoices/zip", headers=token, json={"invoices": [a["invoice"].id]})
    assert small.status_code == 200 and small.mimetype == "application/zip"
    # Neither a choice nor "all": refused with the field named.
    empty = client.post(f"{API}/invoices/zip", headers=token, json={"all": False})
    assert empty.status_code == 422 and "invoices" in empty.json["errors"]
    # "all": every one of A's invoices, prepared in the background; B's own export is B's.
    every = client.post(f"{API}/invoices/zip", headers=token, json={"all": True})
    assert every.status_code == 202 and every.json["total"] == 4
    theirs = client.post(f"{API}/invoices/zip", headers=bearer(b["secret"]), json={"all": True})
    assert theirs.status_code == 202 and theirs.headers["Location"] != every.headers["Location"]
    assert client.get(theirs.headers["Location"], headers=token).status_code == 404
