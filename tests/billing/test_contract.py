"""The gateway contract (F-50..F-53), one suite for every adapter: each test runs against the
simulator in each flavour (NAV pages/codeunit, SAP IS-U function modules) through that flavour's
adapter. A third adapter joins by adding its flavour to `FLAVOURS` (docs/adapters.md).

The checks are plain functions so that `test_F53_a_broken_adapter_fails_the_contract` can run
them against a deliberately wrong SAP adapter and show that they notice.
"""
from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import uuid
from decimal import Decimal

import pytest

from app.billing import make_gateway
from app.billing.gateway import (BillingError, BillingWarning, ContractExport, CustomerUpdate,
                                 Entity, FaultKind, MailingAddress, MandateRequest,
                                 ReadingSubmission, collect_warnings)
from app.billing.sap import SapGateway
from simulator.testing import SimulatorProcess

# No app database here: the suite runs in the SQLite pass only.
pytestmark = pytest.mark.one_pass
FLAVOURS = ["nav", "sap"]
TABLES = {Entity.CUSTOMER: "customer", Entity.SUPPLY_POINT: "supply_point",
          Entity.METER: "meter", Entity.READING: "meter_reading",
          Entity.INVOICE: "sales_invoice", Entity.PAYMENT: "payment"}
KEYS = {Entity.CUSTOMER: "code", Entity.SUPPLY_POINT: "code", Entity.METER: "serial",
        Entity.READING: "entry_no", Entity.INVOICE: "number", Entity.PAYMENT: "entry_no"}
IBAN = "IT60X0542811101000000123456"


@pytest.fixture(scope="module", params=FLAVOURS)
def flavour_sim(request, sim_db, tmp_path_factory):
    """The simulator in one flavour, on its own copy of the data (the writes change it)."""
    path = tmp_path_factory.mktemp(f"contract-{request.param}") / "sim.db"
    src, dst = sqlite3.connect(sim_db), sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    with SimulatorProcess(path, flavour=request.param) as sim:
        yield sim
    shutil.rmtree(path.parent, ignore_errors=True)


@pytest.fixture
def fsim(flavour_sim):
    flavour_sim.clear()
    yield flavour_sim
    flavour_sim.clear()


@pytest.fixture
def gw(fsim):
    return make_gateway({"BILLING_SYSTEM": fsim.flavour, "BILLING_URL": fsim.url,
                         "BILLING_TIMEOUT": 3.0, "BILLING_PAGE_SIZE": 7})


def _count(sim, entity) -> int:
    conn = sqlite3.connect(f"file:{sim.db_path}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {TABLES[entity]}").fetchone()[0]
    finally:
        conn.close()


def _all(gw, entity, since=0, until=None, size=7) -> list:
    out, bookmark = [], None
    while True:
        page = gw.read_changes(entity, since, bookmark, size, until)
        out += page.records
        if page.bookmark is None:
            return out
        bookmark = page.bookmark


def _key() -> str:
    return f"contract-{uuid.uuid4().hex[:12]}"


_SUPPLY: dict[str, str] = {}  # simulator URL -> the customer _supply found there


def _supply(gw):
    """A customer's bundle, an active supply point of it and its meter."""
    known = _SUPPLY.get(gw.base_url)
    codes = [known] if known else [c.code for c in _all(gw, Entity.CUSTOMER, size=50)]
    for code in codes:
        b = gw.read_customer_bundle(code)
        for sp in b.supply_points:
            meters = [m for m in b.meters if m.supply_point_code == sp.code and not m.removed_on]
            if sp.status == "active" and meters and not meters[0].has_corrector:
                _SUPPLY[gw.base_url] = code
                return b, sp, meters[0]
    raise AssertionError("no active supply point with a meter")


