"""Page services (Customer, SupplyPoint, ...) as spyne applications shaped like NAV pages.

Each page is its own spyne Application with namespace
`urn:microsoft-dynamics-schemas/page/<name lowercase>`, types `<Entity>`, `<Entity>_List`,
`<Entity>_Fields` (string enumeration) and `<Entity>_Filter`, and operations `Read` and
`ReadMultiple` (response elements `Read_Result` / `ReadMultiple_Result`, like NAV).

Spyne parses requests, dispatches, builds the WSDL and the faults. Record lists are written by a
small hand-made serializer (`NavSoap11`) producing the same XML spyne would, because spyne's own
object serializer manages only ~2,000 records/s and ReadMultiple is the hot path.
"""
from __future__ import annotations

import json
from decimal import Decimal

from spyne import (Application, Array, Boolean, ComplexModel, Date, DateTime, Integer, Long,
                   ServiceBase, Unicode, rpc)
from spyne import Decimal as SDecimal
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11

from .filters import FilterError, translate
from .schema import (BOOL, DATE, DATETIME, DECIMAL, INT, INVOICE, LINE_FIELDS, MONEY, TEXT,
                     EntityDef, make_key, parse_key)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NAV_FAULTCODE = "a:Microsoft.Dynamics.Nav.Types.Exceptions.NavCSideException"
BLANK_DATE = "0001-01-01"  # NAV's empty date
MAX_SET = 100_000  # setSize 0 (= everything) is capped here


def page_ns(name: str) -> str:
    return f"urn:microsoft-dynamics-schemas/page/{name.lower()}"


def nav_fault(message: str, code: str = NAV_FAULTCODE) -> Fault:
    return Fault(faultcode=code, faultstring=message, detail={"string": message})


_SPYNE = {TEXT: Unicode, INT: Integer, MONEY: SDecimal, DECIMAL: SDecimal, DATE: Date,
          DATETIME: DateTime, BOOL: Boolean}


def _spyne_type(name: str, t: str):
    if name == "Row_Version":
        return Long
    return _SPYNE[t]


# --- fast serializer -------------------------------------------------------------------------

def _esc(s: str) -> str:
    if "&" in s or "<" in s or ">" in s:
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s


def _money(c: int) -> str:
    sign = "-" if c < 0 else ""
    c = abs(c)
    return f"{sign}{c // 100}.{c % 100:02d}"


_CONV = {TEXT: _esc, INT: str, MONEY: _money, DECIMAL: str, DATE: str, DATETIME: str,
         BOOL: lambda v: "true" if v else "false"}


class FastXml:
    """A method result already serialized (the inside of the response element)."""

    __slots__ = ("body",)

    def __init__(self, body: str):
        self.body = body


class NavSoap11(Soap11):
    """Soap11 that writes FastXml results verbatim and everything else the spyne way."""

    def serialize(self, ctx, message):
        obj = ctx.out_object
        if (message is self.RESPONSE and ctx.out_error is None and obj
                and isinstance(obj[0], FastXml)):
            ctx.out_document = None
            ctx.udc = ("fast", obj[0].body, ctx.descriptor.out_message.get_type_name())
            return None
        return super().serialize(ctx, message)

    def create_out_string(self, ctx, charset=None):
        udc = ctx.udc
        if isinstance(udc, tuple) and udc and udc[0] == "fast":
            _, body, resp = udc
            tns = self.app.interface.get_tns()
            ctx.out_string = [(
                "<?xml version='1.0' encoding='UTF-8'?>\n"
                f'<soap11env:Envelope xmlns:soap11env="{SOAP_ENV}" xmlns:tns="{tns}">'
                f"<soap11env:Body><tns:{resp}>{body}</tns:{resp}></soap11env:Body>"
                "</soap11env:Envelope>").encode("utf-8")]
            return
        return super().create_out_string(ctx, charset)


def make_row_serializer(e: EntityDef):
    """row tuple (fields in schema order [+ Lines]) -> '<tns:Entity>...</tns:Entity>'."""
    spec = []
    for name, t in e.fields:
        spec.append((f"<tns:{name}>", f"</tns:{name}>", _CONV[t], t == DATE))
    pk_i = e.field_names.index(e.pk)
    rv_i = e.field_names.index("Row_Version")
    n = len(spec)
    open_rec, close_rec = f"<tns:{e.name}>", f"</tns:{e.name}>"
    line_spec = [(f"<tns:{name}>", f"</tns:{name}>", _CONV[t]) for name, t in LINE_FIELDS]
    with_lines = e is INVOICE

    def ser(row) -> str:
        parts = [open_rec, "<tns:Key>", make_key(e, row[pk_i], row[rv_i]), "</tns:Key>"]
        for i in range(n):
            o, c, conv, is_date = spec[i]
            v = row[i]
            if v is None:
                if is_date:
                    parts += (o, BLANK_DATE, c)
                continue
            parts += (o, conv(v), c)
        if with_lines:
            parts.append("<tns:SalesLines>")
            for line in json.loads(row[n]):
                parts.append("<tns:Sales_Invoice_Line>")
                for (o, c, conv), v in zip(line_spec, line):
                    parts += (o, conv(v), c)
                parts.append("</tns:Sales_Invoice_Line>")
            parts.append("</tns:SalesLines>")
        parts.append(close_rec)
        return "".join(parts)

    return ser


