"""Codeunit writes: applied, visible in the next read, idempotent per key."""
from __future__ import annotations

import datetime as dt
import io
import uuid
from decimal import Decimal

import pytest
from pypdf import PdfReader

from app.billing.gateway import (BillingError, CommissionLine, ContractExport, CustomerUpdate,
                                 Entity, FaultKind, MailingAddress, MandateRequest,
                                 ReadingSubmission)

GOOD_IBAN = "IT60X0542811101000000123456"


def key() -> str:
    return f"test-{uuid.uuid4()}"


def _sp_with_meter(db):
    row = db.execute("SELECT m.Supply_Point_No, m.Serial_No, m.Digits, sp.Customer_No FROM meter m "
                     "JOIN supply_point sp ON sp.No = m.Supply_Point_No WHERE m.Removal_Date IS "
                     "NULL AND sp.Status = 'active' ORDER BY m.Serial_No LIMIT 1").fetchone()
    return tuple(row)


def _applied(sim, k) -> int:
    return sim.stats()["applied_keys"].count(k)


def test_submit_reading_applied_once(gateway, sim, db):
    sp, serial, digits, cust = _sp_with_meter(db)
    before = gateway.read_customer_bundle(cust)
    last = max((r for r in before.readings if r.meter_serial == serial and r.status == "valid"),
               key=lambda r: (r.reading_date, r.entry_no))
    value = (last.value + 123) % 10 ** digits
    k = key()
    sub = ReadingSubmission(sp, serial, dt.date(2026, 11, 20), value)
    entry = gateway.submit_reading(k, sub)
    assert gateway.submit_reading(k, sub) == entry  # the repeat answers the first result
    after = gateway.read_customer_bundle(cust)
    mine = [r for r in after.readings if r.entry_no == entry]
    assert len(mine) == 1 and len(after.readings) == len(before.readings) + 1
    r = mine[0]
    assert (r.value, r.reading_type, r.source, r.status, r.consumption) == \
        (value, "self", "customer", "valid", 123)
    assert _applied(sim, k) == 1
    calls = sim.stats()["calls"]
    assert calls["PortalServices.SubmitReading:repeat"] >= 1
    flagged = gateway.submit_reading(key(), ReadingSubmission(sp, serial, dt.date(2026, 11, 21),
                                                              value, flagged=True))
    assert [x.status for x in gateway.read_customer_bundle(cust).readings
            if x.entry_no == flagged] == ["pending"]


def test_submit_reading_errors(gateway, db):
    sp, serial, digits, _ = _sp_with_meter(db)
    with pytest.raises(BillingError) as err:
        gateway.submit_reading(key(), ReadingSubmission(sp, "NO-SUCH-METER", dt.date.today(), 1))
    assert err.value.kind is FaultKind.FAULT and "Meter" in err.value.message
    with pytest.raises(BillingError):
        gateway.submit_reading(key(), ReadingSubmission(sp, serial, dt.date.today(),
                                                        10 ** digits))


def test_update_customer(gateway, sim, db):
    code = db.execute("SELECT No FROM customer WHERE Partner_Type = 'person' ORDER BY No "
                      "LIMIT 1 OFFSET 3").fetchone()[0]
    before = gateway.read_customer_bundle(code).customer
    k = key()
    upd = CustomerUpdate(code, phone="3471234567", email="nuovo.indirizzo@example.it",
                         address="Via Nuova 1", post_code="20121", city="Milano", province="MI")
    gateway.update_customer(k, upd)
    gateway.update_customer(k, CustomerUpdate(code, phone="0000000000"))  # repeat: ignored
    after = gateway.read_customer_bundle(code).customer
    assert (after.phone, after.email, after.address, after.city, after.province) == \
        ("3471234567", "nuovo.indirizzo@example.it", "Via Nuova 1", "Milano", "MI")
    assert after.last_name == before.last_name and after.tax_code == before.tax_code
    assert after.version > before.version
    assert _applied(sim, k) == 1