def _nav_key(sim, entity: Entity, key: str) -> str:
    """The simulator's own (NAV) key of a record the adapter names `key`: its control
    endpoints (delete, mandate) take those."""
    if sim.flavour != "sap":
        return key
    from simulator.sap import anlage_no, partner_no

    return {Entity.CUSTOMER: partner_no, Entity.SUPPLY_POINT: anlage_no}[entity](key)


def _others(gw) -> list:
    """Customers other than the one `_supply` works on, with their bundles, last first: the
    tests that delete or re-mandate records take these."""
    _supply(gw)
    mine = _SUPPLY[gw.base_url]
    return [gw.read_customer_bundle(c.code) for c in reversed(_all(gw, Entity.CUSTOMER, size=50))
            if c.code != mine]


# --- the checks ----------------------------------------------------------------------------

def check_change_feed(gw, sim) -> None:
    for entity in Entity:
        records = _all(gw, entity)
        keys = [getattr(r, KEYS[entity]) for r in records]
        assert len(keys) == len(set(keys)) == _count(sim, entity), entity
        assert keys == sorted(keys), entity  # key order, pages continue after the bookmark
        assert all(r.version > 0 for r in records)
    top = gw.current_version()
    assert top >= max(r.version for r in _all(gw, Entity.READING, size=500))


def check_reading_write(gw) -> None:
    b, sp, meter = _supply(gw)
    last = max((r for r in b.readings if r.meter_serial == meter.serial),
               key=lambda r: (r.reading_date, r.entry_no))
    key = _key()
    sub = ReadingSubmission(sp.code, meter.serial, dt.date(2026, 11, 28), last.value + 7)
    with collect_warnings() as warnings:
        entry = gw.submit_reading(key, sub)
    assert warnings == []
    assert gw.submit_reading(key, sub) == entry  # a repeat: the first result, applied once
    mine = [r for r in gw.read_customer_bundle(b.customer.code).readings if r.entry_no == entry]
    assert len(mine) == 1 and mine[0].value == last.value + 7 and mine[0].status == "valid"
    assert mine[0].source == "customer" and mine[0].reading_type == "self"


def check_refusal(gw) -> None:
    b, sp, meter = _supply(gw)
    with pytest.raises(BillingError) as err:
        gw.submit_reading(_key(), ReadingSubmission(sp.code, meter.serial, dt.date(2026, 11, 28),
                                                    10 ** meter.digits))
    assert err.value.kind is FaultKind.FAULT and not err.value.retryable
    assert "digit" in err.value.message


# --- F-50: reads -----------------------------------------------------------------------------

def test_F50_change_feed_pages_through_every_record_in_key_order(gw, fsim):
    check_change_feed(gw, fsim)


def test_F50_change_feed_since_and_until_a_version(gw, fsim):
    before = gw.current_version()
    assert gw.read_changes(Entity.CUSTOMER, before, None, 7).records == []
    fsim.touch(0.3, seed=3)
    after = gw.current_version()
    changed = _all(gw, Entity.CUSTOMER, since=before)
    assert changed and all(before < r.version <= after for r in changed)
    assert len(changed) < _count(fsim, Entity.CUSTOMER)
    first = min(r.version for r in changed)
    bounded = _all(gw, Entity.CUSTOMER, since=before, until=first)
    assert [r.version for r in bounded] == [first]
    assert gw.read_changes(Entity.CUSTOMER, after, None, 7, until_version=after).records == []