# --- spyne types and services ------------------------------------------------------------------

def build_types(e: EntityDef):
    ns = page_ns(e.name)
    members = [("Key", Unicode)] + [(f, _spyne_type(f, t)) for f, t in e.fields]
    if e is INVOICE:
        line = type("Sales_Invoice_Line", (ComplexModel,), {
            "__namespace__": ns,
            "_type_info": [(f, _spyne_type(f, t)) for f, t in LINE_FIELDS]})
        members.append(("SalesLines", Array(line, type_name="Sales_Invoice_Line_List")))
    record = type(e.name, (ComplexModel,), {"__namespace__": ns, "_type_info": members})
    fields_enum = Unicode(values=e.field_names, type_name=f"{e.name}_Fields")
    fields_enum.__namespace__ = ns
    fields_enum.Attributes.min_occurs = 1
    filt = type(f"{e.name}_Filter", (ComplexModel,), {
        "__namespace__": ns,
        "_type_info": [("Field", fields_enum), ("Criteria", Unicode(min_occurs=1))]})
    return record, filt, Array(record, type_name=f"{e.name}_List")


def _lower_version(criteria: str) -> int | None:
    """The lowest Row_Version a `>n`, `>=n` or `a..b` criteria lets through (None: no bound
    or another form)."""
    c = criteria.strip()
    try:
        if c.startswith(">="):
            return int(c[2:])
        if c.startswith(">"):
            return int(c[1:]) + 1
        if ".." in c and "|" not in c and "&" not in c:
            lo = c.partition("..")[0].strip()
            return int(lo) if lo else None
    except ValueError:
        return None
    return None


def _reads_every_version(conn, e: EntityDef, filters) -> bool:
    """Whether the filters are a Row_Version range starting at or below the table's lowest
    version: a full read, which pages best in key order (each page a range of the key) rather
    than through the version index (which sorts every matching row again for each page)."""
    if [f for f, _ in filters] != ["Row_Version"]:
        return False
    lower = _lower_version(filters[0][1] or "")
    if lower is None:
        return False
    lowest = conn.execute(f"SELECT min(Row_Version) FROM {e.table}").fetchone()[0]
    return lowest is None or lower <= lowest


def read_rows(state, e: EntityDef, filters, bookmark, set_size):
    """Rows for ReadMultiple; raises FilterError / ValueError (bad bookmark)."""
    where, params = translate(e, filters)
    conn = state.pool.get()
    if _reads_every_version(conn, e, filters):
        where = where.replace("Row_Version", "+Row_Version")  # `+`: not through its index
    desc = set_size is not None and set_size < 0
    if bookmark:
        pk = parse_key(e, bookmark)
        where += f" AND {e.pk} {'<' if desc else '>'} ?"
        params.append(pk)
    limit = MAX_SET if not set_size else min(abs(set_size), MAX_SET)
    cols = ", ".join(e.field_names) + (", Lines" if e is INVOICE else "")
    sql = (f"SELECT {cols} FROM {e.table} WHERE {where} "
           f"ORDER BY {e.pk} {'DESC' if desc else 'ASC'} LIMIT ?")
    return conn.execute(sql, params + [limit]).fetchall()


def build_page_app(e: EntityDef, state) -> Application:
    record, filt, rec_list = build_types(e)
    ser = make_row_serializer(e)
    pk_spyne = Integer if e.pk_type == INT else Unicode
    cols = ", ".join(e.field_names) + (", Lines" if e is INVOICE else "")

    class PageService(ServiceBase):
        @rpc(pk_spyne, _in_variable_names={"pk": e.pk}, _returns=record,
             _out_message_name="Read_Result", _out_variable_name=e.name)
        def Read(ctx, pk):
            if pk is None:
                raise nav_fault(f"The {e.pk} field must have a value.")
            row = state.pool.get().execute(
                f"SELECT {cols} FROM {e.table} WHERE {e.pk} = ?", (pk,)).fetchone()
            return FastXml(ser(row) if row else "")

        @rpc(filt.customize(max_occurs="unbounded"), Unicode, Integer,
             _in_variable_names={"filter_": "filter"}, _returns=rec_list,
             _out_message_name="ReadMultiple_Result", _out_variable_name="ReadMultiple_Result")
        def ReadMultiple(ctx, filter_, bookmarkKey, setSize):
            pairs = [(f.Field, f.Criteria) for f in (filter_ or [])]
            try:
                rows = read_rows(state, e, pairs, bookmarkKey, setSize)
            except FilterError as exc:
                raise nav_fault(str(exc)) from None
            except ValueError:
                raise nav_fault(f"The bookmark key is not valid for the {e.name} page.") from None
            inner = "".join(map(ser, rows))
            return FastXml(f"<tns:ReadMultiple_Result>{inner}</tns:ReadMultiple_Result>")

    PageService.__name__ = f"{e.name}_Service"
    app = Application([PageService], tns=page_ns(e.name), name=f"{e.name}_Service",
                      in_protocol=Soap11(), out_protocol=NavSoap11())
    return app


def decimal_of_cents(c: int) -> Decimal:
    return Decimal(c).scaleb(-2)
