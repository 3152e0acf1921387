"""Page services through NavGateway: paging, filters, change feed, customer bundle."""
from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from app.billing.gateway import (BillingError, CustomerRecord, Entity, FaultKind, InvoiceRecord,
                                 MeterRecord, PaymentRecord, ReadingRecord, SupplyPointRecord)
from app.billing.nav import PAGES
from simulator.schema import ENTITIES

TABLE = {Entity.CUSTOMER: "customer", Entity.SUPPLY_POINT: "supply_point",
         Entity.METER: "meter", Entity.READING: "meter_reading",
         Entity.INVOICE: "sales_invoice", Entity.PAYMENT: "payment"}
CODE = {Entity.CUSTOMER: "code", Entity.SUPPLY_POINT: "code", Entity.METER: "serial",
        Entity.READING: "entry_no", Entity.INVOICE: "number", Entity.PAYMENT: "entry_no"}


def _feed(gw, entity, since=0, page_size=7):
    out, bookmark, pages = [], None, 0
    while True:
        page = gw.read_changes(entity, since, bookmark, page_size)
        pages += 1
        out.extend(page.records)
        assert len(page.records) <= page_size
        if page.bookmark is None:
            return out, pages
        bookmark = page.bookmark


@pytest.mark.parametrize("entity", list(Entity))
def test_paging_returns_every_record_once_in_key_order(gateway, db, entity):
    small = entity in (Entity.CUSTOMER, Entity.SUPPLY_POINT, Entity.METER)
    records, pages = _feed(gateway, entity, 0, page_size=7 if small else 97)
    keys = [getattr(r, CODE[entity]) for r in records]
    assert len(keys) == len(set(keys))
    assert keys == sorted(keys)
    table = TABLE[entity]
    pk = ENTITIES[PAGES[entity]].pk
    assert set(keys) == {r[0] for r in db.execute(f"SELECT {pk} FROM {table}")}
    assert pages > 1


def test_records_map_to_dataclasses(gateway, db):
    cust = _feed(gateway, Entity.CUSTOMER, page_size=50)[0]
    assert all(isinstance(c, CustomerRecord) for c in cust)
    company = next(c for c in cust if c.kind == "company")
    person = next(c for c in cust if c.kind == "person")
    assert company.company_name and company.birth_date is None and company.vat_number
    assert person.company_name == "" and isinstance(person.birth_date, dt.date)
    row = db.execute("SELECT * FROM customer WHERE No = ?", (person.code,)).fetchone()
    assert (person.last_name, person.first_name, person.tax_code, person.city,
            person.province) == (row["Last_Name"], row["First_Name"], row["Tax_Code"],
                                 row["City"], row["County"])
    assert person.language in ("it", "en") and person.version == row["Row_Version"]
    assert isinstance(person.modified_at, dt.datetime)
    inv = _feed(gateway, Entity.INVOICE, page_size=200)[0]
    assert all(isinstance(i, InvoiceRecord) for i in inv)
    for i in inv:
        assert isinstance(i.amount, Decimal) and i.lines
        assert sum(ln.amount for ln in i.lines) == i.amount
    sps = _feed(gateway, Entity.SUPPLY_POINT, page_size=200)[0]
    assert all(isinstance(s, SupplyPointRecord) for s in sps)
    assert any(s.iban and s.payment_method == "sdd" for s in sps)
    assert all(isinstance(m, MeterRecord) for m in _feed(gateway, Entity.METER, 0, 200)[0])
    reads = _feed(gateway, Entity.READING, 0, 500)[0]
    assert all(isinstance(r, ReadingRecord) and isinstance(r.reading_date, dt.date)
               for r in reads)
    pays = _feed(gateway, Entity.PAYMENT, 0, 500)[0]
    assert all(isinstance(p, PaymentRecord) and p.amount > 0 and p.paid_at for p in pays)


def _codes(gw, entity, filters):
    return [getattr(r, CODE[entity]) for r in gw._read_all(entity, filters)]


