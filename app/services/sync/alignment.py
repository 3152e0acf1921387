"""Alignment with billing (F-14, F-51): pull changes, upsert the local copy idempotently.

The first run reads everything; later runs read the records whose billing version is above the
entity's watermark, up to the highest version billing had when the run started (a record
changed while we page is picked up by the next run instead of being skipped). Upserts compare
billing versions, so running twice changes nothing. Every page is committed; a failed run
keeps what it committed (newer data, never partial records) and leaves the watermark where it
was, so the next run reads the same range again.

The first full alignment into empty tables on PostgreSQL checks the aligned tables' foreign
keys once, when they are added back after the load, instead of once per inserted row (as a
dump is restored): the per-row checks were most of the server's work on invoice lines. The
alignment itself only writes a row whose parents it has found.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import operator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

import sqlalchemy as sa
from flask import current_app

from app import dbpool
from app.billing.gateway import (BillingError, BillingGateway, CustomerBundle, Entity,
                                 InvoiceRecord)
from app.extensions import db
from app.models import (Customer, CustomerKind, Invoice, InvoiceLine, InvoiceStatus, InvoiceType, MailingAddress,
                        Meter, MeterReading, Payment, PaymentChannel, PaymentMethod,
                        ReadingSource, ReadingStatus, ReadingType, Service, SupplyPoint,
                        SupplyStatus, SyncRun, SyncState, UseType)
from app.models.base import utcnow

log = logging.getLogger(__name__)

ORDER = (Entity.CUSTOMER, Entity.SUPPLY_POINT, Entity.METER, Entity.READING, Entity.INVOICE,
         Entity.PAYMENT)


@dataclass
class _Spec:
    model: type
    key_column: str  # local unique column
    key_attr: str  # record attribute holding the key
    to_row: Callable  # (record, refs) -> dict | None (None: parent unknown, skip)
    refs: tuple = ()  # (record attr, model, model key column) parents to resolve to ids


def _customer_row(r, refs):
    return dict(code=r.code, kind=CustomerKind(r.kind or "person"), last_name=r.last_name, first_name=r.first_name,
                company_name=r.company_name,
                search_name=Customer.make_search_name(r.last_name, r.first_name, r.company_name),
                tax_code=r.tax_code, vat_number=r.vat_number, birth_date=r.birth_date,
                address=r.address, post_code=r.post_code, city=r.city, province=r.province,
                phone=r.phone, email=r.email, language=r.language or "it",
                billing_version=r.version)


def _supply_row(r, refs):
    customer_id = refs["customer_code"].get(r.customer_code)
    if customer_id is None:
        return None
    return dict(code=r.code, customer_id=customer_id, service=Service(r.service), pdr=r.pdr, pod=r.pod,
                address=r.address, post_code=r.post_code, city=r.city, province=r.province,
                use_type=UseType(r.use_type or "domestic"), withdrawal_class=r.withdrawal_class,
                tariff_option=r.tariff_option, annual_consumption=r.annual_consumption or 0,
                status=SupplyStatus(r.status or "active"),
                payment_method=PaymentMethod(r.payment_method or "postal_slip"),
                iban=r.iban, account_holder=r.account_holder,
                mandate_reference=r.mandate_reference, activation_date=r.activation_date,
                conversion_coefficient=r.conversion_coefficient, billing_version=r.version)


def _meter_row(r, refs):
    sp_id = refs["supply_point_code"].get(r.supply_point_code)
    if sp_id is None:
        return None
    return dict(serial=r.serial, supply_point_id=sp_id, digits=r.digits,
                has_corrector=bool(r.has_corrector), corrector_serial=r.corrector_serial,
                corrector_digits=r.corrector_digits, installed_on=r.installed_on,
                removed_on=r.removed_on, billing_version=r.version)


def _reading_row(r, refs):
    sp_id = refs["supply_point_code"].get(r.supply_point_code)
    if sp_id is None:
        return None
    return dict(billing_entry_no=r.entry_no, supply_point_id=sp_id,
                meter_id=refs["meter_serial"].get(r.meter_serial), reading_date=r.reading_date,
                value=r.value, corrector_value=r.corrector_value, reading_type=ReadingType(r.reading_type),
                source=ReadingSource(r.source), status=ReadingStatus(r.status or "valid"), consumption=r.consumption,
                status_reason=(r.status_reason or "")[:250],
                billing_version=r.version)


def _invoice_row(r, refs):
    customer_id = refs["customer_code"].get(r.customer_code)
    if customer_id is None:
        return None
    return dict(number=r.number, customer_id=customer_id,
                supply_point_id=refs["supply_point_code"].get(r.supply_point_code),
                invoice_date=r.invoice_date, due_date=r.due_date,
                invoice_type=InvoiceType(r.invoice_type or "periodic"), period_from=r.period_from,
                period_to=r.period_to, consumption=r.consumption, unit=r.unit, amount=r.amount,
                amount_paid=r.amount_paid, status=InvoiceStatus(r.status), web_code=r.web_code,
                billing_version=r.version)


def _payment_row(r, refs):
    customer_id = refs["customer_code"].get(r.customer_code)
    if customer_id is None:
        return None
    return dict(billing_entry_no=r.entry_no, invoice_id=refs["invoice_number"].get(r.invoice_number),
                customer_id=customer_id, payment_date=r.payment_date, amount=r.amount,
                method=PaymentChannel(r.method), paid_at=r.paid_at, billing_version=r.version)


SPECS: dict[Entity, _Spec] = {
    Entity.CUSTOMER: _Spec(Customer, "code", "code", _customer_row),
    Entity.SUPPLY_POINT: _Spec(SupplyPoint, "code", "code", _supply_row,
                               (("customer_code", Customer, "code"),)),
    Entity.METER: _Spec(Meter, "serial", "serial", _meter_row,
                        (("supply_point_code", SupplyPoint, "code"),)),
    Entity.READING: _Spec(MeterReading, "billing_entry_no", "entry_no", _reading_row,
                          (("supply_point_code", SupplyPoint, "code"), ("meter_serial", Meter, "serial"))),
    Entity.INVOICE: _Spec(Invoice, "number", "number", _invoice_row,
                          (("customer_code", Customer, "code"), ("supply_point_code", SupplyPoint, "code"))),
    Entity.PAYMENT: _Spec(Payment, "billing_entry_no", "entry_no", _payment_row,
                          (("customer_code", Customer, "code"), ("invoice_number", Invoice, "number"))),
}


# name -> callable(records) run inside the page's transaction with the supply point records
# that changed: the areas above react to what billing reports (the portal follows its mandates'
# states, F-06) without this module importing them. Registered at start-up (`create_app`).
SUPPLY_POINT_HOOKS: dict[str, Callable[[list], None]] = {}


def on_supply_points(name: str, hook: Callable[[list], None]) -> None:
    """Register (or replace) the hook called `name` for changed supply point records."""
    SUPPLY_POINT_HOOKS[name] = hook


@dataclass
class PageResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # parent not in the local copy


def _key_filters(col, keys: list):
    """WHERE clauses matching `col` against `keys`: one `= ANY(array)` on PostgreSQL (a single
    parameter the driver converts once), IN lists under SQLite's bound-parameter limit."""
    if not keys:
        return []
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return [col == sa.any_(sa.bindparam("keys", keys, type_=ARRAY(col.type)))]
    return [col.in_(keys[i:i + 900]) for i in range(0, len(keys), 900)]


