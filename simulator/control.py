"""Test control: fault injection, call statistics, `touch` (modify a fraction of records).

HTTP JSON under `/_control/` (GET with a query string or POST with a JSON body):
  delay?seconds=S[&count=N][&service=X]   sleep S seconds before answering
  http500 | http503 | http401 | garbage | fault | lock | modified
                                          answer SOAP calls with that failure (fault: a
                                          refusal; lock: "locked by another user" on NAV, the
                                          lock message MC 601 on SAP; modified: NAV's "another
                                          user has modified the record")
  message?type=E|A|W[&id=CLASS&number=NNN&text=T]   (SAP flavour) add that message to the
                                          RETURN of the next answers (E/A: nothing committed)
      (&count=N: only the next N SOAP calls; no count = until `clear`; &service=Customer:
       only calls to that service (SAP: a function module such as BAPI_ISUPARTNER_CHANGE, or
       the object of a change-pointer read such as MRDOC); http500&body=html: an HTML body
       instead of an empty one)
  clear                                   back to normal
  stats                                   calls per service.operation, applied keys, fault mode
  reset_stats                             zero the call counters
  touch?fraction=0.01[&seed=S]            modify that fraction of every entity's records
  mandate?supply_point=SP&status=active|rejected[&reason=R][&reference=REF]
                                          the bank's answer to a pending SEPA mandate (the
                                          supply point's latest request unless REF is given):
                                          active puts it in force (the previous one is
                                          replaced), rejected records the reason
  mandates?supply_point=SP                the supply point's mandates as billing holds them
  delete?entity=customer|supply_point&key=K[&merged_into=K2]
                                          delete a record in billing (a Change Log Entry of type
                                          Deletion); merged_into: a duplicate customer merged
                                          into K2 (its supply points, invoices and payments
                                          move to K2 first)
  commission?contract=NO&amount=A[&period=P]
                                          plant a difference: billing's commission line of that
                                          contract (the period's first) now says amount A
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from decimal import Decimal
from urllib.parse import parse_qs

MODES = ("delay", "http500", "http503", "http401", "garbage", "fault", "lock", "modified",
         "message")
# NAV's answer to a write while another session holds the record: transient, retry later
LOCKED_TEXT = ("The Customer table is locked by another user. Wait until the user is finished "
               "and then try again.")
REFUSED_TEXT = "Simulated fault: the value is not valid for this field."
# NAV's answer to an update whose record changed since it was read (a stale Key)
MODIFIED_TEXT = ("Another user has modified the record for this Customer after you retrieved it "
                 "from the database. Refresh and try again.")

SOAP_FAULT = (
    "<?xml version='1.0' encoding='UTF-8'?>"
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
    '<faultcode xmlns:a="urn:microsoft-dynamics-schemas/error">'
    "a:Microsoft.Dynamics.Nav.Types.Exceptions.NavCSideException</faultcode>"
    "<faultstring xml:lang=\"en-US\">{msg}</faultstring><detail>"
    '<string xmlns="http://schemas.microsoft.com/2003/10/Serialization/">{msg}</string>'
    "</detail></s:Fault></s:Body></s:Envelope>")


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter = Counter()

    def count(self, service: str, operation: str) -> None:
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self.calls)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


class FaultControl:
    """The current injected failure (one at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mode: str | None = None
        self.remaining: int | None = None
        self.seconds = 0.0
        self.service = ""
        self.body = "empty"

    def set(self, mode: str, count=None, seconds=0.0, service="", body="empty") -> None:
        with self._lock:
            self.mode, self.seconds, self.service, self.body = mode, float(seconds or 0), \
                service or "", body or "empty"
            self.remaining = int(count) if count not in (None, "") else None

    def clear(self) -> None:
        self.set(None)

    def take(self, service: str, *also: str):
        """The failure to apply to this SOAP call (consuming one count), or None. A `service`
        filter matches the service or any name in `also` (on SAP: the function module, and
        the object of a change-pointer read)."""
        with self._lock:
            if self.mode is None or (self.service and self.service.lower() not in
                                     {n.lower() for n in (service, *also) if n}):
                return None
            if self.remaining is not None:
                if self.remaining <= 0:
                    self.mode = None
                    return None
                self.remaining -= 1
            return self.mode, self.seconds, self.body

    def describe(self) -> dict:
        with self._lock:
            return {"mode": self.mode, "remaining": self.remaining, "seconds": self.seconds,
                    "service": self.service}


def injected_response(mode: str, body: str, start_response):
    """WSGI answer for an injected failure (delay is handled by the caller)."""
    if mode == "http500":
        payload = (b"<html><body><h1>500 Internal Server Error</h1></body></html>"
                   if body == "html" else b"")
        start_response("500 Internal Server Error",
                       [("Content-Type", "text/html"), ("Content-Length", str(len(payload)))])
        return [payload]
    if mode == "http503":
        start_response("503 Service Unavailable", [("Content-Type", "text/html"),
                                                   ("Retry-After", "30"), ("Content-Length", "0")])
        return [b""]
    if mode == "http401":
        start_response("401 Unauthorized", [("WWW-Authenticate", "Negotiate"),
                                             ("WWW-Authenticate", "NTLM"),
                                             ("Content-Length", "0")])
        return [b""]
    if mode == "garbage":
        payload = b"this is not XML <<<\x00 at all"
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"),
                                  ("Content-Length", str(len(payload)))])
        return [payload]
    text = {"lock": LOCKED_TEXT, "modified": MODIFIED_TEXT}.get(mode, REFUSED_TEXT)
    payload = SOAP_FAULT.format(msg=text).encode()
    start_response("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8"),
                                                 ("Content-Length", str(len(payload)))])
    return [payload]