def test_F50_customer_bundle_types_and_units(gw):
    b, sp, meter = _supply(gw)
    c = b.customer
    assert c.kind in ("person", "company") and c.language in ("it", "en")
    assert all(isinstance(x.version, int) for x in [c, *b.supply_points, *b.meters])
    assert sp.customer_code == c.code and sp.service in ("gas", "electricity", "water", "lpg",
                                                        "telecom")
    assert (sp.pdr if sp.service == "gas" else sp.pod)  # the Italian point of delivery
    assert sp.payment_method in ("sdd", "postal_slip") and isinstance(sp.activation_date, dt.date)
    assert isinstance(sp.conversion_coefficient, Decimal) and sp.conversion_coefficient > 0
    assert meter.removed_on is None and isinstance(meter.installed_on, dt.date)  # initial date
    assert all(r.supply_point_code in {s.code for s in b.supply_points} for r in b.readings)
    inv = b.invoices[0]
    assert isinstance(inv.amount, Decimal) and inv.amount == inv.amount.quantize(Decimal("0.01"))
    assert inv.lines and sum(ln.amount for ln in inv.lines) == inv.amount
    assert inv.status in ("paid", "unpaid", "partially_paid") and inv.unit
    assert all(p.customer_code == c.code and p.amount > 0 for p in b.payments)
    assert all(r.modified_at is None or r.modified_at.tzinfo is None for r in b.readings)
    assert gw.invoice_pdf(inv.number)[:5] == b"%PDF-"


def test_F50_unknown_keys_are_none_not_errors(gw):
    assert gw.read_customer_bundle("9999999999") is None
    b, _, _ = _supply(gw)
    missing = b.invoices[0].number[:-3] + "999"
    assert gw.invoice_pdf(missing) is None


def test_F50_readings_carry_billing_validation_result_and_reason(gw):
    """Every reading says whether billing validated it; one being checked (implausible) or
    rejected says why, a valid one has no reason."""
    readings = _all(gw, Entity.READING, size=500)
    by_status = {s: [r for r in readings if r.status == s] for s in ("valid", "pending", "rejected")}
    assert {r.status for r in readings} <= set(by_status)
    assert by_status["valid"] and all(r.status_reason == "" for r in by_status["valid"])
    assert by_status["rejected"] and all(r.status_reason for r in by_status["rejected"])
    assert all(r.status_reason for r in by_status["pending"])
    assert "scartata" in by_status["rejected"][0].status_reason


def test_F50_deletions_and_merges_are_read_with_their_survivor(gw, fsim):
    """What billing deleted (NAV: Change Log Entry of type Deletion; SAP: the archiving flag)
    comes back from `read_deletions` within its versions, in the adapter's keys."""
    gone, duplicate, survivor = [b for b in _others(gw) if b.supply_points][:3]
    sp = gone.supply_points[0]
    before = gw.current_version()
    fsim.delete("supply_point", _nav_key(fsim, Entity.SUPPLY_POINT, sp.code))
    fsim.delete("customer", _nav_key(fsim, Entity.CUSTOMER, gone.customer.code))
    fsim.delete("customer", _nav_key(fsim, Entity.CUSTOMER, duplicate.customer.code),
                merged_into=_nav_key(fsim, Entity.CUSTOMER, survivor.customer.code))
    after = gw.current_version()
    deleted = gw.read_deletions(before, after)
    assert [(d.entity, d.key, d.merged_into) for d in deleted] == [
        (Entity.SUPPLY_POINT, sp.code, ""), (Entity.CUSTOMER, gone.customer.code, ""),
        (Entity.CUSTOMER, duplicate.customer.code, survivor.customer.code)]
    assert all(before < d.version <= after for d in deleted)
    assert [d.version for d in deleted] == sorted(d.version for d in deleted)
    assert gw.read_deletions(after, after) == [] and gw.read_deletions(before, before + 1) == \
        deleted[:1]
    assert gw.read_customer_bundle(gone.customer.code) is None
    moved = gw.read_customer_bundle(survivor.customer.code).supply_points
    assert {s.code for s in duplicate.supply_points} <= {s.code for s in moved}


# --- F-51: every write, read back ---------------------------------------------------------------

def test_F51_reading_is_posted_once_and_read_back(gw):
    check_reading_write(gw)


