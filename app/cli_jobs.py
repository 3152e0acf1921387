"""Flask CLI commands for jobs: `flask sportello invoice-mail | run-job`."""
from __future__ import annotations

import click
from flask import current_app


@click.command("invoice-mail")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16),
              help="Worker processes sharing the batch.")
@click.option("--chunk", default=100, show_default=True, type=click.IntRange(1, 1000),
              help="At most this many invoices claimed at a time by one worker.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def invoice_mail_command(workers: int, chunk: int, quiet: bool) -> None:
    """Send the invoice e-mails now: recover interrupted claims, queue new invoices, send."""
    from app.jobs.invoice_mail import run_batch

    bar = None

    def progress(done: int, total: int, counts: dict) -> None:
        nonlocal bar
        if quiet or total == 0:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="Invoice e-mails", show_pos=True,
                                    file=click.get_text_stream("stderr"))
            bar.__enter__()
        bar.update(max(0, min(done, total) - bar.pos))

    try:
        counts = run_batch(workers, progress=progress, chunk=chunk)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo("Invoice e-mails: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@click.command("run-job")
@click.argument("job_id")
def run_job_command(job_id: str) -> None:
    """Run one scheduled job now, under its lease (as the admin's "run now" does)."""
    from app.jobs import JOBS, run_job

    if job_id not in {j.id for j in JOBS}:
        raise click.ClickException(f"unknown job {job_id!r}: {', '.join(j.id for j in JOBS)}")
    outcome = run_job(current_app._get_current_object(), job_id)
    click.echo(f"Job {job_id}: {outcome}")
    if outcome == "failed":
        raise click.ClickException("the run failed: see the jobs page or the log")


def register(group: click.Group) -> None:
    group.add_command(invoice_mail_command)
    group.add_command(run_job_command)