# --- touch -------------------------------------------------------------------------------------

def touch(conn, fraction: float, seed=None) -> dict:
    """Modify `fraction` of the records of every entity (each bumps Row_Version)."""
    rng = random.Random(seed if seed is not None else time.time_ns())
    out = {}
    today = time.strftime("%Y-%m-%d")

    def sample(table):
        top = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
        k = min(top, max(1, round(top * fraction))) if top else 0
        return sorted(rng.sample(range(1, top + 1), k)) if k else []

    conn.execute("BEGIN IMMEDIATE")
    try:
        ids = sample("customer")
        conn.executemany(
            "UPDATE customer SET Phone_No = ?, E_Mail = CASE WHEN E_Mail = '' THEN '' ELSE "
            "substr(E_Mail, 1, instr(E_Mail, '@') - 1) || ? || substr(E_Mail, instr(E_Mail, '@'))"
            " END WHERE rowid = ?",
            [(f"3{rng.randrange(20, 99)}{rng.randrange(10**6, 10**7)}", str(rng.randrange(10)), i)
             for i in ids])
        out["customer"] = len(ids)
        ids = sample("supply_point")
        conn.executemany("UPDATE supply_point SET Annual_Consumption = Annual_Consumption + ? "
                         "WHERE rowid = ?", [(rng.randrange(-50, 80), i) for i in ids])
        out["supply_point"] = len(ids)
        ids = sample("meter")
        conn.executemany("UPDATE meter SET Digits = Digits WHERE rowid = ?", [(i,) for i in ids])
        out["meter"] = len(ids)
        ids = sample("meter_reading")
        conn.executemany("UPDATE meter_reading SET Status = CASE Status WHEN 'pending' THEN "
                         "'valid' ELSE Status END, Status_Reason = CASE Status WHEN 'pending' "
                         "THEN '' ELSE Status_Reason END WHERE rowid = ?", [(i,) for i in ids])
        out["meter_reading"] = len(ids)
        ids = sample("sales_invoice")
        paid = 0
        for i in ids:
            no, cust, amount, amount_paid = conn.execute(
                "SELECT No, Customer_No, Amount_Including_VAT, Amount_Paid FROM sales_invoice "
                "WHERE rowid = ?", (i,)).fetchone()
            if amount_paid < amount:
                conn.execute("INSERT INTO payment (Invoice_No, Customer_No, Posting_Date, Amount,"
                             " Payment_Method, Where_Paid, Row_Version) VALUES (?, ?, ?, ?, "
                             "'counter', 'Sportello clienti', 0)",
                             (no, cust, today, amount - amount_paid))
                paid += 1
            conn.execute("UPDATE sales_invoice SET Amount_Paid = Amount_Including_VAT, "
                         "Status = 'paid' WHERE rowid = ?", (i,))
        out["sales_invoice"] = len(ids)
        out["payment_created"] = paid
        ids = sample("payment")
        conn.executemany("UPDATE payment SET Where_Paid = Where_Paid WHERE rowid = ?",
                         [(i,) for i in ids])
        out["payment"] = len(ids)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    out["row_version"] = conn.execute("SELECT v FROM rv_counter").fetchone()[0]
    return out


