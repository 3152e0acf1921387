"""The API's operations: thin — read the input, call the portal's services, dump the answer."""
from __future__ import annotations

from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, abort, jsonify, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from app.extensions import db, limiter
from app.i18n import gettext as _
from app.i18n import locale_id
from app.models import Activity, Customer, ExportStatus, Invoice, InvoiceExport, SupplyPoint
from app.services.portal import exports, readings, requests as customer_requests, zip_exports
from app.services.portal.invoices import (SORTS, STATUS_FILTERS, InvoiceFilter, balance as balance_of,
                                         invoice_page)
from app.services.sync.freshness import data_as_of
from app.views.input_guard import MAX_PAGE, ascii_int
from app.views.portal import get_owned_or_404

from . import ApiProblem, customer_id, needs_readings_scope, schemas
from .docs import _problem, operation

INFO_LIMIT = "5 per hour"  # as the portal's form
MIN_YEAR, MAX_YEAR = 1900, 2999
READINGS_PER_PAGE, REQUESTS_PER_PAGE = 50, 20

_JSON = "application/json"


def _ok(schema, description: str) -> dict:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _dump(schema_cls, data, status: int = 200):
    response = jsonify(schema_cls().dump(data))
    response.status_code = status
    return response


def _body(schema_cls) -> dict:
    if not request.is_json:
        raise ApiProblem(415, _("Send the data as JSON (Content-Type: application/json)."))
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiProblem(400, _("The body must be a JSON object."))
    try:
        return schema_cls().load(data)
    except ValidationError as exc:
        errors = {k: " ".join(str(m) for m in (v if isinstance(v, list) else [v]))
                  for k, v in exc.normalized_messages().items()}
        raise ApiProblem(422, _("Some values are missing or not valid: see errors."), errors) from None


def _int_arg(name: str, default: int | None = None, *, minimum: int = 1, maximum: int = MAX_PAGE):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = ascii_int(raw, minimum=minimum, maximum=maximum)
    if value is None:
        raise ApiProblem(400, _("The parameter %(name)s must be a whole number from %(min)s to %(max)s.",
                                name=name, min=minimum, max=maximum), {name: _("Not valid.")})
    return value


def _choice_arg(name: str, choices, default: str | None = None):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise ApiProblem(400, _("The parameter %(name)s must be one of: %(values)s.",
                                name=name, values=", ".join(choices)), {name: _("Not valid.")})
    return raw


def _page_meta(endpoint: str, page: int, pages: int, per_page: int, total: int, **args) -> dict:
    def link(p):
        query = {k: v for k, v in args.items() if v not in (None, "")}
        query["page"] = p
        return url_for(endpoint, **{k: v for k, v in request.view_args.items()}) + "?" + urlencode(query)

    links = {"self": link(page), "first": link(1), "last": link(pages)}
    if page < pages:
        links["next"] = link(page + 1)
    if page > 1:
        links["prev"] = link(page - 1)
    return {"page": page, "pages": pages, "per_page": per_page, "total": total, "links": links}


def _with_link_header(response, meta: dict):
    response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in meta["links"].items())
    return response


PAGE_PARAM = {"name": "page", "in": "query", "required": False,
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}


# --- public ----------------------------------------------------------------------------------

@operation("/status", "get", operation_id="getStatus", summary="Whether the portal and billing answer",
           tag="public", public=True, responses={"200": _ok(schemas.Status, "Service status")})
def status():
    from app.services.ops.status import public_status

    return _dump(schemas.Status, public_status())


def _info_key() -> str:
    from flask_limiter.util import get_remote_address

    return f"api-info:{get_remote_address()}"


@operation("/information-requests", "post", operation_id="createInformationRequest",
           summary="Ask for information (anyone)", tag="public", public=True,
           body=schemas.InformationRequestIn,
           responses={"201": _ok(schemas.InformationRequestOut, "Request filed")})
