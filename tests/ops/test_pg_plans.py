"""On PostgreSQL, the hot statements are served by indexes: the portal's invoice list (filtered,
second page), invoice detail and home page, the call center's search (tax code, name prefix)
and the requests list. Each request's statements are recorded and EXPLAINed with sequential
scans priced out (`enable_seqscan = off`): a sequential scan left in a plan means no index
can serve that statement; the statements the pages live on must use their index by name."""
from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa

from app.roles import CALL_CENTER
from tests import factories as f
from tests.conftest import staff_login
from tests.portal.conftest import make_account, portal_login
from tests.portal.test_statement_budget import _customer_with

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
                                 reason="needs PostgreSQL (TEST_DATABASE_URL)")]

# Tables that grow with the customer base: never read whole by a page.
BIG = {"customers", "supply_points", "meters", "meter_readings", "invoices", "invoice_lines",
       "payments", "activities", "mailing_addresses", "invoice_email_log"}


class Recorder:
    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            self.seen.append((statement, parameters))

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._record)


def _nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def plans(db, statements):
    """(statement, [(node type, relation, index)]) of each statement, sequential scans off."""
    out = []
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET enable_seqscan = off")
        for statement, params in statements:
            cur.execute("EXPLAIN (FORMAT JSON) " + statement, params)
            plan = cur.fetchone()[0]
            plan = plan if isinstance(plan, list) else json.loads(plan)
            out.append((statement, [(n["Node Type"], n.get("Relation Name"), n.get("Index Name"))
                                    for n in _nodes(plan[0]["Plan"])]))
        cur.execute("RESET enable_seqscan")
        raw.rollback()
    finally:
        raw.close()
    return out


def seq_scans(explained):
    return [(stmt, rel) for stmt, nodes in explained for kind, rel, _ in nodes
            if kind == "Seq Scan" and rel in BIG]


def indexes_used(explained):
    return {idx for _, nodes in explained for _, _, idx in nodes if idx}


def _plan_of(explained, fragment: str):
    """The plan nodes of the one statement containing `fragment`."""
    found = [nodes for stmt, nodes in explained if fragment in " ".join(stmt.split())]
    assert len(found) == 1, (fragment, [" ".join(s.split())[:200] for s, _ in explained])
    return found[0]


def uses(nodes, index: str) -> bool:
    return any(idx == index for _, _, idx in nodes)


def _record(client, urls: dict, db) -> dict:
    found = {}
    for name, url in urls.items():
        assert client.get(url).status_code == 200, url  # once to settle the session and caches
        with Recorder(db.engine) as seen:
            assert client.get(url).status_code == 200, url
        found[name] = plans(db, seen)
    return found


def test_portal_hot_statements_use_indexes(app, db):
    c, sps, newest = _customer_with(db, 3)
    for _ in range(25):  # enough for a second page
        f.invoice(c, sps[0])
    db.session.commit()
    user = make_account(db, app, c)
    browser = app.test_client()
    assert portal_login(browser, user.username).status_code == 302
    found = _record(browser, {"home": "/portal/home", "invoices": "/portal/invoices?status=UNPAID&page=2",
                              "invoice": f"/portal/invoices/{newest.id}", "requests": "/portal/requests"}, db)
    assert not [s for e in found.values() for s in seq_scans(e)]
    assert {"ix_invoices_supply_date", "ix_meter_readings_supply_date",
            "ix_activities_customer_created"} <= indexes_used(found["home"])
    page = _plan_of(found["invoices"], "FROM invoices WHERE invoices.customer_id = %(customer_id)s::INTEGER AND invoices.status")
    assert uses(page, "ix_invoices_customer_date")
    assert "ix_payments_invoice_id" in indexes_used(found["invoices"])
    assert {"uq_invoice_lines_invoice_id", "ix_payments_invoice_id"} <= indexes_used(found["invoice"])
    assert "ix_activities_customer_created" in indexes_used(found["requests"])


def test_back_office_hot_statements_use_indexes(app, db, client, login_as):
    customers = [f.customer() for _ in range(5)]
    db.session.commit()
    login_as(CALL_CENTER)
    target = customers[2]
    found = _record(client, {"tax code": f"/callcenter/?q={target.tax_code}&go=0",
                             "name prefix": f"/callcenter/?q={target.last_name[:4]}&go=0",
                             "customer": f"/callcenter/customer/{target.id}",
                             "requests": "/activityview/list/"}, db)
    assert not [s for e in found.values() for s in seq_scans(e)]
    tax = _plan_of(found["tax code"], "WHERE customers.tax_code =")
    assert uses(tax, "ix_customers_tax_code")
    # The name range is read in its ORDER BY order off the index: no sort of every match.
    name = _plan_of(found["name prefix"], "WHERE customers.search_name >=")
    assert uses(name, "ix_customers_search_name_id")
    assert not [n for n in name if n[0] == "Sort"]
    assert "ix_activities_customer_created" in indexes_used(found["customer"])
    listed = _plan_of(found["requests"], "ORDER BY activities.created_at DESC, activities.id DESC")
    assert uses(listed, "ix_activities_created_id")
    assert not [n for n in listed if n[0] == "Sort"]
