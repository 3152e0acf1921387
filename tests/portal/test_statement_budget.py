"""Each main portal page runs a fixed number of SQL statements, whatever the number of supply
points, invoices, readings and requests: no page queries once per row.

The budgets are today's counts. A page enriched later fits its budget or raises it, with the
reason in the commit; a count that differs between a customer with 2 and one with 6 supply
points is a query per row and always fails."""
from __future__ import annotations

import contextlib
import datetime as dt

import sqlalchemy as sa

from app.models import ActivityKind, InvoiceStatus
from app.models.base import utcnow
from app.services.crm.activities import create_activity
from tests import factories as f
from tests.conftest import csrf_token
from tests.portal.conftest import make_account, portal_login

# Every page reads the signed-in user with the settings stamp and the age of the customer's
# copy of billing's data (1 of each count).
BUDGETS = {
    "home": 3,  # + the customer's name with the request counts and the balance, the supply
                # points with their newest invoice and reading, whether each has a meter and
                # where its newest direct debit request stands (one statement)
    "invoices": 5,  # + the list: its supply points (the filter, the chosen one), totals, page, payments
    "invoice": 4,  # + the invoice with its supply point and its lines, its payments, the e-mails sent
    "pdf": 2,  # + the invoice with its stored PDF
    "consumption": 3,  # + the supply point with its meters, its readings
    "reading": 3,  # + the supply point with its meters, every meter's last reading (one for all)
    "requests": 2,  # + the page with its number of requests and which wait for billing
    "account": 5,
    "invoice_email": 5,  # + the supply point, its delivery settings, its latest invoices and what
                         # was e-mailed of them (one statement for all)
}
# A self-reading sent (POST): the user, the supply point with its meters and its customer, the
# meter's last reading with the supply point's history (one statement), the request with its
# first step, the write queued for billing, the reading, and the confirmation e-mail (whether
# its key was queued before, then the message).
READING_SENT = 9


@contextlib.contextmanager
def counted(engine):
    seen: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", _count)


def _customer_with(db, supply_points: int, meters: int = 1):
    """A customer with `supply_points` gas supply points, each with `meters` meters of three
    readings, four invoices (one paid, with its payment) and a request."""
    c = f.customer(synced_at=utcnow())  # a fresh copy: the pages do not ask billing
    sps, newest = [], None
    for _ in range(supply_points):
        sp = f.supply_point(c, annual_consumption=1200)
        for _m in range(meters):
            m = f.meter(sp, digits=5)
            for k in range(3):
                f.reading(sp, m, reading_date=dt.date(2026, 7 + k, 1), value=1000 + 100 * k,
                          consumption=100 if k else None)
        for k in range(4):
            newest = f.invoice(c, sp, invoice_date=dt.date(2026, 6 + k, 15),
                               status=InvoiceStatus.PAID if k == 0 else InvoiceStatus.UNPAID)
            if k == 0:
                f.payment(newest)
        create_activity(ActivityKind.INFORMATION_REQUEST, customer_id=c.id, supply_point_id=sp.id,
                        subject="Quando passa il letturista?")
        sps.append(sp)
    db.session.commit()
    return c, sps, newest


def _pages(sps, newest) -> dict[str, str]:
    return {"home": "/portal/home", "invoices": "/portal/invoices", "invoice": f"/portal/invoices/{newest.id}",
            "consumption": f"/portal/supply/{sps[-1].id}/consumption",
            "reading": f"/portal/supply/{sps[-1].id}/reading",
            "requests": "/portal/requests", "account": "/portal/account",
            "invoice_email": f"/portal/supply/{sps[-1].id}/invoice-email",
            "pdf": f"/portal/invoices/{newest.id}/pdf"}  # the copy stored by the first download


def _counts(app, db, supply_points: int, meters: int = 1) -> dict[str, int]:
    c, sps, newest = _customer_with(db, supply_points, meters)
    user = make_account(db, app, c)
    browser = app.test_client()
    assert portal_login(browser, user.username).status_code == 302
    counts = {}
    for name, url in _pages(sps, newest).items():
        assert browser.get(url).status_code == 200, url  # once to settle the session
        with counted(db.engine) as seen:
            resp = browser.get(url)
        assert resp.status_code == 200, url
        counts[name] = len(seen)
    return counts


def test_portal_pages_run_a_fixed_number_of_statements(app, db):
    few, many = _counts(app, db, 2), _counts(app, db, 6, meters=3)
    assert many == few  # nothing runs once per supply point, meter, invoice, reading or request
    over = {page: (n, BUDGETS[page]) for page, n in few.items() if n > BUDGETS[page]}
    assert not over, f"statements (counted, budget): {over}"


def _reading_sent(app, db, supply_points: int, meters: int = 1) -> list[str]:
    c, sps, _newest = _customer_with(db, supply_points, meters)
    user = make_account(db, app, c)
    browser = app.test_client()
    assert portal_login(browser, user.username).status_code == 302
    sp = sps[-1]
    url = f"/portal/supply/{sp.id}/reading"
    token = csrf_token(browser.get(url).get_data(as_text=True))
    form = {"csrf_token": token, "meter": str(sp.meters[0].id), "reading_date": "2026-10-01",
            "value": "1300"}  # a month after the last reading, a month's consumption
    with counted(db.engine) as seen:
        resp = browser.post(url, data=form)
    assert resp.status_code == 302 and resp.location.endswith(f"/portal/supply/{sp.id}/consumption")
    return seen


def test_sending_a_reading_runs_a_fixed_number_of_statements(app, db):
    few, many = _reading_sent(app, db, 2), _reading_sent(app, db, 6, meters=3)
    assert len(many) == len(few)
    assert len(few) <= READING_SENT, "\n".join(s.split(" FROM ")[0][:90] for s in few)
