"""The SAP IS-U flavour: the same data set through RFC function modules published as SOAP.

One service `ZISU_PORTAL` (namespace `urn:sap-com:document:sap:rfc:functions`) at
`/sap/bc/srt/rfc/sap/zisu_portal/<client>/zisu_portal/zisu_portal`, one operation per function
module: standard BAPIs where IS-U has one (BAPI_ISUPARTNER_GETDETAIL, BAPI_MTRREADDOC_GETLIST,
BAPI_MTRREADDOC_UPLOAD, BAPI_CTRACCONTRACTACCOUNT_GOI1, BAPI_ISUPARTNER_CHANGE,
BAPI_BUPA_ADDRESS_CHANGE, BAPI_ISUMOVEIN_CREATEFROMDATA) and customer `Z_` wrappers where it has
none (change pointers, points of delivery, print documents and their PDF, SEPA mandates,
e-billing, billable flag, commissions).

What makes it SAP and not NAV:
- Keys in internal format with leading zeros: business partner `0000000001` (NAV `C0000001`),
  installation `4000000001` (supply point `SP00000001`), print document `202600000001`
  (`FT2026-0000001`), reading document and payment numbers zero-padded; the Italian PDR/POD is
  the point of delivery's external id (`EXT_UI`). Empty dates are `0000-00-00`, timestamps
  `YYYYMMDDhhmmss` (UTC), codes (division, partner category, language, payment method, reading
  type) are SAP's short codes.
- Errors arrive in HTTP 200 answers, in `RETURN` (BAPIRET2, or BAPIRETURN1 for the meter
  reading BAPIs; a table of `item`s or a single structure as each BAPI has it): TYPE S/I/W/E/A,
  ID (message class), NUMBER, MESSAGE, MESSAGE_V1..V4.
- Writes are effective only with `IV_COMMIT = 'X'` (the wrapper then calls
  BAPI_TRANSACTION_COMMIT); an answer with E/A commits nothing. Every write carries an external
  reference `IV_EXTREF`: a repeat answers E `ZPORTAL 001` "already exists" with the document of
  the first call, which a client treats as success.

The writes themselves are the NAV codeunit's (simulator/codeunit.py), driven through
`codeunit.CALL`; their refusals become SAP messages (`_MESSAGES`).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

from spyne import Application, ComplexModel, Integer, Long, ServiceBase, Unicode, rpc
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11

from . import codeunit
from .pages import FastXml, NavSoap11, _esc, _money
from .schema import CHANGE_LOG, CUSTOMER, INVOICE, METER, PAYMENT, READING, SUPPLY_POINT

NS = "urn:sap-com:document:sap:rfc:functions"
SERVICE = "ZISU_PORTAL"
REPEAT = ("ZPORTAL", "001")  # "already exists" for the same external reference
LOCK = ("MC", "601")  # SAP's lock message: "Object requested is currently locked by user &1"
INITIAL_DATE = "0000-00-00"


def path(client: str) -> str:
    s = SERVICE.lower()
    return f"/sap/bc/srt/rfc/sap/{s}/{client}/{s}/{s}"


# --- keys and codes: NAV data <-> SAP shapes ---------------------------------------------------

def partner(no: str) -> str:
    return no[1:].zfill(10) if no else ""


def partner_no(p: str) -> str:
    return f"C{int(p):07d}" if p and p.isdigit() else ""


def anlage(no: str) -> str:
    return "40" + no[2:] if no else ""


def anlage_no(a: str) -> str:
    return "SP" + a[2:] if a and len(a) == 10 and a.startswith("40") else ""


def opbel(no: str) -> str:  # FT2026-0000001 -> 202600000001
    return no[2:6] + "0" + no[7:] if no else ""


def opbel_no(o: str) -> str:
    return f"FT{o[:4]}-{o[5:]}" if o and len(o) == 12 else ""


def vkont(no: str) -> str:
    return "0010" + no[1:].zfill(8) if no else ""


def _num(n, width: int) -> str:
    return str(n).zfill(width) if n not in (None, "") else ""


def _date(v) -> str:
    return str(v)[:10] if v else INITIAL_DATE


def _stamp(v) -> str:
    return re.sub(r"\D", "", str(v))[:14].ljust(14, "0") if v else "0"


def _in_date(v: str | None):
    if not v or v.startswith("0000"):
        return None
    return dt.date.fromisoformat(v[:10])


DIVISION = {"electricity": "01", "gas": "02", "water": "03", "lpg": "04", "telecom": "05"}
DIVISION_OF = {v: k for k, v in DIVISION.items()}
PYMET = {"sdd": "D", "postal_slip": "P", "bank_transfer": "T", "counter": "C"}
PYMET_OF = {v: k for k, v in PYMET.items()}
READING_TYPE = {"actual": "01", "self": "02", "estimated": "03"}
VALIDATION = {"valid": "valid", "pending": "implausible", "rejected": "rejected"}


def _x(v) -> str:
    return "X" if v else ""


# object -> (NAV entity, SAP key of a NAV row, NAV key of a SAP key, [(SAP field, row -> text)])
OBJECTS = {
    "BUPA": (CUSTOMER, lambda r: partner(r["No"]), partner_no, [
        ("PARTNER", lambda r: partner(r["No"])),
        ("TYPE", lambda r: "2" if r["Partner_Type"] == "company" else "1"),
        ("NAME_LAST", lambda r: r["Last_Name"]), ("NAME_FIRST", lambda r: r["First_Name"]),
        ("NAME_ORG1", lambda r: r["Name"] if r["Partner_Type"] == "company" else ""),
        ("TAXNUM", lambda r: r["Tax_Code"]), ("TAXNUM_VAT", lambda r: r["VAT_Registration_No"]),
        ("BIRTHDT", lambda r: _date(r["Date_of_Birth"])), ("STREET", lambda r: r["Address"]),
        ("POST_CODE1", lambda r: r["Post_Code"]), ("CITY1", lambda r: r["City"]),
        ("REGION", lambda r: r["County"]), ("TEL_NUMBER", lambda r: r["Phone_No"]),
        ("SMTP_ADDR", lambda r: r["E_Mail"]),
        ("LANGU", lambda r: "E" if r["Language_Code"] == "ENU" else "I"),
        ("VKONT", lambda r: vkont(r["No"]))]),
    "INSTLN": (SUPPLY_POINT, lambda r: anlage(r["No"]), anlage_no, [
        ("ANLAGE", lambda r: anlage(r["No"])), ("PARTNER", lambda r: partner(r["Customer_No"])),
        ("VKONT", lambda r: vkont(r["Customer_No"])),
        ("SPARTE", lambda r: DIVISION.get(r["Service"], r["Service"])),
        ("EXT_UI", lambda r: r["PDR"] if r["Service"] == "gas" else r["POD"]),
        ("STREET", lambda r: r["Address"]), ("POST_CODE1", lambda r: r["Post_Code"]),
        ("CITY1", lambda r: r["City"]), ("REGION", lambda r: r["County"]),
        ("ANLART", lambda r: r["Use_Type"]), ("PROFILE", lambda r: r["Withdrawal_Class"]),
        ("TARIFTYP", lambda r: r["Tariff_Option"]),
        ("EXP_CONSUMPTION", lambda r: str(r["Annual_Consumption"] or 0)),
        ("BILLABLE", lambda r: _x(r["Status"] == "active")),
        ("ZSTATUS", lambda r: r["Status"]),
        ("PYMET", lambda r: PYMET.get(r["Payment_Method"], "")), ("IBAN", lambda r: r["IBAN"]),
        ("KOINH", lambda r: r["Account_Holder"]), ("MNDID", lambda r: r["Mandate_Reference"]),
        ("MND_STATUS", lambda r: r["Mandate_Status"]),
        ("MND_REQ_ID", lambda r: r["Mandate_Request_No"]),
        ("MND_REQ_STATUS", lambda r: r["Mandate_Request_Status"]),
        ("MND_REJ_REASON", lambda r: r["Mandate_Reject_Reason"]),
        ("CO_NAME", lambda r: r["Mail_Name"]), ("CO_STREET", lambda r: r["Mail_Address"]),
        ("CO_POST_CODE1", lambda r: r["Mail_Post_Code"]), ("CO_CITY1", lambda r: r["Mail_City"]),
        ("CO_REGION", lambda r: r["Mail_County"]),
        ("EINZDAT", lambda r: _date(r["Activation_Date"])),
        ("CONV_FACTOR", lambda r: str(r["Conversion_Coefficient"] or ""))]),
    "DEVICE": (METER, lambda r: r["Serial_No"], lambda k: k, [
        ("SERNR", lambda r: r["Serial_No"]), ("ANLAGE", lambda r: anlage(r["Supply_Point_No"])),
        ("STELLEN", lambda r: str(r["Digits"] or 0)), ("CORRECTOR", lambda r: _x(r["Has_Corrector"])),
        ("CORR_SERNR", lambda r: r["Corrector_Serial_No"]),
        ("EINBDAT", lambda r: _date(r["Installation_Date"])),
        ("AUSBDAT", lambda r: _date(r["Removal_Date"])),
        ("CORR_STELLEN", lambda r: str(r["Corrector_Digits"] or ""))]),
    "MRDOC": (READING, lambda r: _num(r["Entry_No"], 20), lambda k: int(k), [
        ("ABLBELNR", lambda r: _num(r["Entry_No"], 20)),
        ("ANLAGE", lambda r: anlage(r["Supply_Point_No"])), ("SERNR", lambda r: r["Meter_Serial_No"]),
        ("ADAT", lambda r: _date(r["Reading_Date"])), ("ZWSTAND", lambda r: str(r["Reading_Value"])),
        ("CORR_ZWSTAND", lambda r: "" if r["Corrector_Value"] is None else str(r["Corrector_Value"])),
        ("ISTABLART", lambda r: READING_TYPE.get(r["Reading_Type"], r["Reading_Type"])),
        ("SOURCE", lambda r: r["Source"]),
        ("VALIDATION", lambda r: VALIDATION.get(r["Status"], r["Status"])),
        ("VALIDATION_TEXT", lambda r: r["Status_Reason"] or ""),
        ("CONSUMPTION", lambda r: "" if r["Consumption"] is None else str(r["Consumption"]))]),
    "PRINTDOC": (INVOICE, lambda r: opbel(r["No"]), opbel_no, [
        ("OPBEL", lambda r: opbel(r["No"])), ("PARTNER", lambda r: partner(r["Customer_No"])),
        ("ANLAGE", lambda r: anlage(r["Supply_Point_No"])), ("BLDAT", lambda r: _date(r["Posting_Date"])),
        ("FAEDN", lambda r: _date(r["Due_Date"])), ("DOCTYPE", lambda r: r["Document_Type"]),
        ("BEGABRPE", lambda r: _date(r["Period_From"])), ("ENDABRPE", lambda r: _date(r["Period_To"])),
        ("CONSUMPTION", lambda r: "" if r["Consumption"] is None else str(r["Consumption"])),
        ("MASSBILL", lambda r: r["Unit_of_Measure"]),
        ("BETRW", lambda r: _money(r["Amount_Including_VAT"] or 0)),
        ("BETRW_PAID", lambda r: _money(r["Amount_Paid"] or 0)), ("ZSTATUS", lambda r: r["Status"]),
        ("WEB_CODE", lambda r: r["Web_Code"])]),
    "PAYMENT": (PAYMENT, lambda r: _num(r["Entry_No"], 12), lambda k: int(k), [
        ("OPBEL", lambda r: _num(r["Entry_No"], 12)), ("OPBEL_INV", lambda r: opbel(r["Invoice_No"])),
        ("PARTNER", lambda r: partner(r["Customer_No"])), ("BUDAT", lambda r: _date(r["Posting_Date"])),
        ("BETRW", lambda r: _money(r["Amount"] or 0)),
        ("PYMET", lambda r: PYMET.get(r["Payment_Method"], "")), ("WHERE_PAID", lambda r: r["Where_Paid"])]),
    # business partners and installations deleted or archived (XDELE), a merged duplicate's
    # survivor in MERGED_INTO: SAP's archiving flag read through the change pointers
    "DELETED": (CHANGE_LOG, lambda r: _num(r["Entry_No"], 12), lambda k: int(k), [
        ("OBJECT", lambda r: "BUPA" if r["Table_No"] == CUSTOMER.table_id else "INSTLN"),
        ("OBJKEY", lambda r: (partner if r["Table_No"] == CUSTOMER.table_id else anlage)(
            r["Primary_Key_Field_1_Value"])),
        ("XDELE", lambda r: "X"), ("MERGED_INTO", lambda r: partner(r["Merged_Into"]))]),
}
COMMON = [("CPIDENT", lambda r: str(r["Row_Version"])),
          ("CHANGED_AT", lambda r: _stamp(r["Last_Modified_At"]))]
LINES = [("POSNR", 0, str), ("TEXT", 1, _esc), ("QUANTITY", 2, str), ("PRICE", 3, str),
         ("BETRW", 4, _money), ("VAT_PCT", 5, str)]
TABLE = {"BUPA": "ET_PARTNER", "INSTLN": "ET_INSTLN", "DEVICE": "ET_DEVICE", "MRDOC": "ET_MRDOC",
         "PRINTDOC": "ET_PRINTDOC", "PAYMENT": "ET_PAYMENT", "DELETED": "ET_DELETED"}


def _fields(obj: str):
    return OBJECTS[obj][3] + COMMON


def _item(obj: str, row: dict, tag: str = "item") -> str:
    parts = [f"<{tag}>"]
    for name, get in _fields(obj):
        parts.append(f"<{name}>{_esc(get(row) or '')}</{name}>")
    if obj == "PRINTDOC":
        parts.append("<LINES>")
        for line in json.loads(row["Lines"]):
            parts.append("<item>" + "".join(f"<{n}>{conv(line[i])}</{n}>" for n, i, conv in LINES)
                         + "</item>")
        parts.append("</LINES>")
    parts.append(f"</{tag}>")
    return "".join(parts)


def _rows(conn, obj: str, where: str, params, limit: int | None = None) -> list[dict]:
    e = OBJECTS[obj][0]
    cols = ", ".join(e.field_names) + (", Lines" if e is INVOICE else "")
    cur = conn.execute(f"SELECT {cols} FROM {e.table} WHERE {where} ORDER BY {e.pk}"
                       + (f" LIMIT {int(limit)}" if limit else ""), list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _table(tag: str, obj: str, rows) -> str:
    return f"<{tag}>" + "".join(_item(obj, r) for r in rows) + f"</{tag}>"


# --- messages ------------------------------------------------------------------------------------

class Message:
    __slots__ = ("type", "id", "number", "text", "v")

    def __init__(self, type_: str, id_: str, number: str, text: str, *v: str) -> None:
        self.type, self.id, self.number, self.text = type_, id_, number, text
        self.v = [str(x) for x in v] + [""] * (4 - len(v))

    def xml(self, bapiret2: bool) -> str:
        text = self.text
        for i, value in enumerate(self.v, 1):
            text = text.replace(f"&{i}", value)
        extra = "<PARAMETER/><ROW>0</ROW><FIELD/><SYSTEM>ISUCLNT100</SYSTEM>" if bapiret2 else ""
        return (f"<TYPE>{self.type}</TYPE><ID>{self.id}</ID><NUMBER>{self.number}</NUMBER>"
                f"<MESSAGE>{_esc(text)}</MESSAGE><LOG_NO/><LOG_MSG_NO>000000</LOG_MSG_NO>"
                + "".join(f"<MESSAGE_V{i}>{_esc(v)}</MESSAGE_V{i}>" for i, v in enumerate(self.v, 1))
                + extra)


def _return(messages, *, table: bool, bapiret2: bool = True) -> str:
    if table:
        return "<RETURN>" + "".join(f"<item>{m.xml(bapiret2)}</item>" for m in messages) + \
            "</RETURN>"
    first = next((m for m in messages if m.type in "EA"), messages[0] if messages else None)
    return f"<RETURN>{first.xml(bapiret2)}</RETURN>" if first else "<RETURN/>"


# NAV refusal text -> SAP message (class, number, template)
_MESSAGES = [
    (r"The Customer does not exist", "R1", "140", "Business partner &1 does not exist"),
    (r"The Supply Point does not exist", "AH", "398", "Installation &1 does not exist"),
    (r"The Meter does not exist", "EL", "012", "Device &1 is not installed in installation &2"),
    (r"does not fit a meter", "EL", "305", "Meter reading result &1 has too many digits"),
    (r"must have a value", "EL", "150", "Enter a meter reading date and result"),
    (r"IBAN is not valid", "FKK_SEPA", "025", "The IBAN is not valid"),
    (r"Mandate does not exist|only a pending mandate|Unknown mandate status", "FKK_SEPA", "040",
     "Mandate &1 cannot be changed: &2"),
    (r"idempotency key .* already used", "ZPORTAL", "002",
     "External reference &1 was used for another function"),
]


def _refusal(text: str, *v: str) -> Message:
    for pattern, id_, number, template in _MESSAGES:
        if re.search(pattern, text):
            return Message("E", id_, number, template, *v, text[:50])
    return Message("E", "ZPORTAL", "099", "&1", text[:50])


# --- the service ---------------------------------------------------------------------------------

def _struct(name: str, fields) -> type:
    return type(name, (ComplexModel,), {"__namespace__": NS,
                                        "_type_info": [(f, Unicode) for f in fields]})


BAPIRET2 = _struct("BAPIRET2", ["TYPE", "ID", "NUMBER", "MESSAGE", "LOG_NO", "LOG_MSG_NO",
                                "MESSAGE_V1", "MESSAGE_V2", "MESSAGE_V3", "MESSAGE_V4",
                                "PARAMETER", "ROW", "FIELD", "SYSTEM"])
BAPIRETURN1 = _struct("BAPIRETURN1", ["TYPE", "ID", "NUMBER", "MESSAGE", "LOG_NO", "LOG_MSG_NO",
                                      "MESSAGE_V1", "MESSAGE_V2", "MESSAGE_V3", "MESSAGE_V4"])
_TABLES: dict[str, type] = {}


def _tab(t):
    """An SAP table parameter as SAP's WSDLs declare it: `TABLE_OF_<structure>`, a sequence of
    `item` elements (what the answers carry: `<ET_PARTNER><item>...</item></ET_PARTNER>`)."""
    name = f"TABLE_OF_{t.get_type_name()}"
    if name not in _TABLES:
        _TABLES[name] = type(name, (ComplexModel,), {
            "__namespace__": NS,
            "_type_info": [("item", t.customize(min_occurs=0, max_occurs="unbounded"))]})
    return _TABLES[name]


def _tab_in(t):
    return t.customize(max_occurs="unbounded")


STRUCTS = {obj: _struct(f"ZISU_S_{obj}", [f for f, _ in _fields(obj)]) for obj in OBJECTS}
# a print document carries its lines, a table in the structure
STRUCTS["PRINTDOC"] = type("ZISU_S_PRINTDOC", (ComplexModel,), {
    "__namespace__": NS,
    "_type_info": [*((f, Unicode) for f, _ in _fields("PRINTDOC")),
                   ("LINES", _tab(_struct("ZISU_S_PRINTDOC_LINE", [f for f, _, _ in LINES])))]})
COMMISSION = _struct("ZISU_S_COMMISSION", ["AGENT", "CONTRACT", "PERIOD", "AMOUNT", "REASON"])
# a commission line as billing holds it (the agents' ledger), with the batch (EV_BATCH) it came in
COMMISSION_ITEM = _struct("ZISU_S_COMMISSION_ITEM", ["BATCH", "AGENT", "CONTRACT", "PERIOD",
                                                     "AMOUNT", "REASON"])


def build_sap_app(state) -> Application:
    nav = codeunit.build_codeunit_app(state).services[0].public_methods

    def injected(ctx) -> Message | None:
        inj = ctx.transport.req_env.get("simulator.inject") if ctx.transport else None
        if not inj:
            return None
        mode, body = inj
        if mode == "lock":
            return Message("E", *LOCK, "Object requested is currently locked by user &1",
                           "BATCH01")
        return Message(body["type"], body["id"], body["number"], body["text"])

    def answer(*parts: str) -> FastXml:
        return FastXml("".join(parts))

    def read(ctx, bapiret2: bool, table: bool, body) -> FastXml:
        """A read: injected E/A replace the data; W/I travel with it."""
        msg = injected(ctx)
        if msg is not None and msg.type in "EA":
            return answer(_return([msg], table=table, bapiret2=bapiret2))
        try:
            data, messages = body()
        except LookupError as exc:
            data, messages = "", [exc.args[0]]
        if msg is not None:
            messages = [*messages, msg]
        return answer(data, _return(messages, table=table, bapiret2=bapiret2))

    def write(ctx, extref, commit, nav_op: str, args: tuple, exports, *, subject=(),
              bapiret2=True, warn=None) -> FastXml:
        """Run the NAV write `nav_op` as an SAP wrapper: commit only with IV_COMMIT = 'X' and
        no E/A; a repeat of IV_EXTREF answers 'already exists' with the first document."""
        msg = injected(ctx)
        if msg is not None and msg.type in "EA":
            return answer(exports(None), _return([msg], table=True, bapiret2=bapiret2))
        if not extref:
            return answer(exports(None), _return(
                [Message("E", "ZPORTAL", "003", "Enter an external reference (IV_EXTREF)")],
                table=True, bapiret2=bapiret2))
        codeunit.CALL.commit = (commit or "").upper() == "X"
        try:
            result = nav[nav_op].function(ctx, extref, *args)
        except Fault as exc:
            return answer(exports(None), _return([_refusal(exc.faultstring, *subject)],
                                                 table=True, bapiret2=bapiret2))
        finally:
            codeunit.CALL.commit = True
        if codeunit.CALL.repeat:
            doc = exports(result)
            return answer(doc, _return([Message(
                "E", *REPEAT, "Document with external reference &1 already exists", extref)],
                table=True, bapiret2=bapiret2))
        messages = [Message("S", "ZPORTAL", "000", "Document &1 posted", extref)]
        if warn is not None:
            messages += warn(result)
        if msg is not None:
            messages.append(msg)
        return answer(exports(result), _return(messages, table=True, bapiret2=bapiret2))

    def none(_result) -> str:
        return ""

    def conn():
        return state.pool.get()

    R2 = BAPIRET2
    R1 = BAPIRETURN1
    S = STRUCTS

    class ZisuPortal(ServiceBase):
        @rpc(_returns=Unicode, _out_variable_name="ECHOTEXT")
        def RFC_PING(ctx):
            return FastXml("")

        @rpc(_returns=(Long, R2), _out_variable_names=("EV_CPIDENT", "RETURN"))
        def Z_ISU_CHANGEPOINTER_GETMAX(ctx):
            return (read(ctx, True, False, lambda: (
                f"<EV_CPIDENT>{conn().execute('SELECT v FROM rv_counter').fetchone()[0]}"
                "</EV_CPIDENT>", [])),)

        @rpc(Unicode, Long, Long, Unicode, Integer,
             _returns=(_tab(S["BUPA"]), _tab(S["INSTLN"]), _tab(S["DEVICE"]), _tab(S["MRDOC"]),
                       _tab(S["PRINTDOC"]), _tab(S["PAYMENT"]), _tab(S["DELETED"]), Unicode, R2),
             _out_variable_names=("ET_PARTNER", "ET_INSTLN", "ET_DEVICE", "ET_MRDOC",
                                  "ET_PRINTDOC", "ET_PAYMENT", "ET_DELETED", "EV_BOOKMARK",
                                  "RETURN"))
        def Z_ISU_CHANGEPOINTERS_READ(ctx, IV_OBJECT, IV_CPIDENT_FROM, IV_CPIDENT_TO,
                                      IV_BOOKMARK, IV_MAX_ROWS):
            """Objects changed with FROM < change pointer <= TO (TO 0: no upper bound), in key
            order from after BOOKMARK (the last key of the previous package), at most MAX_ROWS."""
            def body():
                if IV_OBJECT not in OBJECTS:
                    raise LookupError(Message("E", "ZPORTAL", "010", "Unknown object &1",
                                              IV_OBJECT or ""))
                e, _, to_nav, _ = OBJECTS[IV_OBJECT]
                where, params = "Row_Version > ?", [IV_CPIDENT_FROM or 0]
                if IV_CPIDENT_TO:
                    where += " AND Row_Version <= ?"
                    params.append(IV_CPIDENT_TO)
                if IV_BOOKMARK:
                    try:
                        params.append(to_nav(IV_BOOKMARK))
                    except ValueError:
                        raise LookupError(Message("E", "ZPORTAL", "011",
                                                  "Bookmark &1 is not valid", IV_BOOKMARK)) from None
                    where += f" AND {e.pk} > ?"
                size = max(1, min(IV_MAX_ROWS or 1000, 100_000))
                rows = _rows(conn(), IV_OBJECT, where, params, limit=size)
                bookmark = OBJECTS[IV_OBJECT][1](rows[-1]) if len(rows) >= size else ""
                return _table(TABLE[IV_OBJECT], IV_OBJECT, rows) + \
                    f"<EV_BOOKMARK>{bookmark}</EV_BOOKMARK>", []
            return (read(ctx, True, False, body),)

        @rpc(Unicode, _returns=(S["BUPA"], R2), _out_variable_names=("PARTNERDATA", "RETURN"))
        def BAPI_ISUPARTNER_GETDETAIL(ctx, PARTNER):
            def body():
                rows = _rows(conn(), "BUPA", "No = ?", (partner_no(PARTNER or ""),))
                if not rows:
                    raise LookupError(Message("E", "R1", "140",
                                              "Business partner &1 does not exist", PARTNER or ""))
                return _item("BUPA", rows[0], "PARTNERDATA"), []
            return (read(ctx, True, False, body),)

        @rpc(Unicode, _returns=(_tab(S["INSTLN"]), _tab(S["DEVICE"]), R2),
             _out_variable_names=("ET_INSTLN", "ET_DEVICE", "RETURN"))
        def Z_ISU_POD_GETLIST(ctx, PARTNER):
            def body():
                sps = _rows(conn(), "INSTLN", "Customer_No = ?", (partner_no(PARTNER or ""),))
                nos = [r["No"] for r in sps]
                devices = _rows(conn(), "DEVICE", "Supply_Point_No IN (%s)" % ",".join(
                    "?" * len(nos)), nos) if nos else []
                return _table("ET_INSTLN", "INSTLN", sps) + _table("ET_DEVICE", "DEVICE",
                                                                  devices), []
            return (read(ctx, True, False, body),)

        @rpc(Unicode, _returns=(_tab(S["MRDOC"]), R1),
             _out_variable_names=("MRDOCDATA", "RETURN"))
        def BAPI_MTRREADDOC_GETLIST(ctx, INSTALLATION):
            def body():
                rows = _rows(conn(), "MRDOC", "Supply_Point_No = ?",
                             (anlage_no(INSTALLATION or ""),))
                return _table("MRDOCDATA", "MRDOC", rows), []
            return (read(ctx, False, False, body),)

        @rpc(Unicode, _returns=(_tab(S["PRINTDOC"]), R2),
             _out_variable_names=("ET_PRINTDOC", "RETURN"))
        def Z_ISU_PRINTDOC_GETLIST(ctx, PARTNER):
            def body():
                rows = _rows(conn(), "PRINTDOC", "Customer_No = ?", (partner_no(PARTNER or ""),))
                return _table("ET_PRINTDOC", "PRINTDOC", rows), []
            return (read(ctx, True, False, body),)

        @rpc(Unicode, Unicode, _returns=(_tab(S["PRINTDOC"]), _tab(S["PAYMENT"]), R2),
             _out_variable_names=("OPEN_ITEMS", "PAYMENTS", "RETURN"))
        def BAPI_CTRACCONTRACTACCOUNT_GOI1(ctx, PARTNER, CONTRACTACCOUNT):
            """Open items (print documents not fully paid) and the payments of a partner."""
            def body():
                no = partner_no(PARTNER or "")
                items = _rows(conn(), "PRINTDOC", "Customer_No = ? AND Amount_Paid < "
                              "Amount_Including_VAT", (no,))
                pays = _rows(conn(), "PAYMENT", "Customer_No = ?", (no,))
                return _table("OPEN_ITEMS", "PRINTDOC", items) + _table("PAYMENTS", "PAYMENT",
                                                                       pays), []
            return (read(ctx, True, False, body),)

        @rpc(Unicode, _returns=(_tab(COMMISSION_ITEM), _tab(R2)),
             _out_variable_names=("ET_LINES", "RETURN"))
        def Z_ISU_COMMISSIONS_GET(ctx, IV_PERIOD):
            """The commission lines billing holds for a period (YYYY-MM): what it will pay."""
            def body():
                rows = conn().execute(
                    "SELECT Batch_No, Agent_Code, Contract_No, Period, Amount, Reason FROM "
                    "commission_line WHERE Period = ? ORDER BY id", (IV_PERIOD or "",))
                items = "".join(
                    f"<item><BATCH>{_esc(b or '')}</BATCH><AGENT>{_esc(a or '')}</AGENT>"
                    f"<CONTRACT>{_esc(c or '')}</CONTRACT><PERIOD>{_esc(p or '')}</PERIOD>"
                    f"<AMOUNT>{Decimal(cents or 0) / 100:.2f}</AMOUNT>"
                    f"<REASON>{_esc(r or '')}</REASON></item>"
                    for b, a, c, p, cents, r in rows)
                return f"<ET_LINES>{items}</ET_LINES>", []
            return (read(ctx, True, True, body),)

        @rpc(Unicode, _returns=(Unicode, R2), _out_variable_names=("EV_PDF", "RETURN"))
        def Z_ISU_PRINTDOC_PDF(ctx, OPBEL):
            def body():
                pdf = nav["GetInvoicePdf"].function(ctx, opbel_no(OPBEL or ""))
                if pdf is None:
                    raise LookupError(Message("E", "ZPORTAL", "020",
                                              "Print document &1 does not exist", OPBEL or ""))
                return f"<EV_PDF>{pdf}</EV_PDF>", []
            return (read(ctx, True, False, body),)

        # --- writes --------------------------------------------------------------------------
        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, Integer, Integer, Unicode,
             _returns=(Unicode, Unicode, _tab(R1)),
             _out_variable_names=("EV_MRDOC", "EV_VALIDATION", "RETURN"))
        def BAPI_MTRREADDOC_UPLOAD(ctx, IV_EXTREF, IV_COMMIT, INSTALLATION, SERIALNO,
                                   READINGDATE, READINGRESULT, CORRECTOR_RESULT, CUST_CONFIRMED):
            flagged = (CUST_CONFIRMED or "").upper() == "X"

            def exports(entry):
                if entry is None:
                    return "<EV_MRDOC/><EV_VALIDATION/>"
                return (f"<EV_MRDOC>{_num(entry, 20)}</EV_MRDOC><EV_VALIDATION>"
                        f"{'implausible' if flagged else 'valid'}</EV_VALIDATION>")

            def warn(entry):
                return [Message("W", "EL", "073", "Meter reading &1 is implausible; locked for "
                                "review by the back office", _num(entry, 20))] if flagged else []
            try:
                date = _in_date(READINGDATE)
            except ValueError:
                date = None
            return (write(ctx, IV_EXTREF, IV_COMMIT, "SubmitReading",
                          (anlage_no(INSTALLATION or ""), SERIALNO, date, READINGRESULT,
                           CORRECTOR_RESULT, flagged), exports,
                          subject=(SERIALNO or "", INSTALLATION or ""), bapiret2=False,
                          warn=warn),)

        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             _returns=_tab(R2), _out_variable_name="RETURN")
        def BAPI_ISUPARTNER_CHANGE(ctx, IV_EXTREF, IV_COMMIT, PARTNER, NAME_LAST, NAME_FIRST,
                                   NAME_ORG1, TAXNUM, TAXNUM_VAT, BIRTHDT, STREET, POST_CODE1,
                                   CITY1, REGION, TEL_NUMBER, SMTP_ADDR):
            return write(ctx, IV_EXTREF, IV_COMMIT, "UpdateCustomer", (
                partner_no(PARTNER or ""), NAME_LAST, NAME_FIRST, NAME_ORG1, TAXNUM, TAXNUM_VAT,
                _in_date(BIRTHDT), STREET, POST_CODE1, CITY1, REGION, TEL_NUMBER, SMTP_ADDR),
                none, subject=(PARTNER or "",))

        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             _returns=_tab(R2), _out_variable_name="RETURN")
        def BAPI_BUPA_ADDRESS_CHANGE(ctx, IV_EXTREF, IV_COMMIT, INSTALLATION, ADDR_USAGE, NAME,
                                     STREET, POST_CODE1, CITY1, REGION):
            """The correspondence (billing) address of an installation (ADDR_USAGE 'BILL')."""
            return write(ctx, IV_EXTREF, IV_COMMIT, "UpdateMailingAddress", (
                anlage_no(INSTALLATION or ""), NAME, STREET, POST_CODE1, CITY1, REGION), none,
                subject=(INSTALLATION or "",))

        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             _returns=_tab(R2), _out_variable_name="RETURN")
        def Z_ISU_EBILL_SET(ctx, IV_EXTREF, IV_COMMIT, INSTALLATION, ACTIVE, MODE, EMAILS):
            return write(ctx, IV_EXTREF, IV_COMMIT, "SetInvoiceDelivery", (
                anlage_no(INSTALLATION or ""), (ACTIVE or "").upper() == "X", MODE, EMAILS),
                none, subject=(INSTALLATION or "",))

        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             Unicode, Unicode, _returns=(Unicode, _tab(R2)),
             _out_variable_names=("EV_MNDID", "RETURN"))
        def Z_SEPA_MANDATE_CREATE(ctx, IV_EXTREF, IV_COMMIT, INSTALLATION, IBAN, NAME_LAST,
                                  NAME_FIRST, TAXNUM, BANK, BRANCH, BRANCH_ADDR, MNDID):
            """SEPA_MANDATES_API_CREATE for an installation's contract account (pending)."""
            return (write(ctx, IV_EXTREF, IV_COMMIT, "RequestMandate", (
                anlage_no(INSTALLATION or ""), IBAN, NAME_LAST, NAME_FIRST, TAXNUM, BANK, BRANCH,
                BRANCH_ADDR, MNDID),
                lambda ref: f"<EV_MNDID>{_esc(ref or '')}</EV_MNDID>",
                subject=(INSTALLATION or "",)),)

        @rpc(Unicode, Unicode, Unicode, _returns=_tab(R2), _out_variable_name="RETURN")
        def Z_SEPA_MANDATE_CANCEL(ctx, IV_EXTREF, IV_COMMIT, INSTALLATION):
            return write(ctx, IV_EXTREF, IV_COMMIT, "RevokeMandate",
                         (anlage_no(INSTALLATION or ""),), none, subject=(INSTALLATION or "",))

        @rpc(Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, _returns=_tab(R2),
             _out_variable_name="RETURN")
        def Z_SEPA_MANDATE_STATUS_SET(ctx, IV_EXTREF, IV_COMMIT, INSTALLATION, MNDID, STATUS,
                                      REASON):
            return write(ctx, IV_EXTREF, IV_COMMIT, "SetMandateStatus", (
                anlage_no(INSTALLATION or ""), MNDID, STATUS, REASON), none,
                subject=(MNDID or "",))

        @rpc(Unicode, Unicode, Unicode, _returns=_tab(R2), _out_variable_name="RETURN")
        def Z_ISU_INSTLN_BILLABLE_SET(ctx, IV_EXTREF, IV_COMMIT, INSTALLATION):
            return write(ctx, IV_EXTREF, IV_COMMIT, "MarkInvoiceable",
                         (anlage_no(INSTALLATION or ""),), none, subject=(INSTALLATION or "",))

        @rpc(Unicode, Unicode, Unicode, Unicode,
             Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             Unicode, Unicode, Unicode, Unicode,
             Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             Integer, Unicode, Unicode, Unicode,
             Unicode, Unicode, Unicode, Unicode, Unicode, Unicode,
             _returns=(Unicode, Unicode, Unicode, _tab(R2)),
             _out_variable_names=("EV_MOVEINDOC", "EV_PARTNER", "EV_ANLAGE", "RETURN"))
        def BAPI_ISUMOVEIN_CREATEFROMDATA(
                ctx, IV_EXTREF, IV_COMMIT, CONTRACT_EXT, PARTNER,
                NAME_LAST, NAME_FIRST, NAME_ORG1, TAXNUM, TAXNUM_VAT, BIRTHDT, STREET,
                POST_CODE1, CITY1, REGION, TEL_NUMBER, SMTP_ADDR, LANGU,
                SPARTE, EXT_UI, POD_STREET, POD_POST_CODE1, POD_CITY1, POD_REGION, ANLART,
                PROFILE, EXP_CONSUMPTION, TARIFTYP, PYMET, IBAN,
                KOINH, CO_NAME, CO_STREET, CO_POST_CODE1, CO_CITY1, CO_REGION):
            """Move-in: business partner (new unless PARTNER), installation with its point of
            delivery (EXT_UI = PDR/POD), not billable until the distributor's data arrive."""
            service = DIVISION_OF.get(SPARTE or "", SPARTE or "")

            def exports(res):
                if res is None:
                    return "<EV_MOVEINDOC/><EV_PARTNER/><EV_ANLAGE/>"
                return (f"<EV_MOVEINDOC>{res[0]}</EV_MOVEINDOC><EV_PARTNER>{partner(res[1])}"
                        f"</EV_PARTNER><EV_ANLAGE>{anlage(res[2])}</EV_ANLAGE>")
            args = (CONTRACT_EXT, partner_no(PARTNER) if PARTNER else "", NAME_LAST, NAME_FIRST,
                    NAME_ORG1, TAXNUM, TAXNUM_VAT, _in_date(BIRTHDT), STREET, POST_CODE1, CITY1,
                    REGION, TEL_NUMBER, SMTP_ADDR, "en" if (LANGU or "") == "E" else "it",
                    service, EXT_UI if service == "gas" else "",
                    EXT_UI if service != "gas" else "", POD_STREET, POD_POST_CODE1, POD_CITY1,
                    POD_REGION, ANLART, PROFILE, EXP_CONSUMPTION, TARIFTYP,
                    PYMET_OF.get(PYMET or "", "postal_slip"), IBAN, KOINH, CO_NAME, CO_STREET,
                    CO_POST_CODE1, CO_CITY1, CO_REGION)
            return (write(ctx, IV_EXTREF, IV_COMMIT, "CreateContract", args, exports,
                          subject=(PARTNER or "",)),)

        @rpc(Unicode, Unicode, _tab_in(COMMISSION), _returns=(Unicode, _tab(R2)),
             _out_variable_names=("EV_BATCH", "RETURN"))
        def Z_ISU_COMMISSIONS_POST(ctx, IV_EXTREF, IV_COMMIT, IT_LINES):
            lines = [codeunit.CommissionLine(agentCode=ln.AGENT, contractNo=ln.CONTRACT,
                                             period=ln.PERIOD, amount=ln.AMOUNT, reason=ln.REASON)
                     for ln in IT_LINES or []]
            return (write(ctx, IV_EXTREF, IV_COMMIT, "ExportCommissions", (lines,),
                          lambda b: f"<EV_BATCH>{b or ''}</EV_BATCH>"),)

    return Application([ZisuPortal], tns=NS, name=SERVICE, in_protocol=Soap11(),
                       out_protocol=NavSoap11())