def _ids_by_key(model, column: str, keys: Iterable) -> dict:
    keys = {k for k in keys if k not in (None, "")}
    col = getattr(model, column)
    out = {}
    for where in _key_filters(col, list(keys)):
        out.update(tuple(row) for row in db.session.execute(sa.select(col, model.id).where(where)))
    return out


def upsert_records(entity: Entity, records: list, now: dt.datetime | None = None) -> PageResult:
    """Insert new records, update those whose billing version changed; no commit."""
    spec = SPECS[entity]
    result = PageResult()
    if not records:
        return result
    now = now or utcnow()
    refs = {attr: _ids_by_key(model, col, (getattr(r, attr) for r in records))
            for attr, model, col in spec.refs}
    model = spec.model
    key_col = getattr(model, spec.key_column)
    keys = [getattr(r, spec.key_attr) for r in records]
    existing: dict = {}
    for where in _key_filters(key_col, keys):
        stmt = sa.select(key_col, model.id, model.billing_version).where(where)
        existing.update((k, (id_, v)) for k, id_, v in db.session.execute(stmt))
    inserts, updates, changed_keys = [], [], []
    for record in records:
        row = spec.to_row(record, refs)
        if row is None:
            result.skipped += 1
            continue
        if "synced_at" in model.__table__.c:
            row["synced_at"] = now
        key = getattr(record, spec.key_attr)
        current = existing.get(key)
        if current is None:
            inserts.append(row)
            changed_keys.append(key)
        elif current[1] != record.version:
            row["id"] = current[0]
            updates.append(row)
            changed_keys.append(key)
        else:
            result.unchanged += 1
    table = model.__table__
    bulk_insert(table, inserts)
    if updates:
        columns = [k for k in updates[0] if k != "id"]
        stmt = table.update().where(table.c.id == sa.bindparam("row_id")).values(
            {c: sa.bindparam(c) for c in columns})
        db.session.execute(stmt, [{**{c: u[c] for c in columns}, "row_id": u["id"]} for u in updates])
    result.inserted, result.updated = len(inserts), len(updates)
    if entity is Entity.SUPPLY_POINT and changed_keys:
        changed = set(changed_keys)
        _upsert_mailing_addresses([r for r in records if r.code in changed])
        for hook in SUPPLY_POINT_HOOKS.values():
            hook([r for r in records if r.code in changed])
    if entity is Entity.INVOICE and changed_keys:
        changed = set(changed_keys)
        # A new invoice has no lines yet: only an updated one's are deleted first.
        _replace_invoice_lines([r for r in records if r.number in changed],
                               updated={r["number"] for r in updates})
    return result


