"""BillingGateway over Dynamics NAV SOAP web services (page + codeunit services), with suds.

One suds client per service (`<base>/Page/Customer`, ..., `<base>/Codeunit/PortalServices`);
the plumbing (request building, POST, failure classes) is `soap.SoapClient`.

Authentication: HTTP basic when `username` is set (NAV "NavUserPassword" / BC web-service access
key), or NTLM (Windows authentication) with `auth="ntlm"` (BILLING_AUTH=ntlm): a requests session
with requests-ntlm carries both the WSDL fetch and the calls (see `soap.RequestsTransport`).

Field names are data (`FIELDS` below): another NAV installation with other page field names needs
only a different mapping.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import re
from decimal import Decimal, InvalidOperation
from typing import Callable

from .gateway import (BillingError, CommissionLine, ContractExport, ContractResult,
                      CustomerBundle, CustomerRecord, CustomerUpdate, DeletionRecord, Entity,
                      FaultKind,
                      InvoiceLineRecord, InvoiceRecord, MailingAddress, MandateRequest,
                      MeterRecord, Page, PaymentRecord, ReadingRecord, ReadingSubmission,
                      SupplyPointRecord)
from .soap import SoapClient, _mask

CODEUNIT = "PortalServices"
_MODIFIED_RE = re.compile(r"another user has modified the record", re.I)
PAGES = {Entity.CUSTOMER: "Customer", Entity.SUPPLY_POINT: "SupplyPoint",
         Entity.METER: "Meter", Entity.READING: "MeterReading",
         Entity.INVOICE: "SalesInvoice", Entity.PAYMENT: "Payment"}


# --- value converters (SOAP text -> python) --------------------------------------------------

def _s(v: str) -> str:
    return v


def _int(v: str) -> int:
    return int(v) if v else 0


def _int_or_none(v: str) -> int | None:
    return int(v) if v else None


def _money(v: str) -> Decimal:
    return Decimal(v) if v else Decimal("0")


def _coefficient(v: str) -> Decimal:
    """Gas conversion coefficient C; absent or zero means no conversion (1)."""
    c = Decimal(v) if v else Decimal(1)
    return c if c > 0 else Decimal(1)


def _corrector_digits(v: str) -> int:
    return int(v) if v and int(v) > 0 else 9


def _date(v: str) -> dt.date | None:
    if not v or v.startswith("0001-01-01"):
        return None
    return dt.date.fromisoformat(v[:10])


def _date_req(v: str) -> dt.date:
    d = _date(v)
    if d is None:
        raise ValueError("a required date is empty")
    return d


def _datetime(v: str) -> dt.datetime | None:
    if not v or v.startswith("0001-01-01"):
        return None
    return dt.datetime.fromisoformat(v.replace("Z", "+00:00"))


def _bool(v: str) -> bool:
    return v.strip().lower() in ("true", "1", "yes")


def _lower(v: str) -> str:
    return v.lower()


_LANGS = {"ITA": "it", "ENU": "en", "ENG": "en", "ENG-GB": "en"}


def _lang(v: str) -> str:
    return _LANGS.get(v.upper(), v[:2].lower()) if v else "it"


# dataclass attribute -> (NAV field, converter); "version"/"modified_at" are common
_COMMON = [("version", "Row_Version", _int), ("modified_at", "Last_Modified_At", _datetime)]
FIELDS: dict[Entity, list[tuple[str, str, Callable]]] = {
    Entity.CUSTOMER: [
        ("code", "No", _s), ("kind", "Partner_Type", _lower), ("last_name", "Last_Name", _s),
        ("first_name", "First_Name", _s), ("company_name", "Name", _s),
        ("tax_code", "Tax_Code", _s), ("vat_number", "VAT_Registration_No", _s),
        ("birth_date", "Date_of_Birth", _date), ("address", "Address", _s),
        ("post_code", "Post_Code", _s), ("city", "City", _s), ("province", "County", _s),
        ("phone", "Phone_No", _s), ("email", "E_Mail", _s),
        ("language", "Language_Code", _lang)],
    Entity.SUPPLY_POINT: [
        ("code", "No", _s), ("customer_code", "Customer_No", _s), ("service", "Service", _lower),
        ("pdr", "PDR", _s), ("pod", "POD", _s), ("address", "Address", _s),
        ("post_code", "Post_Code", _s), ("city", "City", _s), ("province", "County", _s),
        ("use_type", "Use_Type", _lower), ("withdrawal_class", "Withdrawal_Class", _s),
        ("tariff_option", "Tariff_Option", _s),
        ("annual_consumption", "Annual_Consumption", _int), ("status", "Status", _lower),
        ("payment_method", "Payment_Method", _lower), ("iban", "IBAN", _s),
        ("account_holder", "Account_Holder", _s),
        ("mandate_reference", "Mandate_Reference", _s), ("mail_name", "Mail_Name", _s),
        ("mail_address", "Mail_Address", _s), ("mail_post_code", "Mail_Post_Code", _s),
        ("mail_city", "Mail_City", _s), ("mail_province", "Mail_County", _s),
        ("activation_date", "Activation_Date", _date),
        ("conversion_coefficient", "Conversion_Coefficient", _coefficient),
        ("mandate_status", "Mandate_Status", _lower),
        ("mandate_request_reference", "Mandate_Request_No", _s),
        ("mandate_request_status", "Mandate_Request_Status", _lower),
        ("mandate_reject_reason", "Mandate_Reject_Reason", _s)],
    Entity.METER: [
        ("serial", "Serial_No", _s), ("supply_point_code", "Supply_Point_No", _s),
        ("digits", "Digits", _int), ("has_corrector", "Has_Corrector", _bool),
        ("corrector_serial", "Corrector_Serial_No", _s),
        ("installed_on", "Installation_Date", _date), ("removed_on", "Removal_Date", _date),
        ("corrector_digits", "Corrector_Digits", _corrector_digits)],
    Entity.READING: [
        ("entry_no", "Entry_No", _int), ("supply_point_code", "Supply_Point_No", _s),
        ("meter_serial", "Meter_Serial_No", _s), ("reading_date", "Reading_Date", _date_req),
        ("value", "Reading_Value", _int), ("corrector_value", "Corrector_Value", _int_or_none),
        ("reading_type", "Reading_Type", _lower), ("source", "Source", _lower),
        ("status", "Status", _lower), ("consumption", "Consumption", _int_or_none),
        ("status_reason", "Status_Reason", _s)],
    Entity.INVOICE: [
        ("number", "No", _s), ("customer_code", "Customer_No", _s),
        ("supply_point_code", "Supply_Point_No", _s), ("invoice_date", "Posting_Date", _date_req),
        ("due_date", "Due_Date", _date_req), ("invoice_type", "Document_Type", _lower),
        ("period_from", "Period_From", _date), ("period_to", "Period_To", _date),
        ("consumption", "Consumption", _int_or_none), ("unit", "Unit_of_Measure", _s),
        ("amount", "Amount_Including_VAT", _money), ("amount_paid", "Amount_Paid", _money),
        ("status", "Status", _lower), ("web_code", "Web_Code", _s)],
    Entity.PAYMENT: [
        ("entry_no", "Entry_No", _int), ("invoice_number", "Invoice_No", _s),
        ("customer_code", "Customer_No", _s), ("payment_date", "Posting_Date", _date_req),
        ("amount", "Amount", _money), ("method", "Payment_Method", _lower),
        ("paid_at", "Where_Paid", _s)],
}
for _f in FIELDS.values():
    _f.extend(_COMMON)
RECORD_CLASS = {Entity.CUSTOMER: CustomerRecord, Entity.SUPPLY_POINT: SupplyPointRecord,
                Entity.METER: MeterRecord, Entity.READING: ReadingRecord,
                Entity.INVOICE: InvoiceRecord, Entity.PAYMENT: PaymentRecord}
KEY_FIELD = {Entity.CUSTOMER: "No", Entity.SUPPLY_POINT: "No", Entity.METER: "Serial_No",
             Entity.READING: "Entry_No", Entity.INVOICE: "No", Entity.PAYMENT: "Entry_No"}
INVOICE_LINES = ("SalesLines", "Sales_Invoice_Line")
LINE_FIELDS = [("line_no", "Line_No", _int), ("description", "Description", _s),
               ("quantity", "Quantity", _money), ("unit_price", "Unit_Price", _money),
               ("amount", "Line_Amount", _money), ("vat_percent", "VAT_Percent", _money)]


class NavGateway(SoapClient):
    """BillingGateway for Dynamics NAV SOAP services at `base_url` (`.../WS/<Company>`)."""

    def _url(self, service: str) -> str:
        kind = "Codeunit" if service == CODEUNIT else "Page"
        return f"{self.base_url}/{kind}/{service}"

    # --- page reads ------------------------------------------------------------------------
    def _read_multiple(self, entity: Entity, filters: list[tuple[str, str]],
                       bookmark: str | None, size: int) -> tuple[list, str | None]:
        service = PAGES[entity]
        resp = self._call(service, "ReadMultiple",
                          filter=[{"Field": f, "Criteria": c} for f, c in filters],
                          bookmarkKey=bookmark, setSize=size)
        ns = resp.tag[:resp.tag.index("}") + 1] if resp.tag.startswith("{") else ""
        read, key_tag = _reader(entity, ns), ns + "Key"
        records, last_key = [], None
        try:
            for el in resp.iter(ns + service):
                record, d = read(el)
                records.append(record)
                last_key = d.get(key_tag) or None
        except (KeyError, ValueError, InvalidOperation, TypeError) as exc:
            raise BillingError(FaultKind.MALFORMED, "ReadMultiple",
                               f"unexpected {service} record: {type(exc).__name__}",
                               service=service, detail=_mask(str(exc))[:300]) from None
        return records, last_key

    def _read_all(self, entity: Entity, filters: list[tuple[str, str]]) -> list:
        out, bookmark = [], None
        while True:
            recs, key = self._read_multiple(entity, filters, bookmark, self.page_size)
            out.extend(recs)
            if len(recs) < self.page_size or not key:
                return out
            bookmark = key

    # --- BillingGateway ----------------------------------------------------------------------
    def ping(self) -> None:
        self._call(CODEUNIT, "Ping")

    def current_version(self) -> int:
        return _checked(int, _return_value(self._call(CODEUNIT, "GetCurrentVersion")),
                        "GetCurrentVersion")

    def read_changes(self, entity: Entity, since_version: int, bookmark: str | None,
                     page_size: int, until_version: int | None = None) -> Page:
        """ReadMultiple filtered on Row_Version (`>since` or `since+1..until`), one page; the
        bookmark is the Key of the last record, None when the page was not full."""
        entity = Entity(entity)
        since = int(since_version)
        if until_version is None:
            criteria = f">{since}"
        elif int(until_version) <= since:
            return Page([], None)
        else:
            criteria = f"{since + 1}..{int(until_version)}"
        records, key = self._read_multiple(entity, [("Row_Version", criteria)], bookmark,
                                           page_size)
        return Page(records, key if len(records) >= page_size and key else None)

    def read_deletions(self, since_version: int, until_version: int) -> list[DeletionRecord]:
        """The Change Log Entry page (table 405), type Deletion, for customers (table 18) and
        supply points (50100)."""
        if int(until_version) <= int(since_version):
            return []
        out, bookmark = [], None
        filters = [("Type_of_Change", "Deletion"), ("Table_No", "18|50100"),
                   ("Row_Version", f"{int(since_version) + 1}..{int(until_version)}")]
        while True:
            resp = self._call("ChangeLogEntry", "ReadMultiple",
                              filter=[{"Field": f, "Criteria": c} for f, c in filters],
                              bookmarkKey=bookmark, setSize=self.page_size)
            rows = [_children(el) for el in resp.iter("{*}ChangeLogEntry")]
            try:
                out += [DeletionRecord(Entity.CUSTOMER if r["Table_No"] == "18"
                                       else Entity.SUPPLY_POINT, r["Primary_Key_Field_1_Value"],
                                       int(r["Row_Version"]), r.get("Merged_Into", ""))
                        for r in rows]
            except (KeyError, ValueError):
                raise BillingError(FaultKind.MALFORMED, "ReadMultiple", "unexpected change log "
                                   "entry", service="ChangeLogEntry") from None
            if len(rows) < self.page_size:
                return out
            bookmark = rows[-1].get("Key")

    def read_customer_bundle(self, customer_code: str) -> CustomerBundle | None:
        resp = self._call("Customer", "Read", No=customer_code)
        ns = resp.tag[:resp.tag.index("}") + 1] if resp.tag.startswith("{") else ""
        el = resp.find(ns + "Customer")
        if el is None:
            return None
        try:
            customer = _reader(Entity.CUSTOMER, ns)(el)[0]
        except (KeyError, ValueError, TypeError) as exc:
            raise BillingError(FaultKind.MALFORMED, "Read", f"unexpected Customer record: "
                               f"{type(exc).__name__}", service="Customer") from None
        code = customer.code
        sps = self._read_all(Entity.SUPPLY_POINT, [("Customer_No", code)])
        sp_filter = "|".join(sp.code for sp in sps)
        meters = self._read_all(Entity.METER, [("Supply_Point_No", sp_filter)]) if sps else []
        readings = self._read_all(Entity.READING, [("Supply_Point_No", sp_filter)]) \
            if sps else []
        invoices = self._read_all(Entity.INVOICE, [("Customer_No", code)])
        payments = self._read_all(Entity.PAYMENT, [("Customer_No", code)])
        return CustomerBundle(customer, sps, meters, readings, invoices, payments)

    def invoice_pdf(self, invoice_number: str) -> bytes | None:
        text = _return_value(self._call(CODEUNIT, "GetInvoicePdf", invoiceNo=invoice_number))
        if not text:
            return None
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            raise BillingError(FaultKind.MALFORMED, "GetInvoicePdf", "the PDF is not base64",
                               service=CODEUNIT) from None

    def _write(self, operation: str, key: str, **params):
        """A codeunit write; NAV's "another user has modified the record" (the record changed
        between the codeunit's read and its MODIFY) is tried once more: the codeunit reads the
        record again, and the key keeps a write that did go through from applying twice."""
        try:
            return self._call(CODEUNIT, operation, idempotencyKey=key, **params)
        except BillingError as exc:
            if exc.kind is not FaultKind.FAULT or not _MODIFIED_RE.search(exc.message):
                raise
        return self._call(CODEUNIT, operation, idempotencyKey=key, **params)

    def submit_reading(self, key: str, reading: ReadingSubmission) -> int:
        resp = self._write("SubmitReading", key, supplyPointNo=reading.supply_point_code,
                           meterSerialNo=reading.meter_serial, readingDate=reading.reading_date,
                           readingValue=reading.value, correctorValue=reading.corrector_value,
                           flagged=bool(reading.flagged))
        return _checked(int, _return_value(resp), "SubmitReading")

    def update_customer(self, key: str, update: CustomerUpdate) -> None:
        self._write("UpdateCustomer", key, customerNo=update.customer_code,
                    **_customer_params(update))

    def update_mailing_address(self, key: str, address: MailingAddress) -> None:
        self._write("UpdateMailingAddress", key, supplyPointNo=address.supply_point_code,
                    name=address.name, address=address.address, postCode=address.post_code,
                    city=address.city, province=address.province)

    def set_invoice_delivery(self, key: str, supply_point_code: str, enabled: bool, mode: str,
                             emails: list[str]) -> None:
        self._write("SetInvoiceDelivery", key, supplyPointNo=supply_point_code,
                    enabled=bool(enabled), mode=mode, emails=";".join(emails))

    def request_mandate(self, key: str, mandate: MandateRequest) -> str:
        resp = self._write("RequestMandate", key, supplyPointNo=mandate.supply_point_code,
                           iban=mandate.iban, holderLastName=mandate.holder_last_name,
                           holderFirstName=mandate.holder_first_name,
                           holderTaxCode=mandate.holder_tax_code, bank=mandate.bank,
                           branch=mandate.branch, branchAddress=mandate.branch_address,
                           mandateReference=mandate.mandate_reference)
        return _return_value(resp)

    def revoke_mandate(self, key: str, supply_point_code: str) -> None:
        self._write("RevokeMandate", key, supplyPointNo=supply_point_code)

    def set_mandate_status(self, key: str, supply_point_code: str, mandate_reference: str,
                           status: str, reason: str = "") -> None:
        self._write("SetMandateStatus", key, supplyPointNo=supply_point_code,
                    mandateReference=mandate_reference, status=status, reason=reason)

    def create_contract(self, key: str, contract: ContractExport) -> ContractResult:
        c, m = contract, contract.mailing
        resp = self._write(
            "CreateContract", key, contractNo=c.contract_number, customerNo=c.customer_code,
            **_customer_params(c.customer), language=c.language or "it",
            service=c.service, pdr=c.pdr, pod=c.pod, spAddress=c.address,
            spPostCode=c.post_code, spCity=c.city, spProvince=c.province, useType=c.use_type,
            withdrawalClass=c.withdrawal_class, annualConsumption=c.annual_consumption,
            tariffOption=c.tariff_option, paymentMethod=c.payment_method, iban=c.iban,
            accountHolder=c.account_holder, mailName=m.name if m else "",
            mailAddress=m.address if m else "", mailPostCode=m.post_code if m else "",
            mailCity=m.city if m else "", mailProvince=m.province if m else "")
        vals = _children(resp)
        try:
            return ContractResult(vals["reservationNo"], vals["customerNo"],
                                  vals["supplyPointNo"])
        except KeyError:
            raise BillingError(FaultKind.MALFORMED, "CreateContract", "incomplete answer",
                               service=CODEUNIT) from None

    def mark_invoiceable(self, key: str, supply_point_code: str) -> None:
        self._write("MarkInvoiceable", key, supplyPointNo=supply_point_code)

    def export_commissions(self, key: str, lines: list[CommissionLine]) -> str:
        resp = self._write("ExportCommissions", key, lines=[
            {"agentCode": ln.agent_code, "contractNo": ln.contract_number, "period": ln.period,
             "amount": str(ln.amount), "reason": ln.reason} for ln in lines])
        return _return_value(resp)

    def commission_lines(self, period: str) -> list[CommissionLine]:
        resp = self._call(CODEUNIT, "GetCommissionLines", period=period)
        out = []
        for el in resp:
            if el.tag.rpartition("}")[2] != "return_value":
                continue
            v = _children(el)
            try:
                amount = Decimal(v.get("amount") or "0")
            except InvalidOperation:
                raise BillingError(FaultKind.MALFORMED, "GetCommissionLines", "an amount is not a number",
                                   service=CODEUNIT) from None
            out.append(CommissionLine(v.get("agentCode", ""), v.get("contractNo", ""), v.get("period", ""),
                                      amount, v.get("reason", ""), v.get("batchNo", "")))
        return out


# --- XML helpers -------------------------------------------------------------------------------



def _children(resp) -> dict:
    return {c.tag.rpartition("}")[2]: (c.text or "") for c in resp}


def _return_value(resp) -> str:
    return _children(resp).get("return_value", "")


def _checked(conv, value: str, operation: str):
    try:
        return conv(value)
    except (TypeError, ValueError):
        raise BillingError(FaultKind.MALFORMED, operation, "unexpected return value",
                           service=CODEUNIT) from None


@functools.lru_cache(maxsize=32)
def _reader(entity: Entity, ns: str) -> Callable:
    """How a record element of `entity` whose fields are in namespace `ns` becomes its record:
    `read(el)` -> (record, {tag: text} of its fields). Each child is looked at once, by its
    full tag (the namespace is not cut off every tag), and the fields are taken in the record's
    order; built once per entity and namespace."""
    fields = [(ns + nav, attr, conv) for attr, nav, conv in FIELDS[entity]]
    line_fields = [(ns + nav, attr, conv) for attr, nav, conv in LINE_FIELDS]
    line_tag = ns + INVOICE_LINES[1]
    cls = RECORD_CLASS[entity]
    with_lines, company_only = entity is Entity.INVOICE, entity is Entity.CUSTOMER

    def read(el):
        d = {c.tag: c.text for c in el}
        kw = {attr: conv(d.get(tag) or "") for tag, attr, conv in fields}
        if company_only and kw["kind"] != "company":
            kw["company_name"] = ""
        if with_lines:
            lines = []
            for x in el.iter(line_tag):
                ld = {c.tag: c.text for c in x}
                lines.append(InvoiceLineRecord(**{attr: conv(ld.get(tag) or "")
                                                  for tag, attr, conv in line_fields}))
            kw["lines"] = lines
        return cls(**kw), d

    return read


def _customer_params(u: CustomerUpdate) -> dict:
    return {"lastName": u.last_name, "firstName": u.first_name, "companyName": u.company_name,
            "taxCode": u.tax_code, "vatRegistrationNo": u.vat_number, "birthDate": u.birth_date,
            "address": u.address, "postCode": u.post_code, "city": u.city,
            "province": u.province, "phoneNo": u.phone, "eMail": u.email}
