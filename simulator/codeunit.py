"""Codeunit `PortalServices`: the portal's write operations (+ PDF, Ping).

Every write takes an `idempotencyKey`: the first call applies and stores its result in
`applied_op`; a repeat returns the stored result without applying again. Writes run in one
`BEGIN IMMEDIATE` transaction each; triggers bump Row_Version of every record touched.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
from decimal import Decimal, InvalidOperation

from spyne import (Application, Boolean, ComplexModel, Date, Integer, Long, ServiceBase,
                   Unicode, rpc)
from spyne import Decimal as SDecimal
from spyne.protocol.soap import Soap11
from stdnum import iban as stdnum_iban

from .generator import site_coefficient, smc
from .pages import nav_fault
from .pdf import invoice_pdf

NAME = "PortalServices"
NS = f"urn:microsoft-dynamics-schemas/codeunit/{NAME}"


class CommissionLine(ComplexModel):
    __namespace__ = NS
    _type_info = [("agentCode", Unicode), ("contractNo", Unicode), ("period", Unicode),
                  ("amount", SDecimal), ("reason", Unicode)]


class CommissionEntry(ComplexModel):
    """A commission line as billing holds it (agent's ledger), with the batch it came in."""
    __namespace__ = NS
    _type_info = [("batchNo", Unicode), ("agentCode", Unicode), ("contractNo", Unicode),
                  ("period", Unicode), ("amount", SDecimal), ("reason", Unicode)]


# why billing holds a self-reading whose unusual consumption the customer confirmed
FLAGGED_REASON = "Consumo fuori dalla media confermato dal cliente: lettura in verifica"

def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def _not_found(table: str, field: str, value) -> Exception:
    return nav_fault(f"The {table} does not exist. Identification fields and values: "
                     f"{field}='{value}'")


def _next_no(conn, table: str, prefix: str, width: int) -> str:
    row = conn.execute(f"SELECT max(No) FROM {table} WHERE No GLOB ?", (prefix + "[0-9]*",)
                       ).fetchone()
    n = int(row[0][len(prefix):]) + 1 if row and row[0] else 1
    return f"{prefix}{n:0{width}d}"


# How the current thread's write ends (the SAP flavour drives the NAV writes through this):
# `commit` False rolls the write back (a BAPI without its commit); `repeat` tells afterwards
# that the key had been applied before.
CALL = threading.local()


def idempotent(state, key, operation: str, apply):
    """Run `apply(conn)` once per key; a repeat returns the first result."""
    CALL.repeat = False
    if not key:
        raise nav_fault("The idempotencyKey parameter must have a value.")
    conn = state.pool.get()
    with state.pool.write_lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT operation, result FROM applied_op WHERE idem_key = ?",
                               (key,)).fetchone()
            if row is not None:
                conn.execute("ROLLBACK")
                if row[0] != operation:
                    raise nav_fault(f"The idempotency key {key} was already used for "
                                    f"{row[0]}.")
                state.stats.count(NAME, operation + ":repeat")
                CALL.repeat = True
                return json.loads(row[1])
            result = apply(conn)
            if not getattr(CALL, "commit", True):
                conn.execute("ROLLBACK")
                return result
            conn.execute("INSERT INTO applied_op (idem_key, operation, result, applied_at) "
                         "VALUES (?, ?, ?, ?)", (key, operation, json.dumps(result), _now()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    state.stats.count(NAME, operation + ":applied")
    return result


def _supply_point(conn, no):
    row = conn.execute("SELECT No, Customer_No, Account_Holder FROM supply_point WHERE No = ?",
                       (no or "",)).fetchone()
    if row is None:
        raise _not_found("Supply Point", "No", no)
    return row


def _set(conn, table: str, pk_value, values: dict) -> None:
    values = {k: v for k, v in values.items() if v not in (None, "")}
    if not values:
        # nothing to change: still a modification (bumps Row_Version), like NAV's MODIFY
        conn.execute(f"UPDATE {table} SET Last_Modified_At = ? WHERE No = ?", (_now(), pk_value))
        return
    cols = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE {table} SET {cols} WHERE No = ?", (*values.values(), pk_value))


def _customer_values(lastName, firstName, companyName, taxCode, vatRegistrationNo, birthDate,
                     address, postCode, city, province, phoneNo, eMail) -> dict:
    v = {"Last_Name": lastName, "First_Name": firstName, "Tax_Code": (taxCode or "").upper(),
         "VAT_Registration_No": vatRegistrationNo,
         "Date_of_Birth": birthDate.isoformat() if birthDate else None,
         "Address": address, "Post_Code": postCode, "City": city, "County": province,
         "Phone_No": phoneNo, "E_Mail": eMail}
    if companyName:
        v["Name"] = companyName
    elif lastName or firstName:
        v["Name"] = f"{lastName or ''} {firstName or ''}".strip()
    return v


def _check_iban(iban: str) -> str:
    compact = stdnum_iban.compact(iban or "")
    if not stdnum_iban.is_valid(compact):
        raise nav_fault("The IBAN is not valid.")  # never echo the IBAN
    return compact


def revoke_mandate(conn, supply_point_no: str) -> None:
    """End direct debit: the mandate in force is revoked, payment back to postal slip."""
    conn.execute("UPDATE sepa_mandate SET Status = 'revoked', Changed_At = ? WHERE "
                 "Reference = (SELECT Mandate_Reference FROM supply_point WHERE No = ?)",
                 (_now(), supply_point_no))
    conn.execute("UPDATE supply_point SET Payment_Method = 'postal_slip', IBAN = '', "
                 "Account_Holder = '', Mandate_Status = CASE Mandate_Reference WHEN '' THEN '' "
                 "ELSE 'revoked' END WHERE No = ?", (supply_point_no,))


def decide_mandate(conn, reference: str, status: str, reason: str = "", *,
                   supply_point_no: str = "") -> dict:
    """The bank's (or the back office's) answer to a pending mandate: `active` puts it in force
    (the previous one ends as replaced), `rejected` keeps the reason. Empty `reference`: the
    supply point's latest request. Raises LookupError for an unknown or already decided one."""
    if status not in ("active", "rejected"):
        raise LookupError(f"Unknown mandate status '{status}'.")
    if not reference:
        row = conn.execute("SELECT Mandate_Request_No FROM supply_point WHERE No = ?",
                           (supply_point_no,)).fetchone()
        reference = row[0] if row else ""
    m = conn.execute("SELECT Supply_Point_No, IBAN, Account_Holder, Status FROM sepa_mandate "
                     "WHERE Reference = ?", (reference,)).fetchone()
    if m is None or (supply_point_no and m[0] != supply_point_no):
        raise LookupError(f"The SEPA Direct-Debit Mandate does not exist. Identification fields "
                          f"and values: ID='{reference}'")
    sp_no, iban, holder, current = m
    if current == status:
        return {"reference": reference, "status": status, "supply_point": sp_no}
    if current != "pending":
        raise LookupError(f"The mandate {reference} is {current}: only a pending mandate can be "
                          f"made {status}.")
    now = _now()
    conn.execute("UPDATE sepa_mandate SET Status = ?, Reason = ?, Changed_At = ? "
                 "WHERE Reference = ?", (status, reason if status == "rejected" else "", now,
                                         reference))
    request_cols = ("Mandate_Request_Status = ?, Mandate_Reject_Reason = ?",
                    (status, reason if status == "rejected" else ""))
    is_latest = conn.execute("SELECT Mandate_Request_No = ? FROM supply_point WHERE No = ?",
                             (reference, sp_no)).fetchone()[0]
    if status == "active":
        conn.execute("UPDATE sepa_mandate SET Status = 'replaced', Changed_At = ? WHERE "
                     "Reference = (SELECT Mandate_Reference FROM supply_point WHERE No = ?) "
                     "AND Reference != ?", (now, sp_no, reference))
        conn.execute("UPDATE supply_point SET Payment_Method = 'sdd', IBAN = ?, "
                     "Account_Holder = ?, Mandate_Reference = ?, Mandate_Status = 'active' "
                     "WHERE No = ?", (iban, holder, reference, sp_no))
    if is_latest:
        conn.execute(f"UPDATE supply_point SET {request_cols[0]} WHERE No = ?",
                     (*request_cols[1], sp_no))
    return {"reference": reference, "status": status, "supply_point": sp_no}


def build_codeunit_app(state) -> Application:
    class PortalServices(ServiceBase):
        @rpc(_returns=Unicode, _out_message_name="Ping_Result",
             _out_variable_name="return_value")
        def Ping(ctx):
            return f"pong {_now()}"

        @rpc(_returns=Long, _out_message_name="GetCurrentVersion_Result",
             _out_variable_name="return_value")
        def GetCurrentVersion(ctx):
            """The highest Row_Version handed out so far (like SQL Server's @@DBTS)."""
            return state.pool.get().execute("SELECT v FROM rv_counter").fetchone()[0]

        @rpc(Unicode, Unicode, Unicode, Date, Integer, Integer, Boolean, _returns=Integer,
             _out_message_name="SubmitReading_Result", _out_variable_name="return_value")
        def SubmitReading(ctx, idempotencyKey, supplyPointNo, meterSerialNo, readingDate,
                          readingValue, correctorValue, flagged):
            def apply(conn):
                _supply_point(conn, supplyPointNo)
                m = conn.execute("SELECT Digits, Has_Corrector, Corrector_Digits FROM meter WHERE "
                                 "Serial_No = ? AND Supply_Point_No = ?",
                                 (meterSerialNo, supplyPointNo)).fetchone()
                if m is None:
                    raise _not_found("Meter", "Serial_No", meterSerialNo)
                if readingDate is None or readingValue is None:
                    raise nav_fault("readingDate and readingValue must have a value.")
                if not 0 <= readingValue < 10 ** m[0]:
                    raise nav_fault(f"The reading {readingValue} does not fit a meter with "
                                    f"{m[0]} digits.")
                prev = conn.execute(
                    "SELECT Reading_Value, Corrector_Value FROM meter_reading WHERE "
                    "Meter_Serial_No = ? AND Status <> 'rejected' AND Reading_Date <= ? ORDER BY "
                    "Reading_Date DESC, Entry_No DESC LIMIT 1",
                    (meterSerialNo, readingDate.isoformat())).fetchone()
                coefficient = conn.execute(
                    "SELECT Service, Conversion_Coefficient FROM supply_point WHERE No = ?",
                    (supplyPointNo,)).fetchone()
                consumption = None
                if prev and m[1] and correctorValue is not None and prev[1] is not None:
                    # the corrector's difference is the volume in Smc (both may pass zero)
                    consumption = (correctorValue - prev[1]) % 10 ** (m[2] or 9)
                elif prev:
                    m3 = (readingValue - prev[0]) % 10 ** m[0]
                    consumption = smc(m3, coefficient[1] or "1") if coefficient[0] == "gas" else m3
                cur = conn.execute(
                    "INSERT INTO meter_reading (Supply_Point_No, Meter_Serial_No, Reading_Date, "
                    "Reading_Value, Corrector_Value, Reading_Type, Source, Status, Consumption,"
                    " Status_Reason, Row_Version) VALUES (?, ?, ?, ?, ?, 'self', 'customer', ?, ?,"
                    " ?, 0)",
                    (supplyPointNo, meterSerialNo, readingDate.isoformat(), readingValue,
                     correctorValue, "pending" if flagged else "valid", consumption,
                     FLAGGED_REASON if flagged else ""))
                return cur.lastrowid
            return idempotent(state, idempotencyKey, "SubmitReading", apply)

        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Date, Unicode,
             Unicode, Unicode, Unicode, Unicode, Unicode, _returns=Boolean,
             _out_message_name="UpdateCustomer_Result", _out_variable_name="return_value")
        def UpdateCustomer(ctx, idempotencyKey, customerNo, lastName, firstName, companyName,
                           taxCode, vatRegistrationNo, birthDate, address, postCode, city,
                           province, phoneNo, eMail):
            def apply(conn):
                if conn.execute("SELECT 1 FROM customer WHERE No = ?", (customerNo or "",)
                                ).fetchone() is None:
                    raise _not_found("Customer", "No", customerNo)
                _set(conn, "customer", customerNo, _customer_values(
                    lastName, firstName, companyName, taxCode, vatRegistrationNo, birthDate,
                    address, postCode, city, province, phoneNo, eMail))
                return True
            return idempotent(state, idempotencyKey, "UpdateCustomer", apply)

        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, _returns=Boolean,
             _out_message_name="UpdateMailingAddress_Result", _out_variable_name="return_value")
        def UpdateMailingAddress(ctx, idempotencyKey, supplyPointNo, name, address, postCode,
                                 city, province):
            def apply(conn):
                _supply_point(conn, supplyPointNo)
                conn.execute("UPDATE supply_point SET Mail_Name = ?, Mail_Address = ?, "
                             "Mail_Post_Code = ?, Mail_City = ?, Mail_County = ? WHERE No = ?",
                             (name or "", address or "", postCode or "", city or "",
                              province or "", supplyPointNo))
                return True
            return idempotent(state, idempotencyKey, "UpdateMailingAddress", apply)

        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             Unicode, _returns=Unicode, _out_message_name="RequestMandate_Result",
             _out_variable_name="return_value")
        def RequestMandate(ctx, idempotencyKey, supplyPointNo, iban, holderLastName,
                           holderFirstName, holderTaxCode, bank, branch, branchAddress,
                           mandateReference):
            def apply(conn):
                _supply_point(conn, supplyPointNo)
                compact = _check_iban(iban)
                ref = mandateReference
                if not ref:
                    n = conn.execute("SELECT count(*) FROM applied_op WHERE operation = "
                                     "'RequestMandate'").fetchone()[0] + 1
                    ref = f"MND-{supplyPointNo}-{n:04d}"
                holder = f"{holderLastName or ''} {holderFirstName or ''}".strip()
                # Registered as pending: billing debits only once the mandate is active.
                conn.execute("INSERT OR REPLACE INTO sepa_mandate (Reference, Supply_Point_No, "
                             "IBAN, Account_Holder, Status, Reason, Created_At) VALUES "
                             "(?, ?, ?, ?, 'pending', '', ?)",
                             (ref, supplyPointNo, compact, holder, _now()))
                conn.execute("UPDATE supply_point SET Mandate_Request_No = ?, "
                             "Mandate_Request_Status = 'pending', Mandate_Reject_Reason = '' "
                             "WHERE No = ?", (ref, supplyPointNo))
                return ref
            return idempotent(state, idempotencyKey, "RequestMandate", apply)

        @rpc(Unicode, Unicode, _returns=Boolean, _out_message_name="RevokeMandate_Result",
             _out_variable_name="return_value")
        def RevokeMandate(ctx, idempotencyKey, supplyPointNo):
            def apply(conn):
                _supply_point(conn, supplyPointNo)
                revoke_mandate(conn, supplyPointNo)
                return True
            return idempotent(state, idempotencyKey, "RevokeMandate", apply)

        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, _returns=Boolean,
             _out_message_name="SetMandateStatus_Result", _out_variable_name="return_value")
        def SetMandateStatus(ctx, idempotencyKey, supplyPointNo, mandateReference, status,
                             reason):
            def apply(conn):
                _supply_point(conn, supplyPointNo)
                try:
                    decide_mandate(conn, mandateReference or "", status or "", reason or "",
                                   supply_point_no=supplyPointNo)
                except LookupError as exc:
                    raise nav_fault(str(exc)) from None
                return True
            return idempotent(state, idempotencyKey, "SetMandateStatus", apply)

        @rpc(Unicode, Unicode, Unicode,
             Unicode, Unicode, Unicode, Unicode, Unicode, Date, Unicode, Unicode, Unicode,
             Unicode, Unicode, Unicode, Unicode,
             Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             Integer, Unicode, Unicode, Unicode,
             Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             _returns=(Unicode, Unicode, Unicode),
             _out_message_name="CreateContract_Result",
             _out_variable_names=("reservationNo", "customerNo", "supplyPointNo"))
        def CreateContract(ctx, idempotencyKey, contractNo, customerNo,
                           lastName, firstName, companyName, taxCode, vatRegistrationNo,
                           birthDate, address, postCode, city, province, phoneNo, eMail,
                           language,
                           service, pdr, pod, spAddress, spPostCode, spCity, spProvince,
                           useType, withdrawalClass, annualConsumption, tariffOption,
                           paymentMethod, iban,
                           accountHolder, mailName, mailAddress, mailPostCode, mailCity,
                           mailProvince):
            def apply(conn):
                cust = customerNo
                if cust:
                    if conn.execute("SELECT 1 FROM customer WHERE No = ?", (cust,)
                                    ).fetchone() is None:
                        raise _not_found("Customer", "No", cust)
                else:
                    cust = _next_no(conn, "customer", "C", 7)
                    vals = _customer_values(lastName, firstName, companyName, taxCode,
                                            vatRegistrationNo, birthDate, address, postCode,
                                            city, province, phoneNo, eMail)
                    vals = {k: (v or "") if k != "Date_of_Birth" else v
                            for k, v in vals.items()}
                    vals.setdefault("Name", "")
                    kind = "company" if companyName and not firstName else "person"
                    lang = "ENU" if (language or "").lower().startswith("en") else "ITA"
                    conn.execute(
                        "INSERT INTO customer (No, Partner_Type, Language_Code, Row_Version, "
                        + ", ".join(vals) + ") VALUES (?, ?, ?, 0, "
                        + ", ".join("?" * len(vals)) + ")",
                        (cust, kind, lang, *vals.values()))
                sp = _next_no(conn, "supply_point", "SP", 8)
                method = paymentMethod or "postal_slip"
                compact, ref = "", ""
                if method == "sdd":
                    compact = _check_iban(iban)
                    ref = f"MND-{sp}-0001"
                conn.execute(
                    "INSERT INTO supply_point (No, Customer_No, Service, PDR, POD, Address, "
                    "Post_Code, City, County, Use_Type, Withdrawal_Class, Tariff_Option, "
                    "Annual_Consumption, Status, Payment_Method, IBAN, Account_Holder, "
                    "Mandate_Reference, Mail_Name, Mail_Address, Mail_Post_Code, Mail_City, "
                    "Mail_County, Activation_Date, Conversion_Coefficient, Mandate_Status, "
                    "Row_Version) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'not_invoiceable', ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?, NULL, ?, ?, 0)",
                    (sp, cust, service or "", pdr or "", pod or "", spAddress or "",
                     spPostCode or "", spCity or "", spProvince or "", useType or "",
                     withdrawalClass or "", tariffOption or "", annualConsumption or 0, method,
                     compact, accountHolder or "" if compact else "", ref, mailName or "",
                     mailAddress or "", mailPostCode or "", mailCity or "", mailProvince or "",
                     site_coefficient(random.Random(sp)) if service == "gas" else "1.000000",
                     "active" if compact else ""))
                res = _next_no(conn, "reservation", "PR", 8)
                conn.execute("INSERT INTO reservation VALUES (?, ?, ?, ?, ?)",
                             (res, contractNo or "", cust, sp, _now()))
                return [res, cust, sp]
            return tuple(idempotent(state, idempotencyKey, "CreateContract", apply))

        @rpc(Unicode, Unicode, _returns=Boolean, _out_message_name="MarkInvoiceable_Result",
             _out_variable_name="return_value")
        def MarkInvoiceable(ctx, idempotencyKey, supplyPointNo):
            def apply(conn):
                _supply_point(conn, supplyPointNo)
                conn.execute("UPDATE supply_point SET Status = 'active', Activation_Date = "
                             "coalesce(Activation_Date, ?) WHERE No = ?",
                             (dt.date.today().isoformat(), supplyPointNo))
                return True
            return idempotent(state, idempotencyKey, "MarkInvoiceable", apply)

        @rpc(Unicode, Unicode, Boolean, Unicode, Unicode, _returns=Boolean,
             _out_message_name="SetInvoiceDelivery_Result", _out_variable_name="return_value")
        def SetInvoiceDelivery(ctx, idempotencyKey, supplyPointNo, enabled, mode, emails):
            def apply(conn):
                _supply_point(conn, supplyPointNo)
                if (mode or "") not in ("link", "pdf"):
                    raise nav_fault(f"Invoice delivery mode must be link or pdf, not {mode!r}")
                addresses = [a for a in (emails or "").split(";") if a]
                if len(addresses) > 4:
                    raise nav_fault("At most four e-mail addresses per supply point")
                conn.execute("INSERT INTO invoice_delivery VALUES (?, ?, ?, ?, ?) ON CONFLICT"
                             "(Supply_Point_No) DO UPDATE SET Enabled = excluded.Enabled, "
                             "Mode = excluded.Mode, E_Mails = excluded.E_Mails, "
                             "Modified_At = excluded.Modified_At",
                             (supplyPointNo, 1 if enabled else 0, mode, ";".join(addresses), _now()))
                return True
            return idempotent(state, idempotencyKey, "SetInvoiceDelivery", apply)

        @rpc(Unicode, CommissionLine.customize(max_occurs="unbounded"), _returns=Unicode,
             _out_message_name="ExportCommissions_Result", _out_variable_name="return_value")
        def ExportCommissions(ctx, idempotencyKey, lines):
            def apply(conn):
                n = conn.execute("SELECT count(DISTINCT Batch_No) FROM commission_line"
                                 ).fetchone()[0] + 1
                batch = f"CB{n:06d}"
                rows = []
                for ln in lines or []:
                    try:
                        cents = int(Decimal(ln.amount or 0) * 100)
                    except InvalidOperation:
                        raise nav_fault("A commission amount is not valid.") from None
                    rows.append((batch, ln.agentCode, ln.contractNo, ln.period, cents,
                                 ln.reason))
                conn.executemany("INSERT INTO commission_line (Batch_No, Agent_Code, "
                                 "Contract_No, Period, Amount, Reason) VALUES (?, ?, ?, ?, ?, ?)",
                                 rows)
                return batch
            return idempotent(state, idempotencyKey, "ExportCommissions", apply)

        @rpc(Unicode, _returns=CommissionEntry.customize(max_occurs="unbounded"),
             _out_message_name="GetCommissionLines_Result", _out_variable_name="return_value")
        def GetCommissionLines(ctx, period):
            """The commission lines billing holds for a period (what it will pay the agents)."""
            conn = state.pool.get()
            rows = conn.execute("SELECT Batch_No, Agent_Code, Contract_No, Period, Amount, Reason "
                                "FROM commission_line WHERE Period = ? ORDER BY id", (period or "",))
            return [CommissionEntry(batchNo=b, agentCode=a, contractNo=c, period=p,
                                    amount=Decimal(cents or 0) / 100, reason=r)
                    for b, a, c, p, cents, r in rows]

        @rpc(Unicode, _returns=Unicode, _out_message_name="GetInvoicePdf_Result",
             _out_variable_name="return_value")
        def GetInvoicePdf(ctx, invoiceNo):
            conn = state.pool.get()
            cur = conn.execute("SELECT * FROM sales_invoice WHERE No = ?", (invoiceNo or "",))
            row = cur.fetchone()
            if row is None:
                return None
            inv = dict(zip([d[0] for d in cur.description], row))
            cur = conn.execute("SELECT * FROM customer WHERE No = ?", (inv["Customer_No"],))
            crow = cur.fetchone()
            cust = dict(zip([d[0] for d in cur.description], crow)) if crow else None
            cur = conn.execute("SELECT * FROM supply_point WHERE No = ?", (inv["Supply_Point_No"],))
            srow = cur.fetchone()
            supply = dict(zip([d[0] for d in cur.description], srow)) if srow else None
            # the readings that close the period (a reading up to a month after its end)
            cur = conn.execute(
                "SELECT * FROM meter_reading WHERE Supply_Point_No = ? AND Reading_Date > ? "
                "AND Reading_Date <= date(?, '+31 days') AND Status != 'rejected' "
                "ORDER BY Reading_Date", (inv["Supply_Point_No"], inv["Period_From"] or "",
                                          inv["Period_To"] or inv["Posting_Date"]))
            readings = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
            pdf = invoice_pdf(inv, json.loads(inv["Lines"]), cust, supply, readings)
            return base64.b64encode(pdf).decode("ascii")

    return Application([PortalServices], tns=NS, name=NAME, in_protocol=Soap11(),
                       out_protocol=Soap11())