def delete_record(conn, entity: str, key: str, merged_into: str = "") -> dict:
    """Delete a customer or supply point as billing would, logging the deletion."""
    from .schema import CUSTOMER, SUPPLY_POINT

    e = {"customer": CUSTOMER, "supply_point": SUPPLY_POINT}.get(entity)
    if e is None or conn.execute(f"SELECT 1 FROM {e.table} WHERE No = ?", (key,)).fetchone() is None:
        raise LookupError(f"No {entity} {key!r} to delete.")
    if merged_into:
        if e is not CUSTOMER or merged_into == key or conn.execute(
                "SELECT 1 FROM customer WHERE No = ?", (merged_into,)).fetchone() is None:
            raise LookupError(f"Cannot merge {key!r} into {merged_into!r}.")
        for table in ("supply_point", "sales_invoice", "payment"):
            conn.execute(f"UPDATE {table} SET Customer_No = ? WHERE Customer_No = ?",
                         (merged_into, key))
    conn.execute(f"DELETE FROM {e.table} WHERE No = ?", (key,))
    conn.execute("INSERT INTO change_log_entry (Date_and_Time, Table_No, Type_of_Change, "
                 "Primary_Key_Field_1_Value, Merged_Into, Row_Version) VALUES "
                 "(strftime('%Y-%m-%dT%H:%M:%S', 'now'), ?, 'Deletion', ?, ?, 0)",
                 (e.table_id, key, merged_into))
    return {"ok": True, "entity": entity, "key": key, "merged_into": merged_into}


# --- the /_control/ WSGI endpoint --------------------------------------------------------------

def _params(environ) -> dict:
    params = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if environ.get("REQUEST_METHOD") == "POST":
        try:
            n = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            n = 0
        if n:
            raw = environ["wsgi.input"].read(n)
            try:
                params.update(json.loads(raw or b"{}"))
            except ValueError:
                pass
    return params


def _write(state, apply) -> tuple[str, dict]:
    """`apply(conn)` in one write transaction; a LookupError is a 409 with its text."""
    conn = state.pool.get()
    with state.pool.write_lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = apply(conn)
            conn.execute("COMMIT")
            return "200 OK", result
        except LookupError as exc:
            conn.execute("ROLLBACK")
            return "409 Conflict", {"ok": False, "error": str(exc)}
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def handle_control(state, action: str, environ, start_response):
    p = _params(environ)
    status = "200 OK"
    if action in MODES:
        body = p.get("body", "empty")
        if action == "message":
            body = {"type": str(p.get("type", "E")).upper(), "id": p.get("id", "ZSIM"),
                    "number": str(p.get("number", "001")).zfill(3),
                    "text": p.get("text", "Simulated message")}
        state.fault.set(action, p.get("count"), p.get("seconds", 0), p.get("service", ""), body)
        result = {"ok": True, "fault": state.fault.describe()}
    elif action == "clear":
        state.fault.clear()
        result = {"ok": True}
    elif action == "stats":
        conn = state.pool.get()
        applied = dict(conn.execute("SELECT operation, count(*) FROM applied_op GROUP BY 1"))
        keys = [r[0] for r in conn.execute("SELECT idem_key FROM applied_op ORDER BY rowid")]
        result = {"calls": state.stats.snapshot(), "applied": applied, "applied_keys": keys,
                  "row_version": conn.execute("SELECT v FROM rv_counter").fetchone()[0],
                  "fault": state.fault.describe()}
    elif action == "reset_stats":
        state.stats.reset()
        result = {"ok": True}
    elif action == "touch":
        with state.pool.write_lock:
            result = touch(state.pool.get(), float(p.get("fraction", 0.01)),
                           int(p["seed"]) if p.get("seed") not in (None, "") else None)
    elif action == "mandate":
        from .codeunit import decide_mandate

        status, result = _write(state, lambda conn: {"ok": True, **decide_mandate(
            conn, p.get("reference", ""), p.get("status", ""), p.get("reason", ""),
            supply_point_no=p.get("supply_point", ""))})
    elif action == "mandates":
        conn = state.pool.get()
        rows = conn.execute("SELECT Reference, IBAN, Status, Reason FROM sepa_mandate WHERE "
                            "Supply_Point_No = ? ORDER BY Created_At, Reference",
                            (p.get("supply_point", ""),)).fetchall()
        result = {"mandates": [dict(zip(("reference", "iban", "status", "reason"), r))
                               for r in rows]}
    elif action == "delete":
        status, result = _write(state, lambda conn: delete_record(
            conn, p.get("entity", ""), p.get("key", ""), p.get("merged_into", "")))
    elif action == "commission":
        conn = state.pool.get()
        with state.pool.write_lock:
            where, args = "Contract_No = ?", [p.get("contract", "")]
            if p.get("period"):
                where, args = where + " AND Period = ?", args + [p["period"]]
            row = conn.execute(f"SELECT id FROM commission_line WHERE {where} ORDER BY id LIMIT 1",
                               args).fetchone()
            if row is None:
                status, result = "404 Not Found", {"ok": False, "error": "no such commission line"}
            else:
                cents = int(Decimal(str(p.get("amount", "0"))) * 100)
                conn.execute("UPDATE commission_line SET Amount = ? WHERE id = ?", (cents, row[0]))
                result = {"ok": True, "id": row[0], "amount_cents": cents}
    elif action == "health":
        result = {"ok": True, "company": state.company}
    else:
        status, result = "404 Not Found", {"error": f"unknown action {action}"}
    body = json.dumps(result).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]