def test_F51_confirmed_implausible_reading_waits_for_review(gw, fsim):
    b, sp, meter = _supply(gw)
    with collect_warnings() as warnings:
        entry = gw.submit_reading(_key(), ReadingSubmission(sp.code, meter.serial,
                                                            dt.date(2026, 11, 29), 0, flagged=True))
    mine = [r for r in gw.read_customer_bundle(b.customer.code).readings if r.entry_no == entry]
    assert mine[0].status == "pending" and "verifica" in mine[0].status_reason
    if fsim.flavour == "sap":  # SAP says so with a W message; NAV has no warnings
        assert [w.code for w in warnings] == ["EL 073"] and "implausible" in warnings[0].message


def test_F51_customer_and_mailing_address_changes(gw):
    b, sp, _ = _supply(gw)
    c = b.customer
    gw.update_customer(_key(), CustomerUpdate(c.code, phone="3471234567", email="nuovo@example.it"))
    gw.update_mailing_address(_key(), MailingAddress(sp.code, "Studio Rossi", "Via Roma 1",
                                                     "20121", "Milano", "MI"))
    gw.set_invoice_delivery(_key(), sp.code, True, "pdf", ["a@example.it", "b@example.it"])
    after = gw.read_customer_bundle(c.code)
    assert (after.customer.phone, after.customer.email) == ("3471234567", "nuovo@example.it")
    assert after.customer.last_name == c.last_name  # empty fields leave billing's value
    sp2 = next(s for s in after.supply_points if s.code == sp.code)
    assert (sp2.mail_name, sp2.mail_city, sp2.mail_province) == ("Studio Rossi", "Milano", "MI")


def test_F51_sepa_mandate_request_decision_and_revocation(gw):
    b, sp, _ = _supply(gw)
    ref = gw.request_mandate(_key(), MandateRequest(sp.code, IBAN, "Rossi", "Mario",
                                                    "RSSMRA80A01H501U", "Banca", "Filiale",
                                                    "Via Roma 1", ""))
    assert ref

    def current():
        return next(s for s in gw.read_customer_bundle(b.customer.code).supply_points
                    if s.code == sp.code)
    assert (current().mandate_request_reference, current().mandate_request_status) == (ref,
                                                                                       "pending")
    gw.set_mandate_status(_key(), sp.code, ref, "active")
    now = current()
    assert (now.payment_method, now.mandate_reference, now.mandate_status) == ("sdd", ref, "active")
    assert now.iban == IBAN
    gw.revoke_mandate(_key(), sp.code)
    assert (current().payment_method, current().iban) == ("postal_slip", "")


def test_F51_mandate_rejected_by_the_bank_keeps_its_reason_and_the_mandate_in_force(gw, fsim):
    b, sp = next((b, s) for b in _others(gw) for s in b.supply_points
                 if s.payment_method == "sdd" and s.mandate_status == "active")
    first = gw.request_mandate(_key(), MandateRequest(sp.code, "DE89370400440532013000", "Rossi",
                                                      "Mario", "", "", "", "", ""))
    fsim.decide_mandate(_nav_key(fsim, Entity.SUPPLY_POINT, sp.code), "rejected",
                        "Firma mancante")

    def current():
        return next(s for s in gw.read_customer_bundle(b.customer.code).supply_points
                    if s.code == sp.code)
    now = current()
    assert (now.mandate_request_reference, now.mandate_request_status,
            now.mandate_reject_reason) == (first, "rejected", "Firma mancante")
    assert (now.payment_method, now.mandate_reference, now.mandate_status) == \
        ("sdd", sp.mandate_reference, "active")
    with pytest.raises(BillingError) as err:  # a decided request cannot be decided again
        gw.set_mandate_status(_key(), sp.code, first, "active")
    assert err.value.kind is FaultKind.FAULT and not err.value.retryable
    assert current().mandate_reference == sp.mandate_reference


