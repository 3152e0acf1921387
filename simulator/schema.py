"""The simulator's database: entity metadata (NAV field names), SQLite schema, connections.

Column names are the SOAP field names, so one list drives the table, the spyne types, the
`<Entity>_Fields` enums and the filter translation. Money is stored as integer cents, dates as
ISO text, booleans as 0/1. `Row_Version` is a global counter bumped by triggers on every insert
or update of any table (like SQL Server's rowversion / NAV's timestamp).
"""
from __future__ import annotations

import base64
import binascii
import os
import sqlite3
import threading
from dataclasses import dataclass

TEXT, INT, MONEY, DATE, DATETIME, BOOL, DECIMAL = (
    "text", "int", "money", "date", "datetime", "bool", "decimal")

COMMON = [("Row_Version", INT), ("Last_Modified_At", DATETIME)]


@dataclass(frozen=True)
class EntityDef:
    name: str          # page service name and record element name, e.g. "Customer"
    table: str         # SQLite table
    table_id: int      # NAV-like table number used in Key
    pk: str            # primary key field
    fields: tuple      # ((name, type), ...) without Key; Row_Version/Last_Modified_At last
    indexed: tuple = ()

    @property
    def pk_type(self) -> str:
        return dict(self.fields)[self.pk]

    @property
    def field_names(self) -> list[str]:
        return [f for f, _ in self.fields]

    @property
    def types(self) -> dict[str, str]:
        return dict(self.fields)


def _e(name, table, table_id, pk, fields, indexed=()):
    return EntityDef(name, table, table_id, pk, tuple(fields) + tuple(COMMON), tuple(indexed))


CUSTOMER = _e("Customer", "customer", 18, "No", [
    ("No", TEXT), ("Partner_Type", TEXT), ("Name", TEXT), ("Last_Name", TEXT),
    ("First_Name", TEXT), ("Tax_Code", TEXT), ("VAT_Registration_No", TEXT),
    ("Date_of_Birth", DATE), ("Address", TEXT), ("Post_Code", TEXT), ("City", TEXT),
    ("County", TEXT), ("Phone_No", TEXT), ("E_Mail", TEXT), ("Language_Code", TEXT),
], indexed=("Tax_Code",))

SUPPLY_POINT = _e("SupplyPoint", "supply_point", 50100, "No", [
    ("No", TEXT), ("Customer_No", TEXT), ("Service", TEXT), ("PDR", TEXT), ("POD", TEXT),
    ("Address", TEXT), ("Post_Code", TEXT), ("City", TEXT), ("County", TEXT),
    ("Use_Type", TEXT), ("Withdrawal_Class", TEXT), ("Tariff_Option", TEXT),
    ("Annual_Consumption", INT), ("Status", TEXT), ("Payment_Method", TEXT), ("IBAN", TEXT),
    ("Account_Holder", TEXT), ("Mandate_Reference", TEXT), ("Mail_Name", TEXT),
    ("Mail_Address", TEXT), ("Mail_Post_Code", TEXT), ("Mail_City", TEXT),
    ("Mail_County", TEXT), ("Activation_Date", DATE), ("Conversion_Coefficient", DECIMAL),
    # The mandate in force (Mandate_Reference): active | revoked; the latest mandate request:
    # its number, pending | active | rejected, and the reason of a rejection.
    ("Mandate_Status", TEXT), ("Mandate_Request_No", TEXT), ("Mandate_Request_Status", TEXT),
    ("Mandate_Reject_Reason", TEXT),
], indexed=("Customer_No",))

METER = _e("Meter", "meter", 50101, "Serial_No", [
    ("Serial_No", TEXT), ("Supply_Point_No", TEXT), ("Digits", INT), ("Has_Corrector", BOOL),
    ("Corrector_Serial_No", TEXT), ("Installation_Date", DATE), ("Removal_Date", DATE),
    ("Corrector_Digits", INT),
], indexed=("Supply_Point_No",))

READING = _e("MeterReading", "meter_reading", 50102, "Entry_No", [
    ("Entry_No", INT), ("Supply_Point_No", TEXT), ("Meter_Serial_No", TEXT),
    ("Reading_Date", DATE), ("Reading_Value", INT), ("Corrector_Value", INT),
    ("Reading_Type", TEXT), ("Source", TEXT), ("Status", TEXT), ("Consumption", INT),
    # billing's validation: Status valid | pending (implausible, being checked) | rejected, and
    # why (empty for a valid reading)
    ("Status_Reason", TEXT),
], indexed=("Supply_Point_No",))

