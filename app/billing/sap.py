"""BillingGateway over SAP IS-U function modules published as SOAP services, with suds.

One service (`<base_url>`, e.g. `.../sap/bc/srt/rfc/sap/zisu_portal/100/zisu_portal/zisu_portal`)
holds every function module the portal uses; the request plumbing is `soap.SoapClient`.

SAP answers HTTP 200 also when it refuses: every answer's `RETURN` (BAPIRET2 or BAPIRETURN1, a
table of `item`s or one structure) is read here.
- TYPE E or A -> `BillingError(FAULT)` whose message is SAP's, with the message class and number
  (`detail` = "CLASS NUMBER"); the lock message MC 601 -> `BillingError(LOCKED)` (retry later).
- TYPE W -> `gateway.warn(...)`: the outbox keeps it with the delivered write for staff.
- "already exists" for the same external reference (ZPORTAL 001) -> the repeat of a write that
  was applied before: success, with the document of the first call.
Writes pass the outbox's idempotency key as the external reference `IV_EXTREF` and
`IV_COMMIT = 'X'` (the wrapper commits; without it SAP rolls the write back).

Keys stay in SAP's internal format (leading zeros); `0000-00-00` dates are `None`; SAP
timestamps (`YYYYMMDDhhmmss`, UTC) become naive UTC datetimes like the NAV adapter's.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Callable

from .gateway import (BillingError, BillingWarning, CommissionLine, ContractExport,
                      ContractResult, CustomerBundle, CustomerRecord, CustomerUpdate,
                      DeletionRecord, Entity,
                      FaultKind, InvoiceLineRecord, InvoiceRecord, MailingAddress,
                      MandateRequest, MeterRecord, Page, PaymentRecord, ReadingRecord,
                      ReadingSubmission, SupplyPointRecord, warn)
from .soap import SoapClient, _mask

SERVICE = "ZISU_PORTAL"
REPEAT = ("ZPORTAL", "001")
LOCKS = {("MC", "601"), ("MC", "602"), ("EM", "253")}
OBJECT = {Entity.CUSTOMER: "BUPA", Entity.SUPPLY_POINT: "INSTLN", Entity.METER: "DEVICE",
          Entity.READING: "MRDOC", Entity.INVOICE: "PRINTDOC", Entity.PAYMENT: "PAYMENT"}
TABLE = {"BUPA": "ET_PARTNER", "INSTLN": "ET_INSTLN", "DEVICE": "ET_DEVICE", "MRDOC": "ET_MRDOC",
         "PRINTDOC": "ET_PRINTDOC", "PAYMENT": "ET_PAYMENT"}
DIVISION = {"01": "electricity", "02": "gas", "03": "water", "04": "lpg", "05": "telecom"}
DIVISION_CODE = {v: k for k, v in DIVISION.items()}
PYMET = {"D": "sdd", "P": "postal_slip", "T": "bank_transfer", "C": "counter"}
PYMET_CODE = {v: k for k, v in PYMET.items()}
READING_TYPE = {"01": "actual", "02": "self", "03": "estimated"}
VALIDATION = {"valid": "valid", "implausible": "pending", "rejected": "rejected"}


# --- SAP text -> python ----------------------------------------------------------------------

def _s(v: str) -> str:
    return v


def _int(v: str) -> int:
    return int(v) if v else 0


def _int_or_none(v: str) -> int | None:
    return int(v) if v.strip() else None


def _money(v: str) -> Decimal:
    return Decimal(v) if v else Decimal("0")


def _date(v: str) -> dt.date | None:
    if not v or v.startswith("0000") or v == "00000000":
        return None
    return dt.date.fromisoformat(v[:10]) if "-" in v else dt.datetime.strptime(v, "%Y%m%d").date()


def _date_req(v: str) -> dt.date:
    d = _date(v)
    if d is None:
        raise ValueError("a required date is initial")
    return d


def _stamp(v: str) -> dt.datetime | None:
    if not v or not v.strip("0"):
        return None
    return dt.datetime.strptime(v[:14], "%Y%m%d%H%M%S")


def _flag(v: str) -> bool:
    return v.strip().upper() == "X"


def _code(table: dict) -> Callable[[str], str]:
    return lambda v: table.get(v, v.lower())


_COMMON = [("version", "CPIDENT", _int), ("modified_at", "CHANGED_AT", _stamp)]
FIELDS: dict[Entity, list[tuple[str, str, Callable]]] = {
    Entity.CUSTOMER: [
        ("code", "PARTNER", _s), ("kind", "TYPE", lambda v: "company" if v == "2" else "person"),
        ("last_name", "NAME_LAST", _s), ("first_name", "NAME_FIRST", _s),
        ("company_name", "NAME_ORG1", _s), ("tax_code", "TAXNUM", _s),
        ("vat_number", "TAXNUM_VAT", _s), ("birth_date", "BIRTHDT", _date),
        ("address", "STREET", _s), ("post_code", "POST_CODE1", _s), ("city", "CITY1", _s),
        ("province", "REGION", _s), ("phone", "TEL_NUMBER", _s), ("email", "SMTP_ADDR", _s),
        ("language", "LANGU", lambda v: "en" if v == "E" else "it")],
    Entity.SUPPLY_POINT: [
        ("code", "ANLAGE", _s), ("customer_code", "PARTNER", _s),
        ("service", "SPARTE", _code(DIVISION)), ("address", "STREET", _s),
        ("post_code", "POST_CODE1", _s), ("city", "CITY1", _s), ("province", "REGION", _s),
        ("use_type", "ANLART", _s), ("withdrawal_class", "PROFILE", _s),
        ("tariff_option", "TARIFTYP", _s), ("annual_consumption", "EXP_CONSUMPTION", _int),
        ("status", "ZSTATUS", _s), ("payment_method", "PYMET", _code(PYMET)),
        ("iban", "IBAN", _s), ("account_holder", "KOINH", _s),
        ("mandate_reference", "MNDID", _s), ("mail_name", "CO_NAME", _s),
        ("mail_address", "CO_STREET", _s), ("mail_post_code", "CO_POST_CODE1", _s),
        ("mail_city", "CO_CITY1", _s), ("mail_province", "CO_REGION", _s),
        ("activation_date", "EINZDAT", _date),
        ("conversion_coefficient", "CONV_FACTOR",
         lambda v: Decimal(v) if v and Decimal(v) > 0 else Decimal(1)),
        ("mandate_status", "MND_STATUS", _s), ("mandate_request_reference", "MND_REQ_ID", _s),
        ("mandate_request_status", "MND_REQ_STATUS", _s),
        ("mandate_reject_reason", "MND_REJ_REASON", _s)],
    Entity.METER: [
        ("serial", "SERNR", _s), ("supply_point_code", "ANLAGE", _s), ("digits", "STELLEN", _int),
        ("has_corrector", "CORRECTOR", _flag), ("corrector_serial", "CORR_SERNR", _s),
        ("installed_on", "EINBDAT", _date), ("removed_on", "AUSBDAT", _date),
        ("corrector_digits", "CORR_STELLEN", lambda v: int(v) if v and int(v) > 0 else 9)],
    Entity.READING: [
        ("entry_no", "ABLBELNR", _int), ("supply_point_code", "ANLAGE", _s),
        ("meter_serial", "SERNR", _s), ("reading_date", "ADAT", _date_req),
        ("value", "ZWSTAND", _int), ("corrector_value", "CORR_ZWSTAND", _int_or_none),
        ("reading_type", "ISTABLART", _code(READING_TYPE)), ("source", "SOURCE", _s),
        ("status", "VALIDATION", _code(VALIDATION)), ("status_reason", "VALIDATION_TEXT", _s),
        ("consumption", "CONSUMPTION", _int_or_none)],
    Entity.INVOICE: [
        ("number", "OPBEL", _s), ("customer_code", "PARTNER", _s),
        ("supply_point_code", "ANLAGE", _s), ("invoice_date", "BLDAT", _date_req),
        ("due_date", "FAEDN", _date_req), ("invoice_type", "DOCTYPE", _s),
        ("period_from", "BEGABRPE", _date), ("period_to", "ENDABRPE", _date),
        ("consumption", "CONSUMPTION", _int_or_none), ("unit", "MASSBILL", _s),
        ("amount", "BETRW", _money), ("amount_paid", "BETRW_PAID", _money),
        ("status", "ZSTATUS", _s), ("web_code", "WEB_CODE", _s)],
    Entity.PAYMENT: [
        ("entry_no", "OPBEL", _int), ("invoice_number", "OPBEL_INV", _s),
        ("customer_code", "PARTNER", _s), ("payment_date", "BUDAT", _date_req),
        ("amount", "BETRW", _money), ("method", "PYMET", _code(PYMET)),
        ("paid_at", "WHERE_PAID", _s)],
}
for _f in FIELDS.values():
    _f.extend(_COMMON)
RECORD_CLASS = {Entity.CUSTOMER: CustomerRecord, Entity.SUPPLY_POINT: SupplyPointRecord,
                Entity.METER: MeterRecord, Entity.READING: ReadingRecord,
                Entity.INVOICE: InvoiceRecord, Entity.PAYMENT: PaymentRecord}
KEY_FIELD = {Entity.CUSTOMER: "PARTNER", Entity.SUPPLY_POINT: "ANLAGE", Entity.METER: "SERNR",
             Entity.READING: "ABLBELNR", Entity.INVOICE: "OPBEL", Entity.PAYMENT: "OPBEL"}
LINE_FIELDS = [("line_no", "POSNR", _int), ("description", "TEXT", _s),
               ("quantity", "QUANTITY", _money), ("unit_price", "PRICE", _money),
               ("amount", "BETRW", _money), ("vat_percent", "VAT_PCT", _money)]


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _dict(el) -> dict:
    return {_local(c.tag): (c.text or "") for c in el}


def _child(resp, name: str):
    for c in resp:
        if _local(c.tag) == name:
            return c
    return None


def _messages(resp) -> list[dict]:
    ret = _child(resp, "RETURN")
    if ret is None or len(ret) == 0:
        return []
    items = [i for i in ret if _local(i.tag) == "item"]
    return [_dict(i) for i in items] if items else [_dict(ret)]


def _record(entity: Entity, el):
    d = _dict(el)
    kw = {attr: conv(d.get(name, "")) for attr, name, conv in FIELDS[entity]}
    if entity is Entity.SUPPLY_POINT:
        ext = d.get("EXT_UI", "")
        kw["pdr"], kw["pod"] = (ext, "") if kw["service"] == "gas" else ("", ext)
    if entity is Entity.INVOICE:
        lines = _child(el, "LINES")
        kw["lines"] = [InvoiceLineRecord(**{a: conv(ld.get(n, "")) for a, n, conv in LINE_FIELDS})
                       for ld in (_dict(i) for i in (lines if lines is not None else []))]
    return RECORD_CLASS[entity](**kw)


class SapGateway(SoapClient):
    """BillingGateway for the SAP IS-U portal service at `base_url`."""

    def _url(self, service: str) -> str:
        return self.base_url

    # --- plumbing --------------------------------------------------------------------------
    def _rfc(self, function: str, /, **params):
        """Call a function module; E/A in RETURN raise, W are handed to `warn`."""
        resp = self._call(SERVICE, function, **params)
        for m in _messages(resp):
            kind, cls, number = m.get("TYPE", ""), m.get("ID", ""), m.get("NUMBER", "")
            text = _mask(m.get("MESSAGE", "")) or f"{cls} {number}"
            if kind in ("E", "A"):
                if (cls, number) == REPEAT:  # applied before: the answer carries its document
                    continue
                fault = FaultKind.LOCKED if (cls, number) in LOCKS else FaultKind.FAULT
                raise BillingError(fault, function, f"{text} ({cls} {number})",
                                   service=SERVICE, status=200, detail=f"{cls} {number}")
            if kind == "W":
                warn(BillingWarning(f"{cls} {number}", text, function))
        return resp

    def _records(self, entity: Entity, resp, table: str) -> list:
        tab = _child(resp, table)
        try:
            return [_record(entity, i) for i in (tab if tab is not None else [])]
        except (KeyError, ValueError, InvalidOperation, TypeError) as exc:
            raise BillingError(FaultKind.MALFORMED, table, f"unexpected {table} item: "
                               f"{type(exc).__name__}", service=SERVICE,
                               detail=_mask(str(exc))[:300]) from None

    @staticmethod
    def _export(resp, name: str) -> str:
        el = _child(resp, name)
        return (el.text or "") if el is not None else ""

    def _write(self, function: str, key: str, **params):
        return self._rfc(function, IV_EXTREF=key, IV_COMMIT="X", **params)

    # --- BillingGateway ----------------------------------------------------------------------
    def ping(self) -> None:
        self._rfc("RFC_PING")

    def current_version(self) -> int:
        value = self._export(self._rfc("Z_ISU_CHANGEPOINTER_GETMAX"), "EV_CPIDENT")
        try:
            return int(value)
        except ValueError:
            raise BillingError(FaultKind.MALFORMED, "Z_ISU_CHANGEPOINTER_GETMAX",
                               "unexpected change pointer", service=SERVICE) from None

    def read_changes(self, entity: Entity, since_version: int, bookmark: str | None,
                     page_size: int, until_version: int | None = None) -> Page:
        entity = Entity(entity)
        if until_version is not None and int(until_version) <= int(since_version):
            return Page([], None)
        obj = OBJECT[entity]
        resp = self._rfc("Z_ISU_CHANGEPOINTERS_READ", IV_OBJECT=obj,
                         IV_CPIDENT_FROM=int(since_version),
                         IV_CPIDENT_TO=int(until_version or 0), IV_BOOKMARK=bookmark or None,
                         IV_MAX_ROWS=int(page_size))
        records = self._records(entity, resp, TABLE[obj])
        return Page(records, self._export(resp, "EV_BOOKMARK") or None)

    def read_deletions(self, since_version: int, until_version: int) -> list[DeletionRecord]:
        """Partners and installations with the archiving flag, from the change pointers."""
        if int(until_version) <= int(since_version):
            return []
        out, bookmark = [], None
        while True:
            resp = self._rfc("Z_ISU_CHANGEPOINTERS_READ", IV_OBJECT="DELETED",
                             IV_CPIDENT_FROM=int(since_version), IV_CPIDENT_TO=int(until_version),
                             IV_BOOKMARK=bookmark, IV_MAX_ROWS=self.page_size)
            tab = _child(resp, "ET_DELETED")
            for item in (tab if tab is not None else []):
                d = _dict(item)
                if _flag(d.get("XDELE", "")):
                    out.append(DeletionRecord(
                        Entity.CUSTOMER if d.get("OBJECT") == "BUPA" else Entity.SUPPLY_POINT,
                        d.get("OBJKEY", ""), _int(d.get("CPIDENT", "")),
                        d.get("MERGED_INTO", "").strip()))
            bookmark = self._export(resp, "EV_BOOKMARK") or None
            if bookmark is None:
                return out

    def read_customer_bundle(self, customer_code: str) -> CustomerBundle | None:
        try:
            resp = self._rfc("BAPI_ISUPARTNER_GETDETAIL", PARTNER=customer_code)
        except BillingError as exc:
            if exc.detail == "R1 140":  # business partner does not exist
                return None
            raise
        data = _child(resp, "PARTNERDATA")
        if data is None:
            return None
        customer = _record(Entity.CUSTOMER, data)
        pods = self._rfc("Z_ISU_POD_GETLIST", PARTNER=customer.code)
        sps = self._records(Entity.SUPPLY_POINT, pods, "ET_INSTLN")
        meters = self._records(Entity.METER, pods, "ET_DEVICE")
        readings = []
        for sp in sps:
            readings += self._records(Entity.READING, self._rfc(
                "BAPI_MTRREADDOC_GETLIST", INSTALLATION=sp.code), "MRDOCDATA")
        invoices = self._records(Entity.INVOICE, self._rfc(
            "Z_ISU_PRINTDOC_GETLIST", PARTNER=customer.code), "ET_PRINTDOC")
        payments = self._records(Entity.PAYMENT, self._rfc(
            "BAPI_CTRACCONTRACTACCOUNT_GOI1", PARTNER=customer.code, CONTRACTACCOUNT=None),
            "PAYMENTS")
        return CustomerBundle(customer, sps, meters, readings, invoices, payments)

    def invoice_pdf(self, invoice_number: str) -> bytes | None:
        try:
            resp = self._rfc("Z_ISU_PRINTDOC_PDF", OPBEL=invoice_number)
        except BillingError as exc:
            if exc.detail == "ZPORTAL 020":  # no such print document
                return None
            raise
        text = self._export(resp, "EV_PDF")
        if not text:
            return None
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            raise BillingError(FaultKind.MALFORMED, "Z_ISU_PRINTDOC_PDF", "the PDF is not base64",
                               service=SERVICE) from None

    def submit_reading(self, key: str, reading: ReadingSubmission) -> int:
        resp = self._write("BAPI_MTRREADDOC_UPLOAD", key, INSTALLATION=reading.supply_point_code,
                           SERIALNO=reading.meter_serial,
                           READINGDATE=reading.reading_date.isoformat(),
                           READINGRESULT=reading.value, CORRECTOR_RESULT=reading.corrector_value,
                           CUST_CONFIRMED="X" if reading.flagged else "")
        value = self._export(resp, "EV_MRDOC")
        if not value.strip("0 ").isdigit():
            raise BillingError(FaultKind.MALFORMED, "BAPI_MTRREADDOC_UPLOAD",
                               "no meter reading document in the answer", service=SERVICE)
        return int(value)

    def update_customer(self, key: str, update: CustomerUpdate) -> None:
        self._write("BAPI_ISUPARTNER_CHANGE", key, PARTNER=update.customer_code,
                    **_partner_params(update))

    def update_mailing_address(self, key: str, address: MailingAddress) -> None:
        self._write("BAPI_BUPA_ADDRESS_CHANGE", key, INSTALLATION=address.supply_point_code,
                    ADDR_USAGE="BILL", NAME=address.name, STREET=address.address,
                    POST_CODE1=address.post_code, CITY1=address.city, REGION=address.province)

    def set_invoice_delivery(self, key: str, supply_point_code: str, enabled: bool, mode: str,
                             emails: list[str]) -> None:
        self._write("Z_ISU_EBILL_SET", key, INSTALLATION=supply_point_code,
                    ACTIVE="X" if enabled else "", MODE=mode, EMAILS=";".join(emails))

    def request_mandate(self, key: str, mandate: MandateRequest) -> str:
        resp = self._write("Z_SEPA_MANDATE_CREATE", key, INSTALLATION=mandate.supply_point_code,
                           IBAN=mandate.iban, NAME_LAST=mandate.holder_last_name,
                           NAME_FIRST=mandate.holder_first_name, TAXNUM=mandate.holder_tax_code,
                           BANK=mandate.bank, BRANCH=mandate.branch,
                           BRANCH_ADDR=mandate.branch_address, MNDID=mandate.mandate_reference)
        return self._export(resp, "EV_MNDID")

    def revoke_mandate(self, key: str, supply_point_code: str) -> None:
        self._write("Z_SEPA_MANDATE_CANCEL", key, INSTALLATION=supply_point_code)

    def set_mandate_status(self, key: str, supply_point_code: str, mandate_reference: str,
                           status: str, reason: str = "") -> None:
        self._write("Z_SEPA_MANDATE_STATUS_SET", key, INSTALLATION=supply_point_code,
                    MNDID=mandate_reference, STATUS=status, REASON=reason)

    def create_contract(self, key: str, contract: ContractExport) -> ContractResult:
        c, m = contract, contract.mailing
        resp = self._write(
            "BAPI_ISUMOVEIN_CREATEFROMDATA", key, CONTRACT_EXT=c.contract_number,
            PARTNER=c.customer_code, **_partner_params(c.customer),
            LANGU="E" if (c.language or "").startswith("en") else "I",
            SPARTE=DIVISION_CODE.get(c.service, c.service),
            EXT_UI=c.pdr if c.service == "gas" else c.pod, POD_STREET=c.address,
            POD_POST_CODE1=c.post_code, POD_CITY1=c.city, POD_REGION=c.province,
            ANLART=c.use_type, PROFILE=c.withdrawal_class,
            EXP_CONSUMPTION=c.annual_consumption, TARIFTYP=c.tariff_option,
            PYMET=PYMET_CODE.get(c.payment_method, "P"), IBAN=c.iban, KOINH=c.account_holder,
            CO_NAME=m.name if m else "", CO_STREET=m.address if m else "",
            CO_POST_CODE1=m.post_code if m else "", CO_CITY1=m.city if m else "",
            CO_REGION=m.province if m else "")
        result = ContractResult(self._export(resp, "EV_MOVEINDOC"),
                                self._export(resp, "EV_PARTNER"), self._export(resp, "EV_ANLAGE"))
        if not all((result.reservation_number, result.customer_code,
                    result.supply_point_code)):
            raise BillingError(FaultKind.MALFORMED, "BAPI_ISUMOVEIN_CREATEFROMDATA",
                               "incomplete answer", service=SERVICE)
        return result

    def mark_invoiceable(self, key: str, supply_point_code: str) -> None:
        self._write("Z_ISU_INSTLN_BILLABLE_SET", key, INSTALLATION=supply_point_code)

    def export_commissions(self, key: str, lines: list[CommissionLine]) -> str:
        resp = self._write("Z_ISU_COMMISSIONS_POST", key, IT_LINES=[
            {"AGENT": ln.agent_code, "CONTRACT": ln.contract_number, "PERIOD": ln.period,
             "AMOUNT": str(ln.amount), "REASON": ln.reason} for ln in lines])
        return self._export(resp, "EV_BATCH")

    def commission_lines(self, period: str) -> list[CommissionLine]:
        resp = self._rfc("Z_ISU_COMMISSIONS_GET", IV_PERIOD=period)
        tab = _child(resp, "ET_LINES")
        out = []
        for item in (tab if tab is not None else []):
            v = _dict(item)
            try:
                amount = Decimal(v.get("AMOUNT") or "0")
            except InvalidOperation:
                raise BillingError(FaultKind.MALFORMED, "Z_ISU_COMMISSIONS_GET",
                                   "an amount is not a number", service=SERVICE) from None
            out.append(CommissionLine(v.get("AGENT", ""), v.get("CONTRACT", ""),
                                      v.get("PERIOD", ""), amount, v.get("REASON", ""),
                                      v.get("BATCH", "")))
        return out


def _partner_params(u: CustomerUpdate) -> dict:
    return {"NAME_LAST": u.last_name, "NAME_FIRST": u.first_name, "NAME_ORG1": u.company_name,
            "TAXNUM": u.tax_code, "TAXNUM_VAT": u.vat_number,
            "BIRTHDT": u.birth_date.isoformat() if u.birth_date else "",
            "STREET": u.address, "POST_CODE1": u.post_code, "CITY1": u.city,
            "REGION": u.province, "TEL_NUMBER": u.phone, "SMTP_ADDR": u.email}
