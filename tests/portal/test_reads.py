"""The prebuilt reads (`app.services.core.reads.run`) run on the driver's cursor: they must give
what SQLAlchemy's own execution gives, to the row and the type, on both engines."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound

from app.models import Invoice, InvoiceEmailLog
from app.models.invoice import DeliveryMode, SendOutcome
from app.services.core import reads
from app.services.portal import invoice_delivery, invoices, overview, readings, requests
from tests.portal.conftest import make_account, portal_login
from tests.portal.test_statement_budget import _customer_with


def _as_sqlalchemy_gives(conn, statement, params):
    return [(tuple(row), row._fields) for row in conn.execute(statement, params).all()]


@pytest.fixture
def compared(monkeypatch):
    """Every prebuilt read the pages run, checked against SQLAlchemy's rows; the statements seen."""
    seen = []
    execute = reads._Prepared.execute

    def checked(self, conn, params):
        rows = execute(self, conn, params)
        assert [(tuple(r), r._fields) for r in rows] == _as_sqlalchemy_gives(conn, self.statement, params)
        assert [[type(v) for v in r] for r in rows] == [[type(v) for v in r] for r in conn.execute(
            self.statement, params).all()]
        seen.append((self.statement, len(rows)))
        return rows

    monkeypatch.setattr(reads._Prepared, "execute", checked)
    return seen


def test_the_pages_prebuilt_reads_give_sqlalchemys_rows_and_types(app, db, compared):
    c, sps, newest = _customer_with(db, 3)
    db.session.add(InvoiceEmailLog(invoice_id=newest.id, email="a@example.invalid", mode=DeliveryMode.LINK,
                                   outcome=SendOutcome.SENT, sent_at=dt.datetime(2026, 10, 1, 8, 30)))
    db.session.commit()
    user = make_account(db, app, c)
    browser = app.test_client()
    assert portal_login(browser, user.username).status_code == 302
    for url in ("/portal/home", "/portal/invoices", f"/portal/invoices?supply={sps[0].id}&year=2026",
                f"/portal/invoices/{newest.id}", f"/portal/supply/{sps[-1].id}/consumption",
                "/portal/requests", f"/portal/supply/{sps[-1].id}/invoice-email"):
        assert browser.get(url).status_code == 200, url
    statements = {id(s) for s, _ in compared}
    expected = {overview._SUMMARIES, overview._OVERVIEW,
                invoices._SUPPLY_OPTIONS, invoices._PAYMENTS, invoices._DETAIL,
                invoices._INVOICE_PAYMENTS, invoice_delivery._SEND_LOGS, requests._MY_REQUESTS,
                readings._HISTORY, readings._METERED_SUPPLY}
    assert {id(s) for s in expected} <= statements
    assert all(n for s, n in compared if s in (overview._SUMMARIES, invoices._DETAIL,
                                                   invoice_delivery._SEND_LOGS, readings._HISTORY))


def test_lists_of_any_length_and_an_empty_one(app, db):
    c, sps, _ = _customer_with(db, 3)
    paid = sorted(i.id for i in db.session.scalars(sa.select(Invoice).where(Invoice.customer_id == c.id))
                  if i.payments)
    assert len(paid) == 3  # one paid invoice per supply point
    conn = db.session.connection()
    for chosen in (paid, paid[:1], paid[:2], []):
        rows = reads.run(invoices._PAYMENTS, {"ids": chosen})
        assert [tuple(r) for r in rows] == [tuple(r) for r in conn.execute(invoices._PAYMENTS, {"ids": chosen})]
        assert {r.invoice_id for r in rows} == set(chosen)


def test_values_come_converted_by_their_types(app, db):
    c, sps, newest = _customer_with(db, 1)
    row = reads.run(invoices._DETAIL, {"id": newest.id, "customer_id": c.id}).first()
    detail = db.session.get(Invoice, newest.id)
    assert row.id == newest.id and row.number == detail.number
    assert isinstance(row.invoice_date, dt.date) and row.invoice_date == detail.invoice_date
    assert isinstance(row.amount, Decimal) and row.status is detail.status


def test_rows_answer_as_sqlalchemys_results_do(app, db):
    c, sps, _ = _customer_with(db, 2)
    none = reads.run(invoices._SUPPLY_OPTIONS, {"customer_id": -1})
    assert none.all() == [] and none.first() is None and none.scalar() is None and none.one_or_none() is None
    with pytest.raises(NoResultFound):
        none.one()
    two = reads.run(invoices._SUPPLY_OPTIONS, {"customer_id": c.id})
    assert two.scalars() == sorted([sp.id for sp in sps], key=lambda i: next(s.code for s in sps if s.id == i))
    with pytest.raises(MultipleResultsFound):
        two.one()
    sp_id, *_rest = two.first()
    assert sp_id == two.first().id == two.first()[0] == two.scalar()


def test_the_engine_listeners_see_each_read(app, db):
    c, _sps, _ = _customer_with(db, 1)
    customer_id = c.id
    seen = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        reads.run(invoices.BALANCE, {"customer_id": customer_id})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert len(seen) == 1 and "invoices" in seen[0][0]
    assert customer_id in (seen[0][1].values() if isinstance(seen[0][1], dict) else seen[0][1])


def test_a_failing_read_raises_sqlalchemys_error_and_the_session_goes_on(app, db):
    c, _sps, _ = _customer_with(db, 1)
    broken = sa.select(sa.column("x")).select_from(sa.table("no_such_table")).where(
        sa.column("x") == sa.bindparam("x"))
    with pytest.raises(DBAPIError):
        reads.run(broken, {"x": 1})
    db.session.rollback()
    assert reads.run(invoices.BALANCE, {"customer_id": c.id}).scalar() is not None


def test_a_parameter_left_out_is_named_as_sqlalchemy_names_it(app, db):
    _customer_with(db, 1)
    with pytest.raises(sa.exc.StatementError, match="customer_id"):
        reads.run(invoices._SUPPLY_OPTIONS, {})
    db.session.rollback()