def test_update_mailing_address(gateway, db):
    sp, cust = db.execute("SELECT No, Customer_No FROM supply_point ORDER BY No LIMIT 1"
                          ).fetchone()
    gateway.update_mailing_address(key(), MailingAddress(sp, "c/o Studio Bianchi",
                                                         "Via Po 3", "10121", "Torino", "TO"))
    s = next(x for x in gateway.read_customer_bundle(cust).supply_points if x.code == sp)
    assert (s.mail_name, s.mail_address, s.mail_post_code, s.mail_city, s.mail_province) == \
        ("c/o Studio Bianchi", "Via Po 3", "10121", "Torino", "TO")


def test_mandate_request_pending_then_active_then_revoked(gateway, sim, db):
    sp, cust = db.execute("SELECT No, Customer_No FROM supply_point WHERE Payment_Method = "
                          "'postal_slip' ORDER BY No LIMIT 1").fetchone()
    ref = gateway.request_mandate(key(), MandateRequest(sp, GOOD_IBAN, "Rossi", "Mario",
                                                        "RSSMRA70C15H501K", "Banca", "Roma 1",
                                                        "Via Roma 1", ""))
    assert ref.startswith("MND-")
    # Billing registers the request as pending: no debit until the bank's answer.
    s = next(x for x in gateway.read_customer_bundle(cust).supply_points if x.code == sp)
    assert (s.payment_method, s.mandate_request_reference, s.mandate_request_status) == \
        ("postal_slip", ref, "pending")
    sim.control("mandate", supply_point=sp, status="active")
    s = next(x for x in gateway.read_customer_bundle(cust).supply_points if x.code == sp)
    assert (s.payment_method, s.iban, s.mandate_reference, s.account_holder, s.mandate_status) == \
        ("sdd", GOOD_IBAN, ref, "Rossi Mario", "active")
    gateway.revoke_mandate(key(), sp)
    s = next(x for x in gateway.read_customer_bundle(cust).supply_points if x.code == sp)
    assert (s.payment_method, s.iban, s.mandate_reference, s.mandate_status) == \
        ("postal_slip", "", ref, "revoked")


def test_mandate_rejected_with_reason_and_decided_by_the_portal(gateway, sim, db):
    sp, cust = db.execute("SELECT No, Customer_No FROM supply_point WHERE Payment_Method = "
                          "'sdd' ORDER BY No LIMIT 1").fetchone()
    old = next(x for x in gateway.read_customer_bundle(cust).supply_points if x.code == sp)
    ref = gateway.request_mandate(key(), MandateRequest(sp, "DE89370400440532013000", "Rossi", "Mario",
                                                        "", "", "", "", "SPT-TEST-REJ"))
    sim.control("mandate", supply_point=sp, status="rejected", reason="Firma mancante")
    s = next(x for x in gateway.read_customer_bundle(cust).supply_points if x.code == sp)
    assert (s.mandate_request_reference, s.mandate_request_status, s.mandate_reject_reason) == \
        (ref, "rejected", "Firma mancante")
    assert (s.payment_method, s.mandate_reference, s.mandate_status) == ("sdd", old.mandate_reference, "active")
    # The portal's back office decides a pending one; a decided one is refused.
    ref2 = gateway.request_mandate(key(), MandateRequest(sp, "DE89370400440532013000", "Rossi", "Mario",
                                                         "", "", "", "", "SPT-TEST-ACC"))
    gateway.set_mandate_status(key(), sp, ref2, "active")
    s = next(x for x in gateway.read_customer_bundle(cust).supply_points if x.code == sp)
    assert (s.mandate_reference, s.iban, s.mandate_request_status) == (ref2, "DE89370400440532013000", "active")
    with pytest.raises(BillingError) as err:
        gateway.set_mandate_status(key(), sp, ref, "active")
    assert err.value.kind is FaultKind.FAULT