@limiter.limit(INFO_LIMIT, key_func=_info_key)
def information_request():
    data = _body(schemas.InformationRequestIn)
    if not (data.get("email") or (data.get("phone") or "").strip() or (data.get("postal_address") or "").strip()):
        message = _("Tell us at least one way to reach you: phone, e-mail or postal address.")
        raise ApiProblem(422, message, {"email": message})
    thanks = _("Thank you: we have received your request and will answer soon.")
    if data.get("website"):  # a robot filled the trap: answer as usual, store nothing
        return _dump(schemas.InformationRequestOut, {"reference": "", "detail": thanks}, 201)
    try:
        activity = customer_requests.information_request(
            name=data["name"], question=data["question"], email=data.get("email") or "",
            phone=data.get("phone") or "", postal_address=data.get("postal_address") or "",
            language=locale_id())
    except customer_requests.RequestError as exc:
        raise ApiProblem(422, exc.message, {exc.field or "email": exc.message}) from None
    return _dump(schemas.InformationRequestOut, {"reference": activity.reference, "detail": thanks}, 201)


# --- the customer -------------------------------------------------------------------------------

@operation("/me", "get", operation_id="getProfile", summary="The customer's profile", tag="customer",
           responses={"200": _ok(schemas.Profile, "Profile")})
def profile():
    c = db.session.get(Customer, customer_id())
    return _dump(schemas.Profile, {
        "code": c.code, "kind": c.kind.value, "name": c.display_name, "tax_code": c.tax_code or "",
        "vat_number": c.vat_number or "", "address": c.address or "", "post_code": c.post_code or "",
        "city": c.city or "", "province": c.province or "", "phone": c.phone or "", "email": c.email or "",
        "language": c.language or "it", "data_as_of": data_as_of(c.id)})


@operation("/balance", "get", operation_id="getBalance", summary="What is left to pay", tag="customer",
           responses={"200": _ok(schemas.Balance, "Balance")})
def balance():
    return _dump(schemas.Balance, {"amount_due": balance_of(customer_id()), "currency": "EUR"})


def _supply_doc(sp: SupplyPoint) -> dict:
    unit = readings.units(sp)
    return {"id": sp.id, "code": sp.code, "service": sp.service.value, "point_code": sp.point_code or "",
            "address": sp.address or "", "city": sp.city or "", "status": sp.status.value,
            "reading_unit": unit.reading, "consumption_unit": unit.consumption,
            "meters": [{"id": m.id, "serial": m.serial, "digits": m.digits or 5, "has_corrector": bool(m.has_corrector)}
                       for m in sp.meters if m.removed_on is None]}


@operation("/supply-points", "get", operation_id="listSupplyPoints", summary="The customer's supply points",
           tag="customer", responses={"200": _ok(schemas.SupplyPointList, "Supply points")})
def supply_points():
    rows = db.session.scalars(sa.select(SupplyPoint).where(SupplyPoint.customer_id == customer_id())
                              .order_by(SupplyPoint.code))
    return _dump(schemas.SupplyPointList, {"items": [_supply_doc(sp) for sp in rows]})


@operation("/supply-points/<int:supply_point_id>", "get", operation_id="getSupplyPoint",
           summary="One supply point", tag="customer", responses={"200": _ok(schemas.SupplyPoint, "Supply point")})
def supply_point(supply_point_id):
    return _dump(schemas.SupplyPoint, _supply_doc(get_owned_or_404(SupplyPoint, supply_point_id)))


# --- invoices ---------------------------------------------------------------------------------------

def _invoice_doc(row) -> dict:
    return {"id": row.id, "number": row.number, "invoice_date": row.invoice_date, "due_date": row.due_date,
            "invoice_type": row.invoice_type.value, "amount": row.amount, "amount_paid": row.amount_paid,
            "amount_due": row.amount_due, "status": row.status.value, "consumption": row.consumption,
            "unit": row.unit or "", "pdf": url_for("api_portal.invoice_pdf", invoice_id=row.id)}