def test_filters(gateway, db):
    all_c = {r["No"]: r for r in db.execute("SELECT * FROM customer WHERE No LIKE 'C00000%'")}
    nos = sorted(all_c)
    assert _codes(gateway, Entity.CUSTOMER, [("No", nos[3])]) == [nos[3]]
    assert _codes(gateway, Entity.CUSTOMER, [("No", f"{nos[2]}..{nos[5]}")]) == nos[2:6]
    assert _codes(gateway, Entity.CUSTOMER, [("No", f">={nos[-3]}")])[:3] == nos[-3:]
    assert _codes(gateway, Entity.CUSTOMER, [("No", f"<{nos[2]}")]) == nos[:2]
    assert _codes(gateway, Entity.CUSTOMER, [("No", f"<={nos[2]}")]) == nos[:3]
    assert nos[4] not in _codes(gateway, Entity.CUSTOMER, [("No", f"<>{nos[4]}")])
    assert _codes(gateway, Entity.CUSTOMER, [("No", f"{nos[1]}|{nos[7]}")]) == [nos[1], nos[7]]
    # prefix (case-sensitive) and case-insensitive contains
    name = all_c[nos[0]]["Name"]
    want = sorted(n for n, r in all_c.items() if r["Name"].startswith(name[:3]))
    assert _codes(gateway, Entity.CUSTOMER, [("Name", name[:3] + "*")])[:len(want)] == want
    city = all_c[nos[0]]["City"]
    frag = city[1:4].upper()
    want = sorted(n for n, r in all_c.items() if frag.lower() in r["City"].lower())
    got = _codes(gateway, Entity.CUSTOMER, [("City", f"@*{frag}*")])
    assert [g for g in got if g in all_c] == want
    # ANDed filters on dates and money
    got = gateway._read_all(Entity.INVOICE, [("Posting_Date", "2026-01-01..2026-06-30"),
                                             ("Amount_Including_VAT", ">100")])
    assert got and all(dt.date(2026, 1, 1) <= i.invoice_date <= dt.date(2026, 6, 30)
                       and i.amount > 100 for i in got)
    n = db.execute("SELECT count(*) FROM sales_invoice WHERE Posting_Date BETWEEN '2026-01-01' "
                   "AND '2026-06-30' AND Amount_Including_VAT > 10000").fetchone()[0]
    assert len(got) == n
    assert all(p.status == "unpaid" for p in
               gateway._read_all(Entity.INVOICE, [("Status", "unpaid")]))


@pytest.mark.parametrize("field,criteria,text", [
    ("Shoe_Size", "42", "Shoe_Size"),
    ("Row_Version", ">abc", "not a valid integer"),
    ("Posting_Date", ">=yesterday", "not a valid date"),
    ("Amount", "@*x*", "Wildcards"),
])
def test_bad_filters_are_soap_faults(gateway, field, criteria, text):
    entity = Entity.PAYMENT
    with pytest.raises(BillingError) as err:
        gateway._read_multiple(entity, [(field, criteria)], None, 10)
    assert err.value.kind is FaultKind.FAULT and err.value.status == 500
    assert text in err.value.message
    assert not err.value.retryable


def test_change_feed_after_touch(gateway, sim):
    watermark = sim.stats()["row_version"]
    for entity in Entity:
        assert gateway.read_changes(entity, watermark, None, 100).records == []
    touched = sim.touch(0.1, seed=3)
    assert touched["row_version"] > watermark
    for entity, table in TABLE.items():
        changed, _ = _feed(gateway, entity, watermark, page_size=5)
        assert all(r.version > watermark for r in changed)
        if entity is Entity.PAYMENT:
            n = touched["payment"] + touched["payment_created"]
            assert touched["payment_created"] <= len(changed) <= n
        else:
            assert len(changed) == touched[table] > 0
    # nothing else came back: a second feed from the new watermark is empty
    top = sim.stats()["row_version"]
    assert all(gateway.read_changes(e, top, None, 50).records == [] for e in Entity)