def bulk_insert(table: sa.Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` in the session's transaction, as
    the Core statement would, without its per-row work: column defaults are evaluated once per
    batch and the columns' own conversions applied, then PostgreSQL receives the rows by COPY
    and SQLite by the driver's executemany. The database fills in the primary keys."""
    if not rows:
        return
    conn = db.session.connection()
    dialect = conn.dialect
    if dialect.name not in ("postgresql", "sqlite"):
        conn.execute(table.insert(), rows)
        return
    keys = list(rows[0])
    defaults = {}
    for column in table.c:
        default = column.default
        if column.name in keys or default is None:
            continue
        if default.is_scalar:
            defaults[column.name] = default.arg
        elif default.is_callable:
            defaults[column.name] = default.arg(None)
    names = keys + list(defaults)
    procs = [table.c[n].type._cached_bind_processor(dialect) for n in names]
    tail = tuple(p(v) if p else v for p, v in zip(procs[len(keys):], defaults.values()))
    pick = operator.itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
    converted = [(i, p) for i, p in enumerate(procs[:len(keys)]) if p is not None]

    def values(row):
        if not converted:
            return pick(row) + tail
        out = list(pick(row))
        for i, proc in converted:
            out[i] = proc(out[i])
        out.extend(tail)
        return out

    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    with dbpool.driver_cursor(conn) as cursor:
        if dialect.name == "postgresql":
            with cursor.copy(f"COPY {quote(table.name)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(values(row))
        else:
            cursor.executemany(f"INSERT INTO {quote(table.name)} ({columns}) VALUES "
                               f"({', '.join('?' * len(names))})", [values(r) for r in rows])


def _upsert_mailing_addresses(supply_points) -> None:
    """Billing's mailing address (recapito) of each supply point that has one."""
    with_address = [r for r in supply_points if r.mail_address]
    if not with_address:
        return
    sp_ids = _ids_by_key(SupplyPoint, "code", (r.code for r in with_address))
    existing = _ids_by_key(MailingAddress, "supply_point_id", sp_ids.values())
    table = MailingAddress.__table__
    inserts, updates = [], []
    for r in with_address:
        sp_id = sp_ids.get(r.code)
        if sp_id is None:
            continue
        row = dict(supply_point_id=sp_id, name=r.mail_name, address=r.mail_address,
                   post_code=r.mail_post_code, city=r.mail_city, province=r.mail_province)
        if sp_id in existing:
            updates.append({**row, "row_id": existing[sp_id]})
        else:
            inserts.append(row)
    bulk_insert(table, inserts)
    if updates:
        columns = ["name", "address", "post_code", "city", "province"]
        db.session.execute(table.update().where(table.c.id == sa.bindparam("row_id")).values(
            {c: sa.bindparam(c) for c in columns}), [{c: u[c] for c in columns} | {"row_id": u["row_id"]} for u in updates])


_LINE_FIELDS = ("line_no", "description", "quantity", "unit_price", "amount", "vat_percent")


def _lines_held(invoice_ids: list[int]) -> dict[int, list[tuple]]:
    """Our lines of these invoices, as (line_no, description, ...) tuples in line order."""
    cols = [InvoiceLine.invoice_id] + [getattr(InvoiceLine, f) for f in _LINE_FIELDS]
    held: dict[int, list[tuple]] = {}
    for where in _key_filters(InvoiceLine.invoice_id, invoice_ids):
        for row in db.session.execute(sa.select(*cols).where(where)):
            held.setdefault(row[0], []).append(tuple(row[1:]))
    for lines in held.values():
        lines.sort()
    return held


def _replace_invoice_lines(invoices: list[InvoiceRecord], updated: set | None = None) -> None:
    """Billing's lines of these invoices replace ours; `updated`: the numbers of those that
    already existed (None: any may have lines to delete). An existing invoice whose lines are
    the ones we hold keeps them: billing's changes of an invoice are mostly its payment state."""
    ids = _ids_by_key(Invoice, "number", (r.number for r in invoices))
    billing = {r.number: sorted(tuple(getattr(line, f) for f in _LINE_FIELDS) for line in r.lines)
               for r in invoices if r.number in ids}
    existing = {n: i for n, i in ids.items() if updated is None or n in updated}
    held = _lines_held(list(existing.values())) if existing else {}
    unchanged = {n for n, i in existing.items() if held.get(i, []) == billing[n]}
    stale = [i for n, i in existing.items() if n not in unchanged and i in held]
    for where in _key_filters(InvoiceLine.invoice_id, stale):
        db.session.execute(sa.delete(InvoiceLine).where(where))
    rows = [dict(zip(_LINE_FIELDS, line), invoice_id=ids[n])
            for n, lines in billing.items() if n not in unchanged for line in lines]
    bulk_insert(InvoiceLine.__table__, rows)


def _state(entity: Entity) -> SyncState:
    state = db.session.get(SyncState, entity.value)
    if state is None:
        state = SyncState(entity=entity.value, watermark=0, records_total=0)
        db.session.add(state)
    return state


def align(*, full: bool = False, trigger: str = "job", progress: bool = False,
          gw: BillingGateway | None = None, entities: tuple[Entity, ...] = ORDER) -> SyncRun:
    """Run one alignment; return its SyncRun (status ok or failed, counts per entity)."""
    from app.services.sync.gateway import gateway

    gw = gw or gateway()
    page_size = int(current_app.config.get("BILLING_PAGE_SIZE", 1000))
    run = SyncRun(full=full, trigger=trigger, status="running", counts={})
    db.session.add(run)
    db.session.commit()
    counts: dict[str, int] = {}
    entity = None
    try:
        upper = gw.current_version()
        _deletions(gw, full, upper, entities)
        with _foreign_keys_checked_after_load(full, entities):
            for entity in entities:
                counts[entity.value] = _align_entity(gw, entity, full, upper, page_size, progress)
        run.status = "ok"
        if full or sum(counts.values()) >= int(current_app.config.get("ALIGNMENT_ANALYZE_MIN_RECORDS", 10000)):
            analyze_aligned_tables(entities)
    except BillingError as exc:
        db.session.rollback()
        log.warning("Alignment failed on %s: %s", entity.value if entity else "-", exc)
        run = db.session.get(SyncRun, run.id)
        run.status = "failed"
        run.error = str(exc)
        # Before the first entity (billing's version unknown) every entity is affected.
        for failed in ([entity] if entity is not None else list(entities)):
            state = _state(failed)
            state.last_attempt_at = utcnow()
            state.last_error = str(exc)
    run.counts = counts
    run.finished_at = utcnow()
    db.session.commit()
    return run


def _aligned_tables(entities) -> list[str]:
    models = [SPECS[e].model for e in entities]
    if Entity.SUPPLY_POINT in entities:
        models.append(MailingAddress)
    if Entity.INVOICE in entities:
        models.append(InvoiceLine)
    return [m.__table__.name for m in models]


@contextlib.contextmanager
def _foreign_keys_checked_after_load(full: bool, entities):
    """A first full alignment on PostgreSQL (every aligned table empty): the aligned tables'
    foreign keys are dropped for the load and added back after it, whatever its outcome, with
    their own definitions; adding one checks every row in one pass. Anywhere else, or when a
    table cannot be altered at once (another session holds it), the keys stay."""
    if not full or db.engine.dialect.name != "postgresql":
        yield
        return
    names = _aligned_tables(entities)
    db.session.commit()
    empty = db.session.scalar(sa.select(sa.and_(*[
        ~sa.exists(sa.select(sa.literal(1)).select_from(sa.table(n))) for n in names])))
    keys = [] if not empty else db.session.execute(sa.text(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "WHERE c.contype = 'f' AND c.conrelid = ANY(CAST(:tables AS regclass[])) ORDER BY c.conname"),
        {"tables": names}).all()
    if keys:
        try:
            db.session.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
            for table, name, _ in keys:
                db.session.execute(sa.text(f"ALTER TABLE {table} DROP CONSTRAINT {_quoted(name)}"))
            db.session.commit()
        except sa.exc.OperationalError as exc:
            db.session.rollback()
            log.info("Foreign keys kept during the load (a table is in use): %s", exc.orig)
            keys = []
        else:
            log.info("First full alignment: %d foreign keys checked after the load", len(keys))
    try:
        yield
    finally:
        if keys:
            db.session.rollback()
            for table, name, definition in keys:
                db.session.execute(sa.text(f"ALTER TABLE {table} ADD CONSTRAINT {_quoted(name)} {definition}"))
            db.session.commit()


def _quoted(name: str) -> str:
    return db.engine.dialect.identifier_preparer.quote(name)


def analyze_aligned_tables(entities=ORDER) -> None:
    """Refresh the planner statistics of the tables a bulk alignment wrote (ANALYZE; on SQLite
    sampled, so its cost stays bounded at any size); commits."""
    names = _aligned_tables(entities)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE " + ", ".join(f'"{n}"' for n in names)))
    elif db.engine.dialect.name == "sqlite":
        # Sampled: about this many rows per index instead of every row.
        db.session.execute(sa.text("PRAGMA analysis_limit=1000"))
        for name in names:
            db.session.execute(sa.text(f'ANALYZE "{name}"'))
    db.session.commit()


def _deletions(gw: BillingGateway, full: bool, upper: int, entities) -> None:
    """Deletions since the customers' watermark, before it moves (a failed run reads them again)."""
    if Entity.CUSTOMER not in entities:
        return
    from app.services.sync.deletions import apply_deletions

    apply_deletions(gw, 0 if full else _state(Entity.CUSTOMER).watermark, upper, apply_bundle)


def _align_entity(gw: BillingGateway, entity: Entity, full: bool, upper: int, page_size: int,
                  progress: bool) -> int:
    state = _state(entity)
    since = 0 if full else state.watermark
    state.last_attempt_at = utcnow()
    db.session.commit()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc=entity.value, unit=" rec", leave=True)
    total = 0
    # While this page is written, the next one is already on its way from billing: the
    # database work overlaps billing's answer time instead of adding to it.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="align-fetch") as pool:
        fetch = pool.submit(gw.read_changes, entity, since, None, page_size, until_version=upper)
        try:
            while True:
                page = fetch.result()
                if page.bookmark is not None:
                    fetch = pool.submit(gw.read_changes, entity, since, page.bookmark, page_size,
                                        until_version=upper)
                upsert_records(entity, page.records)
                db.session.commit()
                total += len(page.records)
                if bar is not None:
                    bar.update(len(page.records))
                if page.bookmark is None:
                    break
        finally:
            if bar is not None:
                bar.close()
    state = _state(entity)
    state.watermark = max(since, upper)
    state.last_success_at = utcnow()
    state.last_error = None
    state.records_total = db.session.scalar(sa.select(sa.func.count()).select_from(SPECS[entity].model))
    db.session.commit()
    return total


def apply_bundle(bundle: CustomerBundle) -> None:
    """Upsert everything billing holds about one customer (the on-login refresh); commits."""
    now = utcnow()
    upsert_records(Entity.CUSTOMER, [bundle.customer], now)
    upsert_records(Entity.SUPPLY_POINT, bundle.supply_points, now)
    upsert_records(Entity.METER, bundle.meters, now)
    upsert_records(Entity.READING, bundle.readings, now)
    upsert_records(Entity.INVOICE, bundle.invoices, now)
    upsert_records(Entity.PAYMENT, bundle.payments, now)
    db.session.commit()
