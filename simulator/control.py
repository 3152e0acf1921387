"""Test control: fault injection, call statistics, `touch` (modify a fraction of records).

HTTP JSON under `/_control/` (GET with a query string or POST with a JSON body):
  delay?seconds=S[&count=N][&service=X]   sleep S seconds before answering
  http500 | http401 | garbage | fault     answer SOAP calls with that failure
      (&count=N: only the next N SOAP calls; no count = until `clear`; &service=Customer:
       only calls to that service; http500&body=html: an HTML body instead of an empty one)
  clear                                   back to normal
  stats                                   calls per service.operation, applied keys, fault mode
  reset_stats                             zero the call counters
  touch?fraction=0.01[&seed=S]            modify that fraction of every entity's records
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from urllib.parse import parse_qs

MODES = ("delay", "http500", "http401", "garbage", "fault")

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

    def take(self, service: str):
        """The failure to apply to this SOAP call (consuming one count), or None."""
        with self._lock:
            if self.mode is None or (self.service and self.service.lower() != service.lower()):
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
    payload = SOAP_FAULT.format(msg="Simulated fault: the Customer table is locked by another "
                                    "user. Try again later.").encode()
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
                         "'valid' ELSE Status END WHERE rowid = ?", [(i,) for i in ids])
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


def handle_control(state, action: str, environ, start_response):
    p = _params(environ)
    status = "200 OK"
    if action in MODES:
        state.fault.set(action, p.get("count"), p.get("seconds", 0), p.get("service", ""),
                        p.get("body", "empty"))
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
    elif action == "health":
        result = {"ok": True, "company": state.company}
    else:
        status, result = "404 Not Found", {"error": f"unknown action {action}"}
    body = json.dumps(result).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]
