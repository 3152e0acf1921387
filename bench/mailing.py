"""Benchmark: the invoice e-mail batch against raw baselines measured in the same run.

    .venv/bin/python bench/mailing.py [--messages 2000] [--pdfs 60] [--database-url URL]

One local SMTP sink (aiosmtpd in its own process, accepting and discarding) serves every part:
(a) raw: a plain smtplib loop sending prebuilt messages on one connection;
(b) ours, link mode: queue building + claims + rendering + sending + the log, one worker;
(c) raw xhtml2pdf renders of the invoice template (HTML prepared beforehand), one process and
    two processes;
(d) ours, PDF mode with two worker processes (each invoice rendered, stored, attached, sent).
Targets: (b) >= 70 % of (a); (d) >= 85 % of (c) with two processes.
Figures are appended to docs/benchmarks.md with machine and date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import multiprocessing
import os
import platform
import shutil
import smtplib
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# --- the SMTP sink --------------------------------------------------------------------------

def _sink(port: int, ready) -> None:
    import asyncio

    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    ready.set()
    asyncio.run(asyncio.sleep(10 ** 6))


def start_sink() -> tuple[multiprocessing.Process, int]:
    from simulator.testing import free_port

    port = free_port()
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_sink, args=(port, ready), daemon=True)
    proc.start()
    ready.wait(30)
    return proc, port


# --- data -----------------------------------------------------------------------------------

def make_data(n: int, mode, start: int) -> None:
    """n customers, each with one supply point, delivery on (one address) and one invoice."""
    from app.extensions import db
    from app.models import (Customer, Invoice, InvoiceDeliveryRecipient, InvoiceDeliverySetting,
                            InvoiceLine, Service, SupplyPoint)

    for i in range(start, start + n):
        c = Customer(code=f"B{i:07d}", last_name="Rossi", first_name="Maria", search_name="rossi maria",
                     language="it" if i % 5 else "en", email=f"c{i}@example.org", address="Via Roma 1",
                     post_code="00100", city="Roma", province="RM")
        db.session.add(c)
        db.session.flush()
        sp = SupplyPoint(code=f"SPB{i:07d}", customer_id=c.id, service=Service.GAS, pdr=f"{i:014d}",
                         address="Via Roma 1", city="Roma", province="RM")
        db.session.add(sp)
        db.session.flush()
        setting = InvoiceDeliverySetting(supply_point_id=sp.id, enabled=True, mode=mode,
                                         active_since=dt.date(2026, 1, 1))
        db.session.add(setting)
        db.session.flush()
        db.session.add(InvoiceDeliveryRecipient(setting_id=setting.id, position=1, email=f"c{i}@example.org"))
        inv = Invoice(number=f"FT2026/B{i:07d}", customer_id=c.id, supply_point_id=sp.id,
                      invoice_date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 5),
                      amount=Decimal("123.45"), consumption=120, unit="Smc", web_code=f"W{i:08d}")
        db.session.add(inv)
        db.session.flush()
        for line_no, (desc, amount) in enumerate((("Materia gas", "70.00"), ("Trasporto e contatore", "25.00"),
                                                  ("Oneri di sistema", "12.00"), ("Imposte", "16.45")), 1):
            db.session.add(InvoiceLine(invoice_id=inv.id, line_no=line_no, description=desc,
                                       quantity=Decimal("1"), unit_price=Decimal(amount),
                                       amount=Decimal(amount), vat_percent=Decimal("10")))
    db.session.commit()


# --- (a) and (c): the raw baselines ---------------------------------------------------------

def raw_smtp(messages, port: int) -> float:
    start = time.perf_counter()
    conn = smtplib.SMTP("127.0.0.1", port)
    for msg in messages:
        conn.send_message(msg)
    conn.quit()
    return time.perf_counter() - start


def _render_many(htmls: list[str]) -> int:
    from xhtml2pdf import pisa

    for html in htmls:
        out = io.BytesIO()
        pisa.CreatePDF(html, dest=out, encoding="utf-8")
    return len(htmls)


def raw_xhtml2pdf(htmls: list[str], processes: int) -> float:
    start = time.perf_counter()
    if processes == 1:
        _render_many(htmls)
    else:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            pool.map(_render_many, [htmls[i::processes] for i in range(processes)])
    return time.perf_counter() - start


def invoice_htmls(app, numbers: list[str]) -> list[str]:
    import sqlalchemy as sa
    from flask import render_template
    from flask_babel import force_locale

    from app.extensions import db
    from app.models import Invoice

    out = []
    for inv in db.session.scalars(sa.select(Invoice).where(Invoice.number.in_(numbers))):
        with app.test_request_context("/"), force_locale("it"):
            out.append(render_template("pdf/invoice.html", invoice=inv, customer=inv.customer,
                                       supply_point=inv.supply_point, lines=inv.lines, payments=inv.payments))
    return out


# --- main -----------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000, help="link-mode invoices (and raw messages)")
    ap.add_argument("--pdfs", type=int, default=60, help="PDF-mode invoices (and raw renders per setting)")
    ap.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    ap.add_argument("--no-write", action="store_true", help="print only; docs/benchmarks.md untouched")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    sink, port = start_sink()
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.jobs.invoice_mail import run_batch
    from app.models import DeliveryMode, InvoiceEmailLog
    from app.services import invoice_mailing as im
    from config import Config

    url = args.database_url or f"sqlite:///{work / 'sportello.db'}"
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                     MAIL_USE_TLS=False, MAIL_USERNAME="", INVOICE_PDF_FROM_BILLING=False,
                     BILLING_URL="http://127.0.0.1:9/NAV/WS/DEMO")
    r: dict = {"engine": url.split(":")[0].split("+")[0]}
    with app.app_context():
        upgrade(directory=str(app.config["MIGRATIONS_DIR"]), revision="heads")
        db.session.execute(InvoiceEmailLog.__table__.delete())
        db.session.commit()
        make_data(args.messages, DeliveryMode.LINK, 1)

        # (a) raw smtplib with prebuilt messages: our own link-mode messages, built beforehand.
        im.build_queue()
        import sqlalchemy as sa

        ids = list(db.session.scalars(sa.select(InvoiceEmailLog.id)))
        templates = im._Templates()
        prebuilt = [im.build(g, templates) for g in im._groups(ids)]
        db.session.execute(InvoiceEmailLog.__table__.delete())
        db.session.commit()
        r["a_n"], r["a_s"] = len(prebuilt), raw_smtp(prebuilt, port)
        print(f"(a) raw smtplib loop:     {r['a_n']} messages in {r['a_s']:.2f} s = {r['a_n'] / r['a_s']:,.0f} msg/s", flush=True)

        # (b) our batch, link mode, one worker.
        start = time.perf_counter()
        counts = run_batch(1)
        r["b_s"] = time.perf_counter() - start
        r["b_n"] = counts["messages"]
        assert counts["sent"] == args.messages, counts
        print(f"(b) our batch, link mode: {r['b_n']} messages in {r['b_s']:.2f} s = {r['b_n'] / r['b_s']:,.0f} msg/s", flush=True)

        if not args.pdfs:
            sink.terminate()
            print(f"link mode / raw smtplib = {(r['b_n'] / r['b_s']) / (r['a_n'] / r['a_s']):.2f}")
            return
        # (c) raw xhtml2pdf renders with one and two processes.
        make_data(args.pdfs, DeliveryMode.PDF, 10 ** 6)
        htmls = invoice_htmls(app, [f"FT2026/B{i:07d}" for i in range(10 ** 6, 10 ** 6 + args.pdfs)])
        db.session.rollback()
        r["c_n"] = len(htmls)
        r["c1_s"] = raw_xhtml2pdf(htmls, 1)
        print(f"(c) raw xhtml2pdf, 1 process:  {r['c_n']} in {r['c1_s']:.2f} s = {r['c_n'] / r['c1_s']:.1f} PDF/s", flush=True)
        r["c2_s"] = raw_xhtml2pdf(htmls, 2)
        print(f"(c) raw xhtml2pdf, 2 processes: {r['c_n']} in {r['c2_s']:.2f} s = {r['c_n'] / r['c2_s']:.1f} PDF/s", flush=True)

        # (d) our batch, PDF mode, two workers (rendered, stored, attached, sent, logged).
        start = time.perf_counter()
        counts = run_batch(2)
        r["d_s"] = time.perf_counter() - start
        r["d_n"] = counts["messages"]
        assert counts["sent"] == args.pdfs, counts
        print(f"(d) our batch, PDF mode, 2 workers: {r['d_n']} in {r['d_s']:.2f} s = {r['d_n'] / r['d_s']:.1f} msg/s", flush=True)
    sink.terminate()
    r["link_ratio"] = (r["b_n"] / r["b_s"]) / (r["a_n"] / r["a_s"])
    r["pdf_ratio"] = (r["d_n"] / r["d_s"]) / (r["c_n"] / r["c2_s"])
    r["pdf_scaling"] = r["c1_s"] / r["c2_s"]
    print(f"link mode / raw smtplib = {r['link_ratio']:.2f} (target >= 0.70); "
          f"PDF mode 2 workers / raw xhtml2pdf 2 processes = {r['pdf_ratio']:.2f} (target >= 0.85)")
    if not args.no_write:
        write_results(args, r)
    shutil.rmtree(work, ignore_errors=True)


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.node()}, {os.cpu_count()} cores {cpu}, Python {platform.python_version()}"


def write_results(args, r: dict) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    doc.parent.mkdir(exist_ok=True)
    if not doc.exists():
        doc.write_text("# Benchmarks\n\nEach benchmark measures its baseline in the same run; "
                       "machines are shared and noisy, so compare ratios, not absolute figures.\n")
    text = f"""