def test_bad_iban_fault_does_not_leak_the_iban(gateway, db):
    sp = db.execute("SELECT No FROM supply_point ORDER BY No LIMIT 1").fetchone()[0]
    bad = "IT60X0542811101000000123457"
    with pytest.raises(BillingError) as err:
        gateway.request_mandate(key(), MandateRequest(sp, bad, "A", "B", "", "", "", "", ""))
    assert err.value.kind is FaultKind.FAULT
    assert bad not in str(err.value) and bad not in err.value.detail


def test_create_contract_then_mark_invoiceable(gateway, sim):
    cust = CustomerUpdate("", last_name="Verdi", first_name="Anna",
                          tax_code="VRDNNA80A41H501X", birth_date=dt.date(1980, 1, 1),
                          address="Via Po 1", post_code="00185", city="Roma", province="RM",
                          phone="3331112222", email="anna.verdi@example.it")
    contract = ContractExport("CT-2026-0001", "", cust, "gas", "01234567890123", "",
                              "Via Po 1", "00185", "Roma", "RM", "domestic", "C1",
                              "Gas Casa Fisso", 900, "sdd", iban=GOOD_IBAN,
                              account_holder="Verdi Anna",
                              mailing=MailingAddress("", "Anna Verdi", "Via Mare 2", "00122",
                                                     "Roma", "RM"))
    k = key()
    res = gateway.create_contract(k, contract)
    assert gateway.create_contract(k, contract) == res
    assert res.reservation_number.startswith("PR") and res.customer_code.startswith("C")
    b = gateway.read_customer_bundle(res.customer_code)
    assert (b.customer.last_name, b.customer.tax_code, b.customer.birth_date,
            b.customer.email) == ("Verdi", "VRDNNA80A41H501X", dt.date(1980, 1, 1),
                                  "anna.verdi@example.it")
    [sp] = b.supply_points
    assert (sp.code, sp.status, sp.pdr, sp.payment_method, sp.iban, sp.mail_address) == \
        (res.supply_point_code, "not_invoiceable", "01234567890123", "sdd", GOOD_IBAN,
         "Via Mare 2")
    assert _applied(sim, k) == 1
    watermark = sim.stats()["row_version"]
    gateway.mark_invoiceable(key(), sp.code)
    changed = gateway.read_changes(Entity.SUPPLY_POINT, watermark, None, 100).records
    assert [(s.code, s.status) for s in changed] == [(sp.code, "active")]
    assert changed[0].activation_date is not None
    # a second contract for the now existing customer
    res2 = gateway.create_contract(key(), ContractExport(
        "CT-2026-0002", res.customer_code, CustomerUpdate(""), "electricity", "",
        "IT012E12345678", "Via Po 1", "00185", "Roma", "RM", "domestic", "BTD",
        "Luce Monoraria", 2700, "postal_slip"))
    assert res2.customer_code == res.customer_code and res2.supply_point_code != sp.code


def test_export_commissions_idempotent(gateway, sim):
    lines = [CommissionLine("AG001", "CT-2026-0001", "2026-10", Decimal("45.50"), "new gas"),
             CommissionLine("AG002", "CT-2026-0002", "2026-10", Decimal("30.00"), "new power")]
    k = key()
    batch = gateway.export_commissions(k, lines)
    assert batch.startswith("CB")
    assert gateway.export_commissions(k, lines) == batch
    assert gateway.export_commissions(key(), lines[:1]) != batch
    assert _applied(sim, k) == 1


def test_same_key_for_another_operation_is_a_fault(gateway, db):
    sp = db.execute("SELECT No FROM supply_point ORDER BY No LIMIT 1").fetchone()[0]
    k = key()
    gateway.revoke_mandate(k, sp)
    with pytest.raises(BillingError) as err:
        gateway.mark_invoiceable(k, sp)
    assert err.value.kind is FaultKind.FAULT


def test_invoice_pdf(gateway, db):
    no = db.execute("SELECT No FROM sales_invoice ORDER BY No LIMIT 1 OFFSET 5").fetchone()[0]
    pdf = gateway.invoice_pdf(no)
    assert pdf.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert no in text
    assert gateway.invoice_pdf("FT1999-0000000") is None


def test_ping(gateway):
    gateway.ping()