INVOICE = _e("SalesInvoice", "sales_invoice", 112, "No", [
    ("No", TEXT), ("Customer_No", TEXT), ("Supply_Point_No", TEXT), ("Posting_Date", DATE),
    ("Due_Date", DATE), ("Document_Type", TEXT), ("Period_From", DATE), ("Period_To", DATE),
    ("Consumption", INT), ("Unit_of_Measure", TEXT), ("Amount_Including_VAT", MONEY),
    ("Amount_Paid", MONEY), ("Status", TEXT), ("Web_Code", TEXT),
], indexed=("Customer_No", "Supply_Point_No", "Web_Code"))

PAYMENT = _e("Payment", "payment", 21, "Entry_No", [
    ("Entry_No", INT), ("Invoice_No", TEXT), ("Customer_No", TEXT), ("Posting_Date", DATE),
    ("Amount", MONEY), ("Payment_Method", TEXT), ("Where_Paid", TEXT),
], indexed=("Customer_No", "Invoice_No"))

# NAV's Change Log Entry (table 405) as a page: deletions in billing (Type_of_Change
# "Deletion"; `Merged_Into`: the surviving record when a duplicate was merged into another).
# Not an entity the portal copies, so not in ENTITIES.
CHANGE_LOG = _e("ChangeLogEntry", "change_log_entry", 405, "Entry_No", [
    ("Entry_No", INT), ("Date_and_Time", DATETIME), ("Table_No", INT), ("Type_of_Change", TEXT),
    ("Primary_Key_Field_1_Value", TEXT), ("Merged_Into", TEXT),
])

ENTITIES: dict[str, EntityDef] = {e.name: e for e in
                                  (CUSTOMER, SUPPLY_POINT, METER, READING, INVOICE, PAYMENT)}

# invoice lines live in a JSON column of sales_invoice: [[line_no, description, quantity,
# unit_price, amount_cents, vat_percent], ...] (quantity/unit_price/vat as decimal strings)
LINE_FIELDS = [("Line_No", INT), ("Description", TEXT), ("Quantity", DECIMAL),
               ("Unit_Price", DECIMAL), ("Line_Amount", MONEY), ("VAT_Percent", DECIMAL)]

_SQLTYPE = {TEXT: "TEXT", INT: "INTEGER", MONEY: "INTEGER", DATE: "TEXT", DATETIME: "TEXT",
            BOOL: "INTEGER", DECIMAL: "TEXT"}


def _table_sql(e: EntityDef) -> list[str]:
    cols = []
    for f, t in e.fields:
        col = f"{f} {_SQLTYPE[t]}"
        if f == e.pk:
            col += " PRIMARY KEY"
        elif t == TEXT:
            col += " NOT NULL DEFAULT ''"
        elif f == "Row_Version":
            col += " NOT NULL DEFAULT 0"
        cols.append(col)
    if e is INVOICE:
        cols.append("Lines TEXT NOT NULL DEFAULT '[]'")
    return [f"CREATE TABLE IF NOT EXISTS {e.table} ({', '.join(cols)})"]


def _index_sql(e: EntityDef) -> list[str]:
    out = [f"CREATE INDEX IF NOT EXISTS ix_{e.table}_rv ON {e.table} (Row_Version)"]
    for col in e.indexed:
        out.append(f"CREATE INDEX IF NOT EXISTS ix_{e.table}_{col.lower()} ON {e.table} ({col})")
    return out


def _trigger_sql(e: EntityDef) -> list[str]:
    # the generator inserts with explicit versions; anything else (Row_Version 0) gets the next
    stamp = ("UPDATE rv_counter SET v = v + 1; "
             f"UPDATE {e.table} SET Row_Version = (SELECT v FROM rv_counter), "
             "Last_Modified_At = strftime('%Y-%m-%dT%H:%M:%S', 'now') "
             f"WHERE {e.pk} = NEW.{e.pk};")
    return [
        f"CREATE TRIGGER IF NOT EXISTS tr_{e.table}_ins AFTER INSERT ON {e.table} "
        f"WHEN NEW.Row_Version = 0 BEGIN {stamp} END",
        f"CREATE TRIGGER IF NOT EXISTS tr_{e.table}_upd AFTER UPDATE ON {e.table} "
        f"WHEN NEW.Row_Version = OLD.Row_Version BEGIN {stamp} END",
    ]


