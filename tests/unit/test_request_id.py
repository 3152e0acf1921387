"""One request id per web request and job run, stored on the rows it queues."""
import sqlalchemy as sa

from app.models import OutboxMessage, OutgoingMail
from app.services.core import request_id


def test_each_response_carries_a_new_request_id_and_a_proxys_only_when_trusted(app, client):
    first = client.get("/portal/login").headers["X-Request-ID"]
    second = client.get("/portal/login").headers["X-Request-ID"]
    assert first and second and first != second
    assert client.get("/portal/login", headers={"X-Request-ID": "edge-123"}).headers["X-Request-ID"] != "edge-123"
    app.config["TRUST_PROXY_REQUEST_ID"] = True
    try:
        assert client.get("/portal/login", headers={"X-Request-ID": "edge-123"}).headers["X-Request-ID"] == "edge-123"
        crafted = client.get("/portal/login", headers={"X-Request-ID": "<script>" + "x" * 80}).headers["X-Request-ID"]
        assert "<" not in crafted and len(crafted) == 32
    finally:
        app.config["TRUST_PROXY_REQUEST_ID"] = False


def test_queued_rows_carry_the_request_id_of_their_cause(db):
    from app.services.mailing.mail import queue_mail
    from app.services.sync.outbox import enqueue

    token = request_id.bind("req-42")
    try:
        queue_mail("password_changed", "it", ["anna@example.com"], {"name": "Anna"}, key="rid")
        enqueue("update_customer", {"customer_code": "C1", "phone": "06"})
        db.session.commit()
    finally:
        request_id.reset(token)
    assert db.session.scalar(sa.select(OutgoingMail.request_id)) == "req-42"
    assert db.session.scalar(sa.select(OutboxMessage.request_id)) == "req-42"


def test_a_job_run_has_its_own_request_id(app, db):
    from app.jobs.lease import run_with_lease

    seen = []
    assert run_with_lease("rid-job", lambda: seen.append(request_id.current()) or {}, "h:1", 60) == "ok"
    assert seen[0].startswith("job-rid-job-") and request_id.current() is None