def test_customer_bundle(gateway, db):
    code = db.execute("SELECT Customer_No FROM supply_point GROUP BY Customer_No "
                      "HAVING count(*) >= 2 LIMIT 1").fetchone()[0]
    b = gateway.read_customer_bundle(code)
    assert b.customer.code == code
    sp_codes = {s.code for s in b.supply_points}
    assert sp_codes == {r[0] for r in db.execute(
        "SELECT No FROM supply_point WHERE Customer_No = ?", (code,))}
    assert {m.supply_point_code for m in b.meters} <= sp_codes
    n_read = db.execute("SELECT count(*) FROM meter_reading WHERE Supply_Point_No IN "
                        "(SELECT No FROM supply_point WHERE Customer_No = ?)", (code,)
                        ).fetchone()[0]
    assert len(b.readings) == n_read
    assert {i.customer_code for i in b.invoices} <= {code}
    assert len(b.invoices) == db.execute("SELECT count(*) FROM sales_invoice WHERE "
                                         "Customer_No = ?", (code,)).fetchone()[0]
    assert len(b.payments) == db.execute("SELECT count(*) FROM payment WHERE Customer_No = ?",
                                         (code,)).fetchone()[0]
    assert gateway.read_customer_bundle("C9999999") is None


def test_concurrent_reads_from_threads(gateway):
    expected = [r.code for r in _feed(gateway, Entity.CUSTOMER, 0, 50)[0]]
    results, errors = [], []

    def work():
        try:
            results.append([r.code for r in _feed(gateway, Entity.CUSTOMER, 0, 4)[0]])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [expected] * 6


def test_current_version_and_until_version(gateway, sim, db):
    top = gateway.current_version()
    assert top == sim.stats()["row_version"]
    assert top == db.execute("SELECT v FROM rv_counter").fetchone()[0]
    everything = [r.code for r in _feed(gateway, Entity.CUSTOMER, 0, 50)[0]]
    window = gateway._read_all(Entity.CUSTOMER, [])
    lo, hi = sorted(c.version for c in window)[5], sorted(c.version for c in window)[15]
    got, bookmark = [], None
    while True:
        page = gateway.read_changes(Entity.CUSTOMER, lo, bookmark, 3, until_version=hi)
        got += page.records
        if page.bookmark is None:
            break
        bookmark = page.bookmark
    assert sorted(c.version for c in got) == sorted(c.version for c in window
                                                     if lo < c.version <= hi)
    assert len(got) == 10 and set(c.code for c in got) <= set(everything)
    sim.touch(0.2, seed=11)
    assert gateway.current_version() > top
    # changes after `top` stay out of a run bounded by `top`
    assert gateway.read_changes(Entity.CUSTOMER, top, None, 100, until_version=top).records == []
    assert gateway.read_changes(Entity.CUSTOMER, top, None, 100).records


def test_a_full_read_pages_by_key_and_a_change_feed_by_version(sim_db, tmp_path):
    """A full read (a Row_Version range from the table's lowest version) walks the key's
    index, one range per page; a change feed (versions above a watermark) uses the version
    index when it likes. Through the version index a full read sorted every row again for each page, which
    made a million-customer alignment wait hours on billing's answers."""
    import shutil

    from simulator import pages
    from simulator.schema import INVOICE, READING
    from simulator.server import SimState

    db_copy = tmp_path / "sim.db"
    shutil.copy(sim_db, db_copy)
    state = SimState(str(db_copy))
    conn = state.pool.get()
    plans = []

    def plan_of(sql):
        if sql.lstrip().upper().startswith("SELECT") and "ORDER BY" in sql:
            plans.append(sql)

    conn.set_trace_callback(plan_of)
    try:
        for e in (INVOICE, READING):
            lowest, highest = conn.execute(f"SELECT min(Row_Version), max(Row_Version) FROM {e.table}").fetchone()
            plans.clear()
            full = pages.read_rows(state, e, [("Row_Version", f"{lowest}..{highest}")], None, 5)
            assert len(full) == 5
            assert "+Row_Version" in plans[-1]
            plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + plans[-1]).fetchall())
            assert "_rv" not in plan and "TEMP B-TREE" not in plan, plan
            plans.clear()
            feed = pages.read_rows(state, e, [("Row_Version", f">{highest - 3}")], None, 5)
            assert 0 < len(feed) <= 3
            assert "+Row_Version" not in plans[-1]  # the planner may take the version index
    finally:
        conn.set_trace_callback(None)
