"""F-33 under faults (queue core): errors of our own, long outages, bursts larger than a claim;
the outage, lock and 48-hour tests run once on each billing flavour (`each_billing_sim`)."""
import sqlalchemy as sa

from app.models import OutboxMessage, OutboxStatus
from app.services.sync import outbox
from app.services.sync.outbox import deliver_due, enqueue
from app.models import Customer
from app.services.sync.alignment import align


def _billing_customer(db):
    assert align(full=True).status == "ok"
    return db.session.scalars(sa.select(Customer).order_by(Customer.id)).first()


def test_a_delivery_raising_an_error_of_our_own_fails_that_row_and_frees_it(billing_sim, db):
    customer = _billing_customer(db)

    def broken(gw, key, payload):
        raise KeyError("payload without the field the handler needs")

    outbox.HANDLERS["broken_for_test"] = broken
    try:
        bad = enqueue("broken_for_test", {})
        good = enqueue("update_customer", {"customer_code": customer.code, "phone": "061111111"})
        db.session.commit()
        counts = deliver_due()
    finally:
        del outbox.HANDLERS["broken_for_test"]
    assert counts["failed"] == 1 and counts["delivered"] == 1
    db.session.refresh(bad)
    db.session.refresh(good)
    assert bad.status == OutboxStatus.FAILED and bad.claimed_by is None and "KeyError" in bad.last_error
    assert good.status == OutboxStatus.DELIVERED


def test_temporary_failures_are_never_given_up_by_count(each_billing_sim, db):
    customer = _billing_customer(db)
    msg = enqueue("update_customer", {"customer_code": customer.code, "phone": "062222222"})
    db.session.commit()
    db.session.execute(sa.update(OutboxMessage).values(attempts=400))
    db.session.commit()
    each_billing_sim.stop()
    counts = deliver_due()
    assert counts["retry"] == 1 and counts["failed"] == 0
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.PENDING and msg.attempts == 401
    # The backoff is capped: the next attempt is within the hour.
    assert (msg.next_attempt_at - msg.created_at).total_seconds() <= 3600 + 60


def test_one_run_drains_more_than_one_claim(billing_sim, db):
    customer = _billing_customer(db)
    for i in range(25):
        enqueue("update_customer", {"customer_code": customer.code, "phone": f"06{i:07d}"})
    db.session.commit()
    assert deliver_due(limit=10)["delivered"] == 25
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.status != OutboxStatus.DELIVERED)) == 0


def test_rows_waiting_out_a_backoff_go_as_soon_as_billing_is_back(each_billing_sim, db):
    customer = _billing_customer(db)
    for i in range(3):
        enqueue("update_customer", {"customer_code": customer.code, "phone": f"07{i:07d}"})
    db.session.commit()
    each_billing_sim.stop()
    assert deliver_due()["retry"] == 3
    each_billing_sim.start()
    # Every row is in its backoff; the next run tries one, and billing's answer frees the rest.
    assert deliver_due()["delivered"] == 3


def test_writes_waiting_longer_than_the_alert_age_are_reported_not_failed(each_billing_sim, db):
    import datetime as dt

    from app.models.base import utcnow
    from app.services.core import settings

    customer = _billing_customer(db)
    msg = enqueue("update_customer", {"customer_code": customer.code, "phone": "063333333"})
    db.session.commit()
    db.session.execute(sa.update(OutboxMessage).values(created_at=utcnow() - dt.timedelta(hours=30)))
    db.session.commit()
    each_billing_sim.stop()
    counts = deliver_due()
    assert counts["overdue"] == 1 and counts["failed"] == 0
    settings.update({"queue_alert_hours": 48})
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=msg.created_at))
    db.session.commit()
    assert "overdue" not in deliver_due()
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.PENDING


def test_F52_record_locked_in_billing_is_retried_and_delivered(each_billing_sim, db):
    customer = _billing_customer(db)
    msg = enqueue("update_customer", {"customer_code": customer.code, "phone": "063334444"})
    db.session.commit()
    # NAV: "The Customer table is locked by another user."; SAP: MC 601 in a 200 answer
    each_billing_sim.control("lock", count=1)
    assert deliver_due() == {"delivered": 0, "retry": 1, "failed": 0}
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.PENDING
    assert {"nav": "locked by another user",
            "sap": "currently locked by user"}[each_billing_sim.flavour] in msg.last_error
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=msg.created_at))
    db.session.commit()
    assert deliver_due()["delivered"] == 1
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.DELIVERED
    assert each_billing_sim.stats()["applied_keys"].count(msg.idempotency_key) == 1


def test_F52_write_pending_48_hours_is_still_retried_and_shown_as_an_alert(each_billing_sim, db, client,
                                                                           login_as):
    import datetime as dt

    from app.models.base import utcnow
    from app.roles import BACK_OFFICE

    customer = _billing_customer(db)
    msg = enqueue("update_customer", {"customer_code": customer.code, "phone": "063335555"})
    db.session.commit()
    each_billing_sim.control("lock")  # locked for the whole weekend
    # the clock moved on: queued 48 hours ago, tried many times since
    db.session.execute(sa.update(OutboxMessage).values(created_at=utcnow() - dt.timedelta(hours=48),
                                                       attempts=60))
    db.session.commit()
    assert deliver_due()["retry"] == 1
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.PENDING and msg.attempts == 61
    login_as(BACK_OFFICE)
    home = client.get("/").get_data(as_text=True)
    assert "1 scrittura in attesa della fatturazione da troppo tempo" in home
    listed = client.get("/waitingoutboxview/list/").get_data(as_text=True)
    assert f'/waitingoutboxview/show/{msg.id}' in listed
    each_billing_sim.clear()
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert deliver_due()["delivered"] == 1
    assert "1 scrittura in attesa della fatturazione" not in client.get("/").get_data(as_text=True)
