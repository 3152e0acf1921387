"""The nightly invoice e-mail batch (F-31): the scheduled job and the multi-worker runner.

The job (under its lease) gives back the claims of crashed workers, queues the new invoices and
sends what is due. `run_batch(workers=N)` does the same with N worker processes sharing the
queue (forked from this one; each claims its own rows), reporting progress to a callback — the
CLI draws a progress bar with it.
"""
from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
import sys
from typing import Callable

from flask import Flask, current_app

from app.extensions import db
from app.services.mailing import invoice_queue as queue
from app.services.mailing.invoice_sender import send_due

log = logging.getLogger(__name__)


def invoice_mail_job() -> dict:
    """Recover, queue, send: the counts of one run."""
    counts = queue.recover_stale()
    counts["queued"] = queue.build_queue()
    counts.update(send_due())
    return counts


def _worker(app: Flask, chunk: int, results) -> None:
    # What the worker inherits (the app, its models, templates) lives as long as it does: keep
    # the garbage collector off it (it cost about 5 % of a PDF batch) and its pages shared.
    gc.freeze()
    # Its SMTP thread needs the interpreter a few times per message while the main thread
    # renders a PDF: let it in within half a millisecond instead of five.
    sys.setswitchinterval(0.0005)
    with app.app_context():
        db.engine.dispose(close=False)  # never reuse the parent's connections
        try:
            results.put(send_due(chunk=chunk))
        finally:
            db.session.remove()
            db.engine.dispose()


def run_batch(workers: int = 1, *, progress: Callable[[int, int, dict], None] | None = None,
              chunk: int = queue.CHUNK_MESSAGES) -> dict:
    """Recover, queue and send with `workers` processes; progress(done rows, total rows, counts)."""
    app = current_app._get_current_object()
    counts = queue.recover_stale()
    counts["queued"] = queue.build_queue()
    total = queue.due_count()
    if workers <= 1:
        def on_message(c: dict) -> None:
            if progress:
                progress(c["sent"] + c["failed"] + c["retry"], total, c)

        counts.update(send_due(progress=on_message, chunk=chunk))
        return counts
    db.session.remove()
    db.engine.dispose()
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(app, chunk, results)) for _ in range(workers)]
    for p in procs:
        p.start()
    running = [p.sentinel for p in procs]
    while running:
        if progress:
            progress(total - min(total, queue.due_count() + _in_flight()), total, counts)
            db.session.rollback()
        # Wakes up when a worker ends (or to redraw the progress): no sleeping past the end.
        for ended in multiprocessing.connection.wait(running, timeout=0.3):
            running.remove(ended)
    for p in procs:
        p.join()
    for _ in range(sum(1 for p in procs if p.exitcode == 0)):
        for key, value in results.get(timeout=10).items():
            counts[key] = counts.get(key, 0) + value
    counts["workers"] = workers
    counts["workers_failed"] = sum(1 for p in procs if p.exitcode != 0)
    if progress:
        progress(total, total, counts)
    return counts


def _in_flight() -> int:
    import sqlalchemy as sa

    from app.models import InvoiceEmailLog, SendOutcome

    return db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceEmailLog)
                             .where(InvoiceEmailLog.claimed_by.is_not(None),
                                    InvoiceEmailLog.outcome.in_(queue.DUE + (SendOutcome.SENDING,)))) or 0
