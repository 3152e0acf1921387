"""/metrics: protected by a token or a network allow-list, and moving as the system works (a
self-reading puts a write in the outbox, the outbox job takes it out)."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.flows import align_and_login, submit_reading

TOKEN = "metrics-scrape-token-for-tests-0001"


@pytest.fixture
def scrape(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    monkeypatch.setitem(app.config, "READYZ_SOFT_CHECK_SECONDS", 0)

    def _scrape() -> dict:
        resp = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 200
        values = {}
        for family in text_string_to_metric_families(resp.get_data(as_text=True)):
            for sample in family.samples:
                values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return values

    return _scrape


def value(values: dict, name: str, **labels) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_token_or_an_allowed_network(app, client, monkeypatch):
    assert client.get("/metrics").status_code == 404  # neither configured: off
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    monkeypatch.setitem(app.config, "METRICS_ALLOW", "10.0.0.0/8")
    assert client.get("/metrics").status_code == 404  # the test client is 127.0.0.1
    monkeypatch.setitem(app.config, "METRICS_ALLOW", "10.0.0.0/8, 127.0.0.1")
    assert client.get("/metrics").status_code == 200


def test_a_reading_moves_the_outbox_depth_up_then_down(app, client, db, billing_sim, scrape):
    from app.jobs import run_job

    sp, meter = align_and_login(client, db)
    before = scrape()
    assert value(before, "sportello_outbox_waiting", operation="submit_reading") == 0
    assert value(before, "sportello_alignment_age_seconds") < 60  # aligned just now
    assert value(before, "sportello_check_up", check="database") == 1

    assert submit_reading(client, sp, meter).status_code == 302
    queued = scrape()
    assert value(queued, "sportello_outbox_waiting", operation="submit_reading") == 1
    assert value(queued, "sportello_outbox_oldest_age_seconds", operation="submit_reading") >= 0
    assert value(queued, "sportello_users_seen") >= 1
    posted = value(queued, "sportello_http_requests_total", endpoint="portal.reading", method="POST", status="302")
    assert posted >= value(before, "sportello_http_requests_total", endpoint="portal.reading", method="POST",
                           status="302") + 1

    db.session.remove()
    assert run_job(app, "outbox") == "ok"
    delivered = scrape()
    assert value(delivered, "sportello_outbox_waiting", operation="submit_reading") == 0
    assert value(delivered, "sportello_billing_calls_total", operation="submit_reading", adapter="nav") == \
        value(queued, "sportello_billing_calls_total", operation="submit_reading", adapter="nav") + 1
    assert value(delivered, "sportello_job_runs_total", job="outbox", outcome="ok") == \
        value(queued, "sportello_job_runs_total", job="outbox", outcome="ok") + 1
    assert value(delivered, "sportello_job_duration_seconds_count", job="outbox", outcome="ok") >= 1


def test_billing_errors_are_counted_by_kind(app, client, db, billing_sim, scrape):
    from app.services.sync.gateway import gateway

    before = scrape()
    billing_sim.stop()
    with pytest.raises(Exception):
        gateway().ping()
    after = scrape()
    billing_sim.start()
    errors_before = sum(v for (n, labels), v in before.items() if n == "sportello_billing_errors_total"
                        and dict(labels)["operation"] == "ping")
    errors_after = sum(v for (n, labels), v in after.items() if n == "sportello_billing_errors_total"
                       and dict(labels)["operation"] == "ping")
    assert errors_after == errors_before + 1
    assert value(after, "sportello_check_up", check="billing") == 0


def test_labels_are_bounded_endpoint_names_never_urls(app, client, db, scrape):
    client.get("/portal/supply/123456789/reading")
    client.get("/no-such-page/987654321")
    names = {dict(labels).get("endpoint") for (n, labels) in scrape() if n == "sportello_http_requests_total"}
    assert "unmatched" in names
    assert not any(name and ("/" in name or "123456789" in name or "987654321" in name) for name in names)


def test_latency_is_labelled_by_endpoint_and_status(app, client, db, scrape):
    """A slow error and a slow page of the same endpoint are told apart."""
    name = "sportello_http_request_duration_seconds_count"
    before = scrape()
    assert client.get("/portal/login").status_code == 200
    assert client.get("/portal/login").status_code == 200
    assert client.get("/no-such-page/1").status_code == 404
    after = scrape()
    assert value(after, name, endpoint="portal.login", status="200") == \
        value(before, name, endpoint="portal.login", status="200") + 2
    assert value(after, name, endpoint="unmatched", status="404") == \
        value(before, name, endpoint="unmatched", status="404") + 1
    assert value(after, "sportello_http_request_duration_seconds_bucket", endpoint="portal.login", status="200",
                 le="+Inf") == value(after, name, endpoint="portal.login", status="200")
    # Every latency series carries both labels.
    assert all({"endpoint", "status"} <= set(dict(labels)) for (n, labels) in after
               if n.startswith("sportello_http_request_duration_seconds"))


def test_mails_are_counted_by_queue_and_outcome(app, client, db, billing_sim, smtp_server, scrape):
    """The account's and the reading's e-mails: deferred by the server once (retry), then sent."""
    import sqlalchemy as sa

    from app.jobs import run_job
    from app.models import OutgoingMail
    from app.models.base import utcnow

    sp, meter = align_and_login(client, db)
    assert submit_reading(client, sp, meter).status_code == 302
    queued = db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail))
    assert queued >= 1  # the reading's confirmation at least
    before = scrape()
    smtp_server.fail_data.extend([(451, "4.3.0 try again later")] * queued)
    db.session.remove()
    assert run_job(app, "mail") == "ok"
    deferred = scrape()
    assert value(deferred, "sportello_emails_total", queue="mail", outcome="retry") == \
        value(before, "sportello_emails_total", queue="mail", outcome="retry") + queued
    assert value(deferred, "sportello_emails_total", queue="mail", outcome="sent") == \
        value(before, "sportello_emails_total", queue="mail", outcome="sent")
    assert not smtp_server.messages

    db.session.execute(sa.update(OutgoingMail).values(next_attempt_at=utcnow()))  # due again now
    db.session.commit()
    db.session.remove()
    assert run_job(app, "mail") == "ok"
    sent = scrape()
    assert len(smtp_server.messages) == queued
    assert value(sent, "sportello_emails_total", queue="mail", outcome="sent") == \
        value(deferred, "sportello_emails_total", queue="mail", outcome="sent") + queued
    assert value(sent, "sportello_emails_total", queue="mail", outcome="failed") == \
        value(before, "sportello_emails_total", queue="mail", outcome="failed")