def test_F51_contract_creates_customer_and_supply_point(gw):
    key = _key()
    contract = ContractExport(
        contract_number="CT-" + key[-6:], customer_code="",
        customer=CustomerUpdate("", last_name="Bianchi", first_name="Anna",
                                tax_code="BNCNNA80A41F205X", birth_date=dt.date(1980, 1, 1),
                                address="Via Verdi 2", post_code="20121", city="Milano",
                                province="MI", email="anna@example.it"),
        service="gas", pdr="12345678901234", pod="", address="Via Verdi 2", post_code="20121",
        city="Milano", province="MI", use_type="domestic", withdrawal_class="C1",
        tariff_option="Gas Casa Fisso", annual_consumption=900, payment_method="postal_slip")
    result = gw.create_contract(key, contract)
    assert gw.create_contract(key, contract) == result  # a repeat: the same documents
    b = gw.read_customer_bundle(result.customer_code)
    assert b.customer.last_name == "Bianchi" and b.customer.birth_date == dt.date(1980, 1, 1)
    sp = next(s for s in b.supply_points if s.code == result.supply_point_code)
    assert (sp.pdr, sp.status, sp.annual_consumption) == ("12345678901234", "not_invoiceable", 900)
    gw.mark_invoiceable(_key(), sp.code)
    sp = next(s for s in gw.read_customer_bundle(result.customer_code).supply_points
              if s.code == result.supply_point_code)
    assert sp.status == "active" and sp.activation_date is not None


def test_F51_commissions_exported_once_and_read_back_with_their_batch(gw):
    """F-16's reconciliation reads what billing holds: the exported lines, with the batch."""
    from app.billing.gateway import CommissionLine

    period = f"2031-{uuid.uuid4().int % 12 + 1:02d}"
    contract = f"CT-{uuid.uuid4().hex[:8]}"
    lines = [CommissionLine("AG001", contract, period, Decimal("45.50"), "new gas"),
             CommissionLine("AG002", contract + "B", period, Decimal("30.00"), "new power")]
    key = _key()
    batch = gw.export_commissions(key, lines)
    assert batch and gw.export_commissions(key, lines) == batch  # a repeat: applied once
    back = [ln for ln in gw.commission_lines(period) if ln.contract_number.startswith(contract)]
    assert [(ln.agent_code, ln.contract_number, ln.period, ln.amount, ln.reason, ln.batch)
            for ln in back] == [("AG001", contract, period, Decimal("45.50"), "new gas", batch),
                                ("AG002", contract + "B", period, Decimal("30.00"), "new power",
                                 batch)]
    assert gw.commission_lines("1999-01") == []


# --- F-52: every fault kind --------------------------------------------------------------------

@pytest.mark.parametrize("mode,kind,status", [
    ("http500", FaultKind.HTTP, 500), ("http503", FaultKind.HTTP, 503),
    ("http401", FaultKind.AUTH, 401), ("garbage", FaultKind.MALFORMED, 200),
    ("lock", FaultKind.LOCKED, None)])
def test_F52_fault_kinds(gw, fsim, mode, kind, status):
    gw.ping()
    fsim.control(mode, count=1)
    with pytest.raises(BillingError) as err:
        gw.read_changes(Entity.CUSTOMER, 0, None, 3)
    assert err.value.kind is kind
    assert err.value.retryable is (kind not in (FaultKind.MALFORMED, FaultKind.AUTH))
    if status:
        assert err.value.status == status
    assert gw.read_changes(Entity.CUSTOMER, 0, None, 3).records  # the next call is normal


def test_F52_timeout(fsim):
    def gateway(timeout):
        return make_gateway({"BILLING_SYSTEM": fsim.flavour, "BILLING_URL": fsim.url,
                             "BILLING_TIMEOUT": timeout})
    patient = gateway(10.0)
    patient.ping()  # the WSDL is loaded (shared by both gateways)
    fsim.control("delay", seconds=4, count=1)
    with pytest.raises(BillingError) as err:
        gateway(1.0).current_version()
    assert err.value.kind is FaultKind.TIMEOUT and err.value.retryable
    assert patient.current_version() > 0  # the next call is answered


def test_F52_refusal_is_permanent_with_billing_message(gw):
    check_refusal(gw)