@operation("/invoices", "get", operation_id="listInvoices", summary="Invoices, with the portal's filters",
           tag="invoices",
           parameters=[{"name": "supply_point", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}},
                       {"name": "year", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": MIN_YEAR, "maximum": MAX_YEAR}},
                       {"name": "status", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": list(STATUS_FILTERS)}},
                       {"name": "sort", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": list(SORTS)}},
                       {"name": "dir", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["asc", "desc"]}},
                       PAGE_PARAM],
           responses={"200": _ok(schemas.InvoicePage, "One page of invoices")})
def invoices():
    sp_id = _int_arg("supply_point", maximum=2**31 - 1)
    sp = get_owned_or_404(SupplyPoint, sp_id) if sp_id else None
    year = _int_arg("year", minimum=MIN_YEAR, maximum=MAX_YEAR)
    status_key = _choice_arg("status", list(STATUS_FILTERS))
    sort = _choice_arg("sort", list(SORTS), "date")
    direction = _choice_arg("dir", ["asc", "desc"], "desc")
    page = _int_arg("page", 1)
    found = invoice_page(customer_id(), InvoiceFilter(supply_point_id=sp.id if sp else None, year=year,
                                                      status=status_key, sort=sort,
                                                      descending=direction == "desc", page=page))
    from app.services.portal.invoices import PER_PAGE

    meta = _page_meta("api_portal.invoices", found.page, found.pages, PER_PAGE, found.total,
                      supply_point=sp_id, year=year, status=status_key, sort=request.args.get("sort"),
                      dir=request.args.get("dir"))
    response = _dump(schemas.InvoicePage, {**meta, "items": [_invoice_doc(r) for r in found.rows],
                                           "years": found.years, "balance": found.balance, "due": found.due})
    return _with_link_header(response, meta)


@operation("/invoices/<int:invoice_id>", "get", operation_id="getInvoice", summary="One invoice",
           tag="invoices", responses={"200": _ok(schemas.InvoiceDetail, "Invoice")})
def invoice(invoice_id):
    inv = get_owned_or_404(Invoice, invoice_id)
    amount_due = inv.amount - inv.amount_paid if inv.status.value != "paid" else 0
    doc = {"id": inv.id, "number": inv.number, "invoice_date": inv.invoice_date, "due_date": inv.due_date,
           "invoice_type": inv.invoice_type.value, "amount": inv.amount, "amount_paid": inv.amount_paid,
           "amount_due": amount_due, "status": inv.status.value, "consumption": inv.consumption,
           "unit": inv.unit or "", "pdf": url_for("api_portal.invoice_pdf", invoice_id=inv.id),
           "supply_point_id": inv.supply_point_id, "period_from": inv.period_from, "period_to": inv.period_to}
    return _dump(schemas.InvoiceDetail, doc)


_PDF = {"description": "The PDF", "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}


@operation("/invoices/<int:invoice_id>/pdf", "get", operation_id="getInvoicePdf", summary="The invoice's PDF",
           tag="invoices", responses={"200": _PDF})
def invoice_pdf(invoice_id):
    from app.services.sync.invoice_pdf import stored_invoice_pdf

    inv = get_owned_or_404(Invoice, invoice_id)
    return Response(stored_invoice_pdf(inv), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{inv.number.replace("/", "-")}.pdf"'})


_ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
_LOCATION = {"Location": {"description": "The export's address (getExport)", "schema": {"type": "string"}}}


def _export_url(export: InvoiceExport) -> str:
    return url_for("api_portal.get_export", export_id=export.id)


def _export_doc(export: InvoiceExport) -> dict:
    status = export.status
    if status == ExportStatus.READY and not export.is_downloadable():
        status = ExportStatus.EXPIRED  # past its days, before the job deletes its content
    links = {"self": _export_url(export)}
    if status == ExportStatus.READY:
        links["zip"] = url_for("api_portal.export_zip", export_id=export.id)
    return {"id": export.id, "status": status.value, "status_label": str(status.label), "total": export.total,
            "done": export.done, "size": export.size or 0, "created_at": export.created_at,
            "ready_at": export.ready_at, "expires_at": export.expires_at, "links": links}


@operation("/invoices/zip", "post", operation_id="zipInvoices", summary="A ZIP of the chosen invoices' PDFs",
           tag="invoices", body=schemas.InvoiceZipIn,
           responses={"200": {"description": f"ZIP of PDFs: up to {exports.ZIP_MAX} invoices, built at once",
                              "content": _ZIP},
                      "202": {"description": f"More than {exports.ZIP_MAX} invoices, or all: the ZIP is prepared "
                                             "in the background (follow Location; an e-mail says when it is "
                                             "ready)", "headers": _LOCATION,
                              "content": {_JSON: {"schema": schemas.Export}}},
                      "409": _problem("Another ZIP of the customer's is being prepared (Location: that export)")})
def invoices_zip():
    data = _body(schemas.InvoiceZipIn)
    cid = customer_id()
    wanted = None if data["all"] else sorted(set(data["invoices"]))
    if wanted is not None and len(exports.chosen_invoices(cid, wanted)) != len(wanted):
        abort(404)  # one of them is not the caller's: as for any other object
    if wanted is None or len(wanted) > exports.ZIP_MAX:  # too many to build while the caller waits
        try:
            export = zip_exports.request_zip(current_user, wanted)
        except exports.ExportError as exc:
            waiting = zip_exports.open_export(cid)
            if waiting is not None:
                raise ApiProblem(409, exc.message, headers={"Location": _export_url(waiting)}) from None
            raise ApiProblem(422, exc.message, {"invoices": exc.message}) from None
        response = _dump(schemas.Export, _export_doc(export), 202)
        response.headers["Location"] = _export_url(export)
        return response
    try:
        body = exports.invoices_zip(cid, wanted)
    except exports.ExportError as exc:
        raise ApiProblem(422, exc.message, {"invoices": exc.message}) from None
    return Response(body, mimetype="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="invoices.zip"'})


@operation("/exports/<int:export_id>", "get", operation_id="getExport",
           summary="An invoice ZIP prepared in the background: its status and progress", tag="export",
           responses={"200": _ok(schemas.Export, "The export")})
def get_export(export_id):
    return _dump(schemas.Export, _export_doc(get_owned_or_404(InvoiceExport, export_id)))


@operation("/exports/<int:export_id>/zip", "get", operation_id="getExportZip",
           summary="The ZIP prepared in the background, once ready", tag="export",
           responses={"200": {"description": "ZIP of PDFs", "content": _ZIP},
                      "409": _problem("Not ready: still being prepared (Retry-After), or it could not be "
                                      "prepared"),
                      "410": _problem("Expired: its days are over, ask for a new one")})
def export_zip(export_id):
    export = get_owned_or_404(InvoiceExport, export_id)
    data = zip_exports.content(export)
    if data is not None:
        return Response(data, mimetype="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="invoices-{export.id}.zip"'})
    if export.status in zip_exports.OPEN:
        raise ApiProblem(409, _("The ZIP is still being prepared (%(done)s of %(total)s invoices): try again "
                                "in a minute.", done=export.done, total=export.total),
                         headers={"Retry-After": "60"})
    if export.status == ExportStatus.FAILED:
        raise ApiProblem(409, _("This ZIP could not be prepared: ask for it again."))
    raise ApiProblem(410, _("This ZIP is no longer available (it is kept for %(days)s days): ask for it again.",
                            days=zip_exports.KEEP_DAYS))


# --- readings and consumption ----------------------------------------------------------------------

def _reading_doc(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


@operation("/supply-points/<int:supply_point_id>/readings", "get", operation_id="listReadings",
           summary="Meter readings, newest first", tag="readings", parameters=[PAGE_PARAM],
           responses={"200": _ok(schemas.ReadingPage, "One page of readings")})
def list_readings(supply_point_id):
    sp = get_owned_or_404(SupplyPoint, supply_point_id)
    rows = exports.reading_rows(sp)
    pages = max((len(rows) + READINGS_PER_PAGE - 1) // READINGS_PER_PAGE, 1)
    page = min(_int_arg("page", 1), pages)
    meta = _page_meta("api_portal.list_readings", page, pages, READINGS_PER_PAGE, len(rows))
    items = [_reading_doc(r) for r in rows[(page - 1) * READINGS_PER_PAGE: page * READINGS_PER_PAGE]]
    return _with_link_header(_dump(schemas.ReadingPage, {**meta, "items": items}), meta)


@operation("/supply-points/<int:supply_point_id>/readings", "post", operation_id="submitReading",
           summary="Submit a self-reading (token scope: read + readings)", tag="readings",
           body=schemas.ReadingIn,
           responses={"201": _ok(schemas.ReadingAccepted, "Reading received; it goes to billing"),
                      "403": _problem("The token may only read"),
                      "409": _problem("Needs confirmation (roll-over or unusual consumption)")},
           endpoint="submit_reading")
def submit_reading(supply_point_id):
    sp = get_owned_or_404(SupplyPoint, supply_point_id)
    needs_readings_scope()
    data = _body(schemas.ReadingIn)
    meter = next((m for m in sp.meters if m.id == data["meter_id"] and m.removed_on is None), None)
    if meter is None:
        raise ApiProblem(422, _("Choose a meter of this supply point."), {"meter_id": _("Not valid.")})
    try:
        row, check = readings.submit_reading(
            current_user, sp, meter, data["reading_date"], data["value"], data.get("corrector_value"),
            confirmed=data["confirm_implausible"], confirmed_rollover=data["confirm_rollover"])
    except readings.NeedsConfirmation as exc:
        db.session.rollback()
        what = "confirm_rollover" if exc.roll_over else "confirm_implausible"
        detail = (_("The meter passed zero since the previous reading: send it again with confirm_rollover true.")
                  if exc.roll_over else
                  _("The consumption is unusually high: check the reading, then send it again with "
                    "confirm_implausible true."))
        raise ApiProblem(409, detail, {what: detail}) from None
    except readings.ReadingError as exc:
        db.session.rollback()
        field = {"value": "value", "reading_date": "reading_date", "corrector_value": "corrector_value"}.get(
            exc.field, "meter_id")
        raise ApiProblem(422, exc.message, {field: exc.message}) from None
    activity = db.session.get(Activity, row.activity_id)
    doc = next((r for r in exports.reading_rows(sp) if r["id"] == row.id), None)
    response = _dump(schemas.ReadingAccepted, {"reading": _reading_doc(doc), "flagged": bool(check.implausible),
                                               "request_reference": activity.reference}, 201)
    response.headers["Location"] = url_for("api_portal.request_detail", request_id=activity.id)
    return response


@operation("/supply-points/<int:supply_point_id>/consumption", "get", operation_id="getConsumption",
           summary="Consumption between readings, oldest first", tag="readings",
           responses={"200": _ok(schemas.ConsumptionSeries, "Consumption series")})
def consumption(supply_point_id):
    sp = get_owned_or_404(SupplyPoint, supply_point_id)
    rows = [dict(r, date_from=r["from"], date_to=r["to"]) for r in exports.consumption_rows(sp)]
    return _dump(schemas.ConsumptionSeries, {"supply_point": sp.code, "items": rows})


_CSV = {"description": "CSV for spreadsheets (UTF-8 with BOM, `;`, decimal comma)",
        "content": {"text/csv": {"schema": {"type": "string"}}}}


@operation("/supply-points/<int:supply_point_id>/readings.csv", "get", operation_id="exportReadingsCsv",
           summary="Readings as CSV", tag="export", responses={"200": _CSV})
def readings_csv(supply_point_id):
    sp = get_owned_or_404(SupplyPoint, supply_point_id)
    return Response(exports.readings_csv(sp), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{exports.filename(sp, "readings", "csv")}"'})


@operation("/supply-points/<int:supply_point_id>/consumption.csv", "get", operation_id="exportConsumptionCsv",
           summary="Consumption as CSV", tag="export", responses={"200": _CSV})
def consumption_csv(supply_point_id):
    sp = get_owned_or_404(SupplyPoint, supply_point_id)
    return Response(exports.consumption_csv(sp), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{exports.filename(sp, "consumption", "csv")}"'})


# --- requests ------------------------------------------------------------------------------------------

def _request_doc(a: "Activity | customer_requests.RequestLine", waiting: set[int]) -> dict:
    return {"id": a.id, "reference": a.reference, "kind": a.kind.value, "kind_label": str(a.kind.label),
            "subject": a.subject_text or "", "status": a.status.value, "status_label": str(a.status.label),
            "waiting_for_billing": a.id in waiting, "created_at": a.created_at}


@operation("/requests", "get", operation_id="listRequests", summary="The customer's requests and their status",
           tag="requests", parameters=[PAGE_PARAM], responses={"200": _ok(schemas.RequestPage, "One page of requests")})
def list_requests():
    page = _int_arg("page", 1)
    rows, total = customer_requests.my_requests(customer_id(), page, REQUESTS_PER_PAGE)
    pages = max((total + REQUESTS_PER_PAGE - 1) // REQUESTS_PER_PAGE, 1)
    if page > pages:
        page = pages
        rows, total = customer_requests.my_requests(customer_id(), page, REQUESTS_PER_PAGE)
    waiting = {a.id for a in rows if a.waiting}
    meta = _page_meta("api_portal.list_requests", page, pages, REQUESTS_PER_PAGE, total)
    return _with_link_header(_dump(schemas.RequestPage, {**meta, "items": [_request_doc(a, waiting) for a in rows]}),
                             meta)


@operation("/requests/<int:request_id>", "get", operation_id="getRequest", summary="One request",
           tag="requests", responses={"200": _ok(schemas.Request, "Request")})
def request_detail(request_id):
    activity = get_owned_or_404(Activity, request_id)
    return _dump(schemas.Request, _request_doc(activity, customer_requests.waiting_for_billing([activity.id])))
