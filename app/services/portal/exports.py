"""Customers' data export (F-61): readings and consumption as CSV or JSON, invoices as a ZIP.

The CSV files open in a spreadsheet set to Italian at once: UTF-8 with a byte-order mark,
`;` between cells, decimal comma, dates as YYYY-MM-DD, every text cell neutralised against
formulas (app.services.core.csv_export). The JSON carries the same rows with plain numbers.
The portal and the API call the same functions, so both give the same files.

A ZIP holds the PDFs of the invoices the customer chose, built while they wait: at most
`ZIP_MAX` invoices at a time (a PDF not stored yet is fetched from billing or rendered, a few
tenths of a second each).
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l
from app.models import Invoice, Meter, SupplyPoint
from app.services.core.csv_export import CsvTable
from app.services.core.errors import DomainError
from app.services.core.unit_of_work import transactional

from . import readings

ZIP_MAX = 24
BOM = "\ufeff"


class ExportError(DomainError):
    """An export that can't be made as asked."""


def _it_number(value):
    """A number as an Italian spreadsheet reads it (decimal comma); whole numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    return format(Decimal(str(value)), "f").replace(".", ",")


def reading_rows(supply_point: SupplyPoint) -> list[dict]:
    """The supply point's readings, newest first, with the consumption each one counts
    (`_labels`: the type and status in the current language, for the CSV)."""
    meters: dict[int, Meter] = {m.id: m for m in supply_point.meters}
    unit = readings.units(supply_point)
    out = []
    for row in readings.consumption_history(supply_point, limit=1000):
        r = row.reading
        meter = meters.get(r.meter_id)
        out.append({"id": r.id, "date": r.reading_date,
                    "meter": meter.serial if meter else "", "value": r.value,
                    "corrector_value": r.corrector_value, "unit": unit.reading,
                    "type": r.reading_type.value, "source": r.source.value, "status": r.status.value,
                    "consumption": row.consumption, "consumption_unit": unit.consumption,
                    "_labels": (str(r.reading_type.label), str(r.status.label))})
    return out


def consumption_rows(supply_point: SupplyPoint) -> list[dict]:
    """The consumption between successive readings that count, oldest first."""
    unit = readings.units(supply_point)
    rows = [r for r in readings.consumption_history(supply_point, limit=1000) if r.counted]
    rows.reverse()
    previous: dict[int | None, dt.date] = {}
    out = []
    for row in rows:
        r = row.reading
        start = previous.get(r.meter_id)
        previous[r.meter_id] = r.reading_date
        if start is None or row.consumption is None:
            continue
        days = (r.reading_date - start).days
        out.append({"from": start, "to": r.reading_date, "days": days,
                    "consumption": row.consumption, "unit": unit.consumption,
                    "daily": float(round(Decimal(row.consumption) / days, 3)) if days > 0 else None})
    return out


def _csv(header: list, rows: list[list]) -> bytes:
    table = CsvTable(delimiter=";")
    table.row(header)
    for cells in rows:
        table.row(cells)
    return (BOM + table.text()).encode("utf-8")


def readings_csv(supply_point: SupplyPoint) -> bytes:
    rows = reading_rows(supply_point)
    return _csv([_("Date"), _("Meter"), _("Reading"), _("Volume corrector"), _("Unit"), _("Type"),
                 _("Status"), _("Consumption"), _("Consumption unit")],
                [[r["date"].isoformat(), r["meter"], r["value"], _it_number(r["corrector_value"]), r["unit"],
                  *r["_labels"], _it_number(r["consumption"]), r["consumption_unit"]]
                 for r in rows])


def consumption_csv(supply_point: SupplyPoint) -> bytes:
    rows = consumption_rows(supply_point)
    return _csv([_("From"), _("To"), _("Days"), _("Consumption"), _("Unit"), _("Daily average")],
                [[r["from"].isoformat(), r["to"].isoformat(), r["days"], r["consumption"], r["unit"], _it_number(r["daily"])]
                 for r in rows])


def filename(supply_point: SupplyPoint, what: str, extension: str) -> str:
    """`readings-<code>.csv`: the supply point's code, nothing a header could choke on."""
    safe = "".join(ch for ch in supply_point.code if ch.isalnum() or ch in "-_") or str(supply_point.id)
    return f"{what}-{safe}.{extension}"


def chosen_invoices(customer_id: int, ids: list[int]) -> list[Invoice]:
    """The customer's invoices among `ids` (others are left out), oldest first."""
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Invoice).where(Invoice.customer_id == customer_id,
                                                            Invoice.id.in_(ids))
                                   .order_by(Invoice.invoice_date, Invoice.id)))


@transactional
def invoices_zip(customer_id: int, ids: list[int]) -> bytes:
    """A ZIP of the PDFs of the chosen invoices, each named by its number; raises ExportError
    when none of them is the customer's or when too many are asked at once."""
    from app.services.sync.invoice_pdf import invoice_pdf

    wanted = sorted(set(ids))
    if not wanted:
        raise ExportError(_l("Choose at least one invoice."), "invoices")
    if len(wanted) > ZIP_MAX:
        raise ExportError(_l("Choose at most %(max)s invoices at a time.", max=ZIP_MAX), "invoices")
    invoices = chosen_invoices(customer_id, wanted)
    if len(invoices) != len(wanted):
        raise ExportError(_l("Choose among your own invoices."), "invoices")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for inv in invoices:
            archive.writestr(f"{inv.number.replace('/', '-')}.pdf", invoice_pdf(inv))
    return buffer.getvalue()