def test_F52_refused_iban_is_not_repeated_in_the_fault(gw):
    _, sp, _ = _supply(gw)
    bad = IBAN[:-1] + "7"  # wrong check digits
    with pytest.raises(BillingError) as err:
        gw.request_mandate(_key(), MandateRequest(sp.code, bad, "Rossi", "Mario", "", "", "", "",
                                                  ""))
    assert err.value.kind is FaultKind.FAULT and not err.value.retryable
    assert bad not in str(err.value) and bad not in (err.value.detail or "")
    assert bad[4:] not in str(err.value)


def test_F52_same_key_for_another_operation_is_refused(gw, fsim):
    """An idempotency key names one write: reused for another, billing refuses it rather
    than answering with the first write's result."""
    _, sp, _ = _supply(gw)
    key = _key()
    gw.set_invoice_delivery(key, sp.code, True, "link", [])
    with pytest.raises(BillingError) as err:
        gw.mark_invoiceable(key, sp.code)
    assert err.value.kind is FaultKind.FAULT and not err.value.retryable
    assert fsim.stats()["applied_keys"].count(key) == 1


def test_F52_connection_refused_after_the_wsdl_was_loaded_and_basic_auth(sim_db, fsim,
                                                                          tmp_path):
    with SimulatorProcess(sim_db, flavour=fsim.flavour, auth="portal:s3cret!",
                          log_path=str(tmp_path / "s.log")) as s:
        def gateway(user="", password=""):
            return make_gateway({"BILLING_SYSTEM": s.flavour, "BILLING_URL": s.url,
                                 "BILLING_USERNAME": user, "BILLING_PASSWORD": password,
                                 "BILLING_TIMEOUT": 3.0})
        gw = gateway("portal", "s3cret!")
        assert gw.read_changes(Entity.CUSTOMER, 0, None, 5).records
        with pytest.raises(BillingError) as err:
            gateway().ping()
        assert (err.value.kind, err.value.status) == (FaultKind.AUTH, 401)
        with pytest.raises(BillingError) as err:
            gateway("portal", "nope").ping()
        assert err.value.kind is FaultKind.AUTH and not err.value.retryable
        assert "s3cret" not in str(err.value) and "nope" not in str(err.value)
    with pytest.raises(BillingError) as err:  # the server gone, its WSDL already loaded
        gw.ping()
    assert err.value.kind is FaultKind.CONNECTION and err.value.retryable


def test_F52_locked_write_is_not_applied_and_goes_through_later(gw, fsim):
    b, sp, meter = _supply(gw)
    key = _key()
    sub = ReadingSubmission(sp.code, meter.serial, dt.date(2026, 11, 30), 10 ** meter.digits - 1)
    fsim.control("lock", count=1)
    with pytest.raises(BillingError) as err:
        gw.submit_reading(key, sub)
    assert err.value.kind is FaultKind.LOCKED and err.value.retryable
    assert key not in fsim.stats()["applied_keys"]
    assert gw.submit_reading(key, sub) > 0
    assert fsim.stats()["applied_keys"].count(key) == 1


# --- F-53: SAP's RETURN messages, idempotency, commit -----------------------------------------

@pytest.fixture
def sap(fsim):
    # Tests taking this fixture are generated for the SAP flavour only (tests/billing/conftest.py).
    assert fsim.flavour == "sap"
    return SapGateway(fsim.url, timeout=3.0, page_size=7)


@pytest.mark.parametrize("type_", ["E", "A"])
def test_F53_sap_error_in_a_200_answer_is_a_refusal_with_its_message(sap, fsim, type_):
    b, sp, _ = _supply(sap)
    key = _key()
    fsim.control("message", type=type_, id="R1", number="210", count=1,
                 text="Tax number is not valid for partner")
    with pytest.raises(BillingError) as err:
        sap.update_customer(key, CustomerUpdate(b.customer.code, phone="3400000000"))
    e = err.value
    assert (e.kind, e.status, e.detail) == (FaultKind.FAULT, 200, "R1 210") and not e.retryable
    assert e.message == "Tax number is not valid for partner (R1 210)"
    assert key not in fsim.stats()["applied_keys"]  # E/A: nothing committed
    assert sap.read_customer_bundle(b.customer.code).customer.phone == b.customer.phone