## Invoice e-mails ({dt.date.today().isoformat()})

`bench/mailing.py --messages {args.messages} --pdfs {args.pdfs}`, database {r['engine']}, one local
SMTP sink (aiosmtpd in its own process, discarding) for every part. Machine: {machine()}.

| measure | items | seconds | per second |
|---|---:|---:|---:|
| (a) raw smtplib loop, prebuilt messages, one connection | {r['a_n']:,} | {r['a_s']:.2f} | {r['a_n'] / r['a_s']:,.0f} |
| (b) our batch, link mode, one worker (queue, claims, rendering, sending, log) | {r['b_n']:,} | {r['b_s']:.2f} | {r['b_n'] / r['b_s']:,.0f} |
| (c) raw xhtml2pdf renders of the invoice template, 1 process | {r['c_n']} | {r['c1_s']:.2f} | {r['c_n'] / r['c1_s']:.1f} |
| (c) raw xhtml2pdf renders of the invoice template, 2 processes | {r['c_n']} | {r['c2_s']:.2f} | {r['c_n'] / r['c2_s']:.1f} |
| (d) our batch, PDF mode, 2 worker processes (render, store, attach, send, log) | {r['d_n']} | {r['d_s']:.2f} | {r['d_n'] / r['d_s']:.1f} |

Link mode runs at **{r['link_ratio']:.0%} of the raw smtplib loop** (target ≥ 70 %); PDF mode with
two workers at **{r['pdf_ratio']:.0%} of raw xhtml2pdf with two processes** (target ≥ 85 %);
two processes render {r['pdf_scaling']:.2f}× as fast as one.
"""
    with doc.open("a") as fh:
        fh.write(text)
    print(f"results appended to {doc}")


if __name__ == "__main__":
    main()