OTHER_TABLES = [
    "CREATE TABLE IF NOT EXISTS rv_counter (id INTEGER PRIMARY KEY CHECK (id = 1), v INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO rv_counter (id, v) VALUES (1, 0)",
    "CREATE TABLE IF NOT EXISTS applied_op (idem_key TEXT PRIMARY KEY, operation TEXT NOT NULL, "
    "result TEXT NOT NULL, applied_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS reservation (No TEXT PRIMARY KEY, Contract_No TEXT NOT NULL, "
    "Customer_No TEXT NOT NULL, Supply_Point_No TEXT NOT NULL, Created_At TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS commission_line (id INTEGER PRIMARY KEY, Batch_No TEXT NOT NULL, "
    "Agent_Code TEXT, Contract_No TEXT, Period TEXT, Amount INTEGER, Reason TEXT)",
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)",
    # SEPA direct-debit mandates as billing registers them (NAV's "SEPA Direct-Debit Mandate"
    # table): a request waits as pending until the bank's answer (the control endpoint, or the
    # portal's back office through SetMandateStatus) makes it active or rejected.
    "CREATE TABLE IF NOT EXISTS sepa_mandate (Reference TEXT PRIMARY KEY, Supply_Point_No TEXT "
    "NOT NULL, IBAN TEXT NOT NULL, Account_Holder TEXT NOT NULL, Status TEXT NOT NULL, "
    "Reason TEXT NOT NULL DEFAULT '', Created_At TEXT NOT NULL, Changed_At TEXT)",
    # Invoice delivery by e-mail per supply point, as the portal reports it (not a page).
    "CREATE TABLE IF NOT EXISTS invoice_delivery (Supply_Point_No TEXT PRIMARY KEY, "
    "Enabled INTEGER NOT NULL, Mode TEXT NOT NULL, E_Mails TEXT NOT NULL, Modified_At TEXT)",
]


def _add_missing_columns(conn: sqlite3.Connection, e: EntityDef) -> None:
    """A database generated by an earlier version gets the fields added since (empty)."""
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({e.table})")}
    for f, t in e.fields:
        if f not in have:
            default = " NOT NULL DEFAULT ''" if t == TEXT else ""
            conn.execute(f"ALTER TABLE {e.table} ADD COLUMN {f} {_SQLTYPE[t]}{default}")


def create_schema(conn: sqlite3.Connection, indexes: bool = True) -> None:
    for e in (*ENTITIES.values(), CHANGE_LOG):
        for s in _table_sql(e) + _trigger_sql(e):
            conn.execute(s)
        _add_missing_columns(conn, e)
    for s in OTHER_TABLES:
        conn.execute(s)
    if indexes:
        create_indexes(conn)
    conn.commit()


def create_indexes(conn: sqlite3.Connection) -> None:
    for e in ENTITIES.values():
        for s in _index_sql(e):
            conn.execute(s)


def connect(path: str, *, bulk: bool = False) -> sqlite3.Connection:
    """Open the simulator DB (WAL, busy timeout). `bulk` = fast unsafe settings for generation."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=30000")
    if bulk:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-200000")
    else:
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class ConnectionPool:
    """One connection per thread (wsgiref's threading server spawns a thread per request)."""

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        self.write_lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn


# --- Key: "<table id>;<base64 of the primary key>;<row version>;" (opaque for clients) -------

def make_key(e: EntityDef, pk, row_version) -> str:
    enc = base64.urlsafe_b64encode(str(pk).encode()).decode()
    return f"{e.table_id};{enc};{row_version};"


def parse_key(e: EntityDef, key: str):
    """Primary key value from a Key; ValueError when the key is not one of this entity's."""
    parts = key.split(";")
    if len(parts) < 3 or parts[0] != str(e.table_id):
        raise ValueError("bad key")
    try:
        raw = base64.urlsafe_b64decode(parts[1].encode()).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("bad key") from exc
    return int(raw) if e.pk_type == INT else raw
