"""What a bulk alignment leaves the database engine: fresh planner statistics (ANALYZE), and
the pooled connections' liveness check that replaced a ping on every checkout."""
from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

from app.services.sync.alignment import align

ON_PG = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
postgres_only = pytest.mark.skipif(not ON_PG, reason="needs PostgreSQL (TEST_DATABASE_URL)")
sqlite_only = pytest.mark.skipif(ON_PG, reason="the SQLite statistics table")


@sqlite_only
def test_full_alignment_leaves_sqlite_statistics(billing_sim, db):
    with db.engine.begin() as conn:
        if conn.execute(sa.text("select 1 from sqlite_master where name = 'sqlite_stat1'")).first():
            conn.execute(sa.text("delete from sqlite_stat1"))
    run = align(full=True)
    assert run.status == "ok", run.error
    analyzed = {r[0] for r in db.session.execute(sa.text("select distinct tbl from sqlite_stat1"))}
    assert {"customers", "supply_points", "meters", "meter_readings", "invoices", "invoice_lines",
            "payments"} <= analyzed


@sqlite_only
def test_small_incremental_alignment_leaves_statistics_alone(billing_sim, db, app):
    assert align(full=True).status == "ok"
    db.session.execute(sa.text("delete from sqlite_stat1"))
    db.session.commit()
    billing_sim.touch(0.05, seed=3)
    run = align()
    assert run.status == "ok" and sum(run.counts.values()) > 0
    assert db.session.scalar(sa.text("select count(*) from sqlite_stat1")) == 0
    # ... unless it read at least the configured number of records.
    billing_sim.touch(0.05, seed=4)
    app.config["ALIGNMENT_ANALYZE_MIN_RECORDS"] = 1
    try:
        assert align().status == "ok"
    finally:
        app.config["ALIGNMENT_ANALYZE_MIN_RECORDS"] = 10000
    assert db.session.scalar(sa.text("select count(*) from sqlite_stat1")) > 0


@pytest.mark.postgres
@postgres_only
def test_full_alignment_analyzes_the_aligned_tables_on_postgres(billing_sim, db):
    started = db.session.scalar(sa.text("select now()"))
    db.session.commit()
    run = align(full=True)
    assert run.status == "ok", run.error
    customers = db.session.scalar(sa.text("select count(*) from customers"))
    assert customers > 0
    rows = db.session.execute(sa.text(
        "select relname, last_analyze from pg_stat_user_tables where relname in "
        "('customers', 'supply_points', 'meters', 'meter_readings', 'invoices', 'invoice_lines', 'payments')")).all()
    assert len(rows) == 7
    assert all(last is not None and last >= started for _, last in rows), rows
    # The planner's row count is the aligned one, not an estimate from the table's size.
    assert db.session.scalar(sa.text("select reltuples from pg_class where relname = 'customers'")) == customers


def _foreign_keys(db) -> set[tuple[str, str, str]]:
    return set(db.session.execute(sa.text(
        "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint "
        "where contype = 'f' and connamespace = 'public'::regnamespace")).all())


@pytest.mark.postgres
@postgres_only
def test_a_first_full_alignment_checks_foreign_keys_after_the_load(billing_sim, db):
    """Into empty tables the aligned tables' foreign keys are dropped for the load (fewer
    checks per row) and come back exactly as they were; a later full alignment keeps them."""
    from app.services.sync import alignment

    before = _foreign_keys(db)
    assert ("invoice_lines", "fk_invoice_lines_invoice_id_invoices",
            "FOREIGN KEY (invoice_id) REFERENCES invoices(id) ON DELETE CASCADE") in before
    during = []
    alignment.on_supply_points("test-foreign-keys", lambda records: during.append(len(_foreign_keys(db))))
    try:
        assert align(full=True).status == "ok"
        assert during and max(during) < len(before)
        assert _foreign_keys(db) == before
        assert db.session.scalar(sa.text("select count(*) from invoice_lines")) > 0
        during.clear()
        billing_sim.touch(0.5, seed=5)  # supply points among the changes: the hook runs
        assert align(full=True).status == "ok"  # tables not empty: the keys stay
        assert during and min(during) == len(before)
    finally:
        alignment.SUPPLY_POINT_HOOKS.pop("test-foreign-keys", None)
    assert _foreign_keys(db) == before
    orphan = db.session.scalar(sa.text("select max(id) + 1000 from invoices"))
    with pytest.raises(sa.exc.IntegrityError):  # and they hold
        db.session.execute(sa.text("insert into invoice_lines (invoice_id, line_no, description, quantity, "
                                   "unit_price, amount, vat_percent) values (:i, 1, 'x', 1, 1, 1, 22)"),
                           {"i": orphan})
    db.session.rollback()


@pytest.mark.postgres
@postgres_only
def test_a_first_full_alignment_that_fails_still_gets_its_foreign_keys_back(billing_sim, db):
    before = _foreign_keys(db)
    billing_sim.control("http500", service="SalesInvoice")
    try:
        run = align(full=True)
    finally:
        billing_sim.clear()
    assert run.status == "failed"
    assert run.counts.get("reading", 0) > 0  # the load had begun
    assert _foreign_keys(db) == before


def _reading_pages(db) -> dict[int, int]:
    """Each reading's id and the heap page (block) its current version is on."""
    return dict(db.session.execute(sa.text(
        "select id, (ctid::text::point)[0]::int from meter_readings")).all())


@pytest.mark.postgres
@postgres_only
def test_an_aligned_change_stays_on_its_page_on_postgres(billing_sim, db):
    """The aligned tables keep room on each page (fillfactor 90, from the models and the
    migration), so billing's change of a row is written beside it, without new index entries:
    a reading changed on each full page of the table, through the alignment's update, stays on
    its page (filled to the brim, every one would move)."""
    import dataclasses

    from app.billing.gateway import Entity
    from app.models.base import ALIGNED_FILLFACTOR
    from app.services.sync.alignment import SPECS, upsert_records
    from app.services.sync.gateway import gateway

    aligned = [spec.model.__table__.name for spec in SPECS.values()] + ["mailing_addresses"]
    options = dict(db.session.execute(sa.text(
        "select relname, reloptions from pg_class where relname = any(:names)"), {"names": aligned}).all())
    assert options == {name: [f"fillfactor={ALIGNED_FILLFACTOR}"] for name in aligned}

    assert align(full=True).status == "ok"
    pages = _reading_pages(db)
    last = max(pages.values())
    first_on_page = {}
    for id_, page in sorted(pages.items()):
        if page != last:
            first_on_page.setdefault(page, id_)
    assert len(first_on_page) >= 2, "the test data fills at least two pages"
    entries = dict(db.session.execute(sa.text("select id, billing_entry_no from meter_readings")).all())
    chosen = {entries[id_] for id_ in first_on_page.values()}

    records, bookmark = [], None
    while True:
        page = gateway().read_changes(Entity.READING, 0, bookmark, 500)
        records += [dataclasses.replace(r, version=r.version + 1, status_reason="checked again")
                    for r in page.records if r.entry_no in chosen]
        if page.bookmark is None:
            break
        bookmark = page.bookmark
    assert len(records) == len(chosen)
    result = upsert_records(Entity.READING, records)
    db.session.commit()
    assert result.updated == len(chosen)
    after = _reading_pages(db)
    assert {id_: after[id_] for id_ in first_on_page.values()} == {id_: page for page, id_ in first_on_page.items()}