def test_F53_sap_warning_is_kept_and_the_write_applied(sap, fsim):
    b, sp, _ = _supply(sap)
    fsim.control("message", type="W", id="AM", number="218", count=1,
                 text="Address not checked against the street directory")
    with collect_warnings() as warnings:
        sap.update_mailing_address(_key(), MailingAddress(sp.code, "Casa", "Via Po 3", "10121",
                                                          "Torino", "TO"))
    assert warnings == [BillingWarning("AM 218", "Address not checked against the street "
                                                 "directory", "BAPI_BUPA_ADDRESS_CHANGE")]
    sp2 = next(s for s in sap.read_customer_bundle(b.customer.code).supply_points
               if s.code == sp.code)
    assert sp2.mail_city == "Torino"


def test_F53_sap_write_without_commit_leaves_nothing(sap, fsim):
    b, sp, _ = _supply(sap)
    resp = sap._rfc("BAPI_BUPA_ADDRESS_CHANGE", IV_EXTREF=_key(), IV_COMMIT="",
                    INSTALLATION=sp.code, ADDR_USAGE="BILL", NAME="Mai", STREET="Via Mai",
                    POST_CODE1="00100", CITY1="Roma", REGION="RM")
    assert resp is not None
    sp2 = next(s for s in sap.read_customer_bundle(b.customer.code).supply_points
               if s.code == sp.code)
    assert sp2.mail_name != "Mai"


def test_F53_sap_shapes_initial_values_and_leading_zeros(sap, fsim):
    import urllib.request

    body = ('<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
            'envelope/"><soap:Body><Z_ISU_CHANGEPOINTERS_READ xmlns="urn:sap-com:document:sap:'
            'rfc:functions"><IV_OBJECT>DEVICE</IV_OBJECT><IV_CPIDENT_FROM>0</IV_CPIDENT_FROM>'
            '<IV_MAX_ROWS>50</IV_MAX_ROWS></Z_ISU_CHANGEPOINTERS_READ></soap:Body>'
            '</soap:Envelope>').encode()
    req = urllib.request.Request(fsim.url, data=body, headers={"Content-Type": "text/xml"})
    raw = urllib.request.urlopen(req, timeout=5).read().decode()
    assert "<AUSBDAT>0000-00-00</AUSBDAT>" in raw and "<ANLAGE>40000000" in raw
    meters = _all(sap, Entity.METER)
    assert all(len(m.supply_point_code) == 10 for m in meters)
    assert any(m.removed_on is None for m in meters)
    assert all(len(c.code) == 10 and c.code.startswith("0") for c in _all(sap, Entity.CUSTOMER))


class _BrokenSap(SapGateway):
    """W treated as E and E treated as success: what the contract must catch."""

    def _rfc(self, function, /, **params):
        resp = self._call("ZISU_PORTAL", function, **params)
        from app.billing.sap import _messages

        for m in _messages(resp):
            if m.get("TYPE") == "W":
                raise BillingError(FaultKind.FAULT, function, m.get("MESSAGE", ""))
        return resp


def test_F53_a_broken_adapter_fails_the_contract(sap, fsim):
    broken = _BrokenSap(fsim.url, timeout=3.0, page_size=7)
    with pytest.raises((AssertionError, BillingError)):
        check_refusal(broken)  # E taken for success: no refusal
    with pytest.raises(BillingError):  # W taken for E: an accepted write looks refused
        test_F51_confirmed_implausible_reading_waits_for_review(broken, fsim)
    check_refusal(sap)  # the real adapter passes the same checks
    test_F51_confirmed_implausible_reading_waits_for_review(sap, fsim)
