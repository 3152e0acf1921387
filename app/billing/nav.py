"""BillingGateway over Dynamics NAV SOAP web services (page + codeunit services), with suds.

How it talks:
- One suds `Client` per service (`<base>/Page/Customer`, ..., `<base>/Codeunit/PortalServices`),
  built once per process from the WSDL (kept in a process-wide dict; optionally also cached on
  disk with suds' ObjectCache in `cache_dir`), and `Client.clone()`d once per thread.
- suds builds every request envelope from the WSDL (`nosend=True`), so argument names and types
  are checked against the service. The envelope is POSTed with urllib (one timeout per call) and
  the answer parsed with lxml: ~10x cheaper than suds' own SAX parser + object unmarshalling
  (which run even with `retxml=True`), and it lets us classify every failure ourselves.
- Every failure becomes a `BillingError` (see gateway.FaultKind): refused/reset -> CONNECTION,
  socket timeout -> TIMEOUT, SOAP fault -> FAULT, other non-200 -> HTTP (with status), an answer
  that is not the expected XML -> MALFORMED. Messages never carry request data (IBANs) or
  credentials; anything IBAN-shaped in a server message is masked anyway.

Authentication: HTTP basic when `username` is set (NAV "NavUserPassword" / BC web-service access
key). Production NAV on Windows auth needs NTLM/Kerberos: replace `_post` / the WSDL transport with
a `requests` session using requests-ntlm (or pyspnego); suds' own NTLM transport is Python-2 era.

Field names are data (`FIELDS` below): another NAV installation with other page field names needs
only a different mapping.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import http.client
import re
import socket
import threading
import urllib.error
import urllib.request
from decimal import Decimal, InvalidOperation
from typing import Callable

from lxml import etree

from .gateway import (BillingError, CommissionLine, ContractExport, ContractResult,
                      CustomerBundle, CustomerRecord, CustomerUpdate, Entity, FaultKind,
                      InvoiceLineRecord, InvoiceRecord, MailingAddress, MandateRequest,
                      MeterRecord, Page, PaymentRecord, ReadingRecord, ReadingSubmission,
                      SupplyPointRecord)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CODEUNIT = "PortalServices"
PAGES = {Entity.CUSTOMER: "Customer", Entity.SUPPLY_POINT: "SupplyPoint",
         Entity.METER: "Meter", Entity.READING: "MeterReading",
         Entity.INVOICE: "SalesInvoice", Entity.PAYMENT: "Payment"}
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b")


# --- value converters (SOAP text -> python) --------------------------------------------------

def _s(v: str) -> str:
    return v


def _int(v: str) -> int:
    return int(v) if v else 0


def _int_or_none(v: str) -> int | None:
    return int(v) if v else None


def _money(v: str) -> Decimal:
    return Decimal(v) if v else Decimal("0")


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
        ("activation_date", "Activation_Date", _date)],
    Entity.METER: [
        ("serial", "Serial_No", _s), ("supply_point_code", "Supply_Point_No", _s),
        ("digits", "Digits", _int), ("has_corrector", "Has_Corrector", _bool),
        ("corrector_serial", "Corrector_Serial_No", _s),
        ("installed_on", "Installation_Date", _date), ("removed_on", "Removal_Date", _date)],
    Entity.READING: [
        ("entry_no", "Entry_No", _int), ("supply_point_code", "Supply_Point_No", _s),
        ("meter_serial", "Meter_Serial_No", _s), ("reading_date", "Reading_Date", _date_req),
        ("value", "Reading_Value", _int), ("corrector_value", "Corrector_Value", _int_or_none),
        ("reading_type", "Reading_Type", _lower), ("source", "Source", _lower),
        ("status", "Status", _lower), ("consumption", "Consumption", _int_or_none)],
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


def _mask(text: str) -> str:
    return _IBAN_RE.sub(lambda m: m.group(0)[:4] + "****", text or "")


# --- suds clients: one per service and process, cloned per thread ---------------------------

_CLIENTS: dict[tuple, object] = {}
_CLIENTS_LOCK = threading.Lock()


def _auth_header(username: str, password: str) -> dict:
    if not username:
        return {}
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _base_client(wsdl_url: str, location: str, timeout: float, headers: dict,
                 cache_dir: str | None):
    key = (wsdl_url, tuple(sorted(headers.items())), cache_dir)
    client = _CLIENTS.get(key)
    if client is not None:
        return client
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            from suds.cache import NoCache, ObjectCache
            from suds.client import Client
            from suds.transport.http import HttpTransport

            class _Transport(HttpTransport):  # WSDL fetch with the auth header
                def u2open(self, u2request, timeout=None):
                    for k, v in headers.items():
                        u2request.add_header(k, v)
                    return super().u2open(u2request, timeout=timeout)

            cache = ObjectCache(location=cache_dir, days=1) if cache_dir else NoCache()
            client = Client(wsdl_url, cache=cache, timeout=timeout, transport=_Transport(),
                            location=location, nosend=True, prettyxml=False)
            _CLIENTS[key] = client
    return client


def _clone(base):
    """`Client.clone()` without its deepcopy of the options.

    suds-community 1.2.0's `clone()` dies with RecursionError on Python 3.11 (deepcopy of its
    option "skins" hits `__getattr__` on half-built objects). Same as clone() otherwise: the
    parsed WSDL is shared, the options are copied (but not the transport, which cannot be linked
    to two option sets; we never send through it: requests are built with nosend=True and
    POSTed by `NavGateway._call`).
    """
    from suds.client import Client, ServiceSelector
    from suds.options import Options
    from suds.properties import Unskin

    class _Uninitialized(Client):
        def __init__(self):  # noqa: D107 - skip Client.__init__ (no WSDL load)
            pass

    clone = _Uninitialized()
    clone.options = Options()
    Unskin(clone.options).update(
        {k: v for k, v in Unskin(base.options).defined.items() if k != "transport"})
    clone.wsdl = base.wsdl
    clone.factory = base.factory
    clone.service = ServiceSelector(clone, base.wsdl.services)
    clone.sd = base.sd
    clone.messages = dict(tx=None, rx=None)
    return clone


class NavGateway:
    """BillingGateway for Dynamics NAV SOAP services at `base_url` (`.../WS/<Company>`)."""

    def __init__(self, base_url: str, username: str = "", password: str = "",
                 timeout: float = 10.0, page_size: int = 500,
                 cache_dir: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.page_size = int(page_size)
        self.cache_dir = cache_dir
        self._headers = _auth_header(username, password)
        self._local = threading.local()
        self._opener = urllib.request.build_opener()

    def __repr__(self) -> str:  # no credentials
        return f"NavGateway({self.base_url!r})"

    # --- plumbing --------------------------------------------------------------------------
    def _url(self, service: str) -> str:
        kind = "Codeunit" if service == CODEUNIT else "Page"
        return f"{self.base_url}/{kind}/{service}"

    def _client(self, service: str, operation: str):
        clients = getattr(self._local, "clients", None)
        if clients is None:
            clients = self._local.clients = {}
        client = clients.get(service)
        if client is None:
            url = self._url(service)
            try:
                base = _base_client(url + "?wsdl", url, self.timeout, self._headers,
                                    self.cache_dir)
            except Exception as exc:  # noqa: BLE001 - classify everything
                raise self._classify(exc, operation, service, "WSDL") from None
            client = clients[service] = _clone(base)
        return client

    def _classify(self, exc: BaseException, operation: str, service: str,
                  what: str = "") -> BillingError:
        prefix = f"{what} " if what else ""
        status = getattr(exc, "httpcode", None) or getattr(exc, "code", None)
        if isinstance(exc, BillingError):
            return exc
        if isinstance(exc, urllib.error.HTTPError) or (
                isinstance(status, int) and 100 <= status < 600):
            return BillingError(FaultKind.HTTP, operation, f"{prefix}HTTP {status}",
                                service=service, status=status)
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return BillingError(FaultKind.TIMEOUT, operation,
                                f"{prefix}no answer within {self.timeout:g} s", service=service)
        if isinstance(reason, (OSError, http.client.HTTPException)):
            return BillingError(FaultKind.CONNECTION, operation,
                                f"{prefix}cannot connect: {type(reason).__name__}",
                                service=service, detail=_mask(str(reason)))
        return BillingError(FaultKind.MALFORMED, operation,
                            f"{prefix}unreadable answer: {type(exc).__name__}",
                            service=service, detail=_mask(str(exc))[:500])

    def _call(self, service: str, operation: str, /, **params) -> etree._Element:
        """Build the request with suds, POST it, return the response element (Body's child)."""
        client = self._client(service, operation)
        try:
            method = getattr(client.service, operation)
            envelope = method(**params).envelope
        except Exception as exc:  # noqa: BLE001 - a bad argument for the WSDL
            raise BillingError(FaultKind.MALFORMED, operation,
                               f"cannot build the request: {type(exc).__name__}",
                               service=service, detail=_mask(str(exc))[:300]) from None
        headers = {"Content-Type": "text/xml; charset=utf-8",
                   "SOAPAction": f'"{self._soap_action(client, operation)}"', **self._headers}
        req = urllib.request.Request(self._url(service), data=envelope, headers=headers)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                body = exc.read()
            except Exception:  # noqa: BLE001
                body = b""
        except Exception as exc:  # noqa: BLE001 - refused, reset, timeout, ...
            raise self._classify(exc, operation, service) from None
        return self._response(body, status, service, operation)

    @staticmethod
    def _soap_action(client, operation: str) -> str:
        try:
            port = client.wsdl.services[0].ports[0]
            return port.methods[operation].soap.action.strip('"')
        except (AttributeError, IndexError, KeyError):
            return operation

    def _response(self, body: bytes, status: int, service: str, operation: str):
        root = None
        if body:
            try:
                root = etree.fromstring(body, parser=_PARSER)
            except etree.XMLSyntaxError:
                root = None
        soap_body = root.find(f"{{{SOAP_ENV}}}Body") if root is not None else None
        fault = soap_body.find(f"{{{SOAP_ENV}}}Fault") if soap_body is not None else None
        if fault is not None:
            text = (fault.findtext("faultstring") or "").strip()
            code = (fault.findtext("faultcode") or "").strip()
            raise BillingError(FaultKind.FAULT, operation, _mask(text) or "SOAP fault",
                               service=service, status=status, detail=_mask(code))
        if status != 200:
            raise BillingError(FaultKind.HTTP, operation, f"HTTP {status}", service=service,
                               status=status)
        if soap_body is None or len(soap_body) == 0:
            raise BillingError(FaultKind.MALFORMED, operation,
                               "the answer is not a SOAP envelope", service=service,
                               status=status, detail=_mask(body[:200].decode("utf-8", "replace")))
        return soap_body[0]

    # --- page reads ------------------------------------------------------------------------
    def _read_multiple(self, entity: Entity, filters: list[tuple[str, str]],
                       bookmark: str | None, size: int) -> tuple[list, str | None]:
        service = PAGES[entity]
        resp = self._call(service, "ReadMultiple",
                          filter=[{"Field": f, "Criteria": c} for f, c in filters],
                          bookmarkKey=bookmark, setSize=size)
        ns = resp.tag[:resp.tag.index("}") + 1] if resp.tag.startswith("{") else ""
        records, last_key = [], None
        try:
            for el in resp.iter(ns + service):
                d = _element_dict(el, len(ns))
                records.append(_to_record(entity, d, el, ns))
                last_key = d.get("Key") or None
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

    def read_customer_bundle(self, customer_code: str) -> CustomerBundle | None:
        resp = self._call("Customer", "Read", No=customer_code)
        ns = resp.tag[:resp.tag.index("}") + 1] if resp.tag.startswith("{") else ""
        el = resp.find(ns + "Customer")
        if el is None:
            return None
        try:
            customer = _to_record(Entity.CUSTOMER, _element_dict(el, len(ns)), el, ns)
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

    def _write(self, operation: str, key: str, **params) -> etree._Element:
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


# --- XML helpers -------------------------------------------------------------------------------

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def _element_dict(el, cut: int) -> dict:
    return {c.tag[cut:]: (c.text or "") for c in el}


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


def _to_record(entity: Entity, d: dict, el, ns: str):
    kw = {attr: conv(d.get(nav, "")) for attr, nav, conv in FIELDS[entity]}
    if entity is Entity.CUSTOMER and kw["kind"] != "company":
        kw["company_name"] = ""
    if entity is Entity.INVOICE:
        kw["lines"] = [
            InvoiceLineRecord(**{a: conv(ld.get(nav, "")) for a, nav, conv in LINE_FIELDS})
            for ld in (_element_dict(x, len(ns)) for x in el.iter(ns + INVOICE_LINES[1]))]
    return RECORD_CLASS[entity](**kw)


def _customer_params(u: CustomerUpdate) -> dict:
    return {"lastName": u.last_name, "firstName": u.first_name, "companyName": u.company_name,
            "taxCode": u.tax_code, "vatRegistrationNo": u.vat_number, "birthDate": u.birth_date,
            "address": u.address, "postCode": u.post_code, "city": u.city,
            "province": u.province, "phoneNo": u.phone, "eMail": u.email}
