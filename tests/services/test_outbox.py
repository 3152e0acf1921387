"""F-33 / F-52 / F-21: writes reach billing through the outbox, once, even across outages; the
tests that hold for every billing system run once on each flavour (`each_billing_sim`)."""
import sqlalchemy as sa

from app.models import ActivityKind, ActivityStatus, OutboxMessage, OutboxStatus
from app.services.crm.activities import create_activity
from app.services.sync.alignment import align
from app.services.sync.outbox import deliver_due, enqueue
from tests import factories


def _reading_payload(db, value_offset=1):
    from app.models import Meter, MeterReading, SupplyPoint

    sp = db.session.scalars(sa.select(SupplyPoint).join(Meter).order_by(SupplyPoint.id)).first()
    meter = sp.meters[0]
    last = db.session.scalars(sa.select(MeterReading).where(MeterReading.supply_point_id == sp.id)
                              .order_by(MeterReading.reading_date.desc())).first()
    return sp, {"supply_point_code": sp.code, "meter_serial": meter.serial,
                "reading_date": "2026-11-20", "value": (last.value if last else 0) + value_offset,
                "corrector_value": (last.corrector_value or 0) + value_offset if meter.has_corrector else None}


def test_F33_outbox_delivers_once_and_executes_automatic_activity(each_billing_sim, db):
    assert align(full=True).status == "ok"
    sp, payload = _reading_payload(db)
    activity = create_activity(ActivityKind.SELF_READING, customer_id=sp.customer_id,
                               supply_point_id=sp.id)
    msg = enqueue("submit_reading", payload, activity=activity)
    db.session.commit()
    assert deliver_due() == {"delivered": 1, "retry": 0, "failed": 0}
    assert deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}
    db.session.refresh(msg)
    db.session.refresh(activity)
    assert msg.status == OutboxStatus.DELIVERED and msg.result["entry_no"]
    assert activity.status == ActivityStatus.EXECUTED
    assert [h.action for h in activity.history] == ["create", "execute"]
    assert each_billing_sim.stats()["applied"].get("SubmitReading") == 1


def test_F52_billing_outage_delays_but_never_loses_or_duplicates(each_billing_sim, db):
    assert align(full=True).status == "ok"
    sp, payload = _reading_payload(db)
    activity = create_activity(ActivityKind.SELF_READING, customer_id=sp.customer_id, supply_point_id=sp.id)
    msg = enqueue("submit_reading", payload, activity=activity)
    db.session.commit()
    each_billing_sim.stop()
    assert deliver_due() == {"delivered": 0, "retry": 1, "failed": 0}
    db.session.refresh(activity)
    db.session.refresh(msg)
    assert activity.status == ActivityStatus.WAITING_BILLING
    assert msg.status == OutboxStatus.PENDING and msg.next_attempt_at > msg.created_at
    assert "connection" in msg.last_error
    each_billing_sim.start()
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=msg.created_at))
    db.session.commit()
    assert deliver_due()["delivered"] == 1
    db.session.refresh(activity)
    assert activity.status == ActivityStatus.EXECUTED
    assert each_billing_sim.stats()["applied"].get("SubmitReading") == 1


def test_F33_lost_answer_retried_with_same_key_is_applied_once(each_billing_sim, db):
    """Billing applied the write but the answer never came (timeout): the retry is harmless."""
    assert align(full=True).status == "ok"
    sp, payload = _reading_payload(db)
    enqueue("submit_reading", payload, key="reading-lost-answer")
    db.session.commit()
    from app.billing.gateway import ReadingSubmission
    from app.services.sync.gateway import gateway
    import datetime as dt

    # The first attempt reached billing (same key) before the answer was lost.
    gateway().submit_reading("reading-lost-answer", ReadingSubmission(
        payload["supply_point_code"], payload["meter_serial"], dt.date(2026, 11, 20), payload["value"],
        payload["corrector_value"]))
    assert deliver_due()["delivered"] == 1
    assert each_billing_sim.stats()["applied"].get("SubmitReading") == 1


def test_F33_billing_refusal_needs_a_person(each_billing_sim, db):
    customer = factories.customer()
    activity = create_activity(ActivityKind.PERSONAL_DATA, customer_id=customer.id)
    msg = enqueue("update_customer", {"customer_code": "NO-SUCH-CUSTOMER", "phone": "0612345"},
                  activity=activity)
    db.session.commit()
    assert deliver_due() == {"delivered": 0, "retry": 0, "failed": 1}
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.FAILED and msg.last_error
    assert deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}


def test_F33_claims_are_exclusive(app, db, billing_sim):
    """Two workers never deliver the same row (conditional UPDATE / SKIP LOCKED)."""
    from app.services.sync.outbox import OUTBOX_QUEUE

    customer = factories.customer()
    for i in range(6):
        enqueue("update_customer", {"customer_code": customer.code, "phone": f"06{i}"})
    db.session.commit()
    first = OUTBOX_QUEUE.claim("worker-a", 4)
    second = OUTBOX_QUEUE.claim("worker-b", 10)
    assert len(first) == 4 and len(second) == 2 and not set(first) & set(second)
