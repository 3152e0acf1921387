"""F-61 / F-43: a reading submitted through the API takes the portal's path — the same checks,
the same activity, the outbox — and reaches the billing simulator once."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import Activity, ActivityKind, ActivityStatus, MeterReading, ReadingSource, ReadingStatus, TokenScope
from tests.portal.conftest import make_account

from .conftest import bearer, forget_cookies, make_token

API = "/api/portal/v1"


def test_F61_reading_submitted_through_the_api_reaches_billing_once(client, db, billing_sim, app):
    from app.models import Customer, Meter, SupplyPoint
    from app.services.portal.readings import previous_reading
    from app.services.sync.alignment import align
    from app.services.sync.outbox import deliver_due

    assert align(full=True).status == "ok"
    meter = db.session.scalar(sa.select(Meter).join(SupplyPoint).where(
        Meter.has_corrector.is_(False), Meter.removed_on.is_(None)).order_by(Meter.id))
    sp = meter.supply_point
    user = make_account(db, None, db.session.get(Customer, sp.customer_id))
    _token, secret = make_token(user, TokenScope.READINGS)
    forget_cookies(client)
    prev = previous_reading(meter)
    value = (prev.value + 5) % 10 ** meter.digits
    url = f"{API}/supply-points/{sp.id}/readings"
    # The portal's checks apply: a date before the previous reading is refused, nothing stored.
    early = client.post(url, headers=bearer(secret), json={"meter_id": meter.id, "value": value,
                                                            "reading_date": prev.reading_date.isoformat()})
    assert early.status_code == 422 and "reading_date" in early.json["errors"]
    import datetime as dt

    resp = client.post(url, headers=bearer(secret), json={"meter_id": meter.id, "value": value,
                                                           "reading_date": dt.date.today().isoformat()})
    assert resp.status_code == 201, resp.json
    assert resp.json["reading"]["value"] == value and resp.json["request_reference"].startswith("RIC-")
    [reading] = db.session.scalars(sa.select(MeterReading).where(MeterReading.source == ReadingSource.CUSTOMER,
                                                                 MeterReading.activity_id.is_not(None))).all()
    activity = db.session.get(Activity, reading.activity_id)
    assert activity.kind == ActivityKind.SELF_READING and activity.customer_id == sp.customer_id
    assert deliver_due()["delivered"] >= 1
    deliver_due()  # a second run sends nothing again
    assert billing_sim.stats()["applied"].get("SubmitReading") == 1
    db.session.refresh(reading)
    assert reading.status == ReadingStatus.SENT and reading.billing_entry_no is not None
    assert db.session.get(Activity, activity.id).status == ActivityStatus.EXECUTED
    # The customer follows it as a request, through the API too.
    followed = client.get(resp.headers["Location"], headers=bearer(secret))
    assert followed.status_code == 200 and followed.json["status"] == "executed"
    listed = client.get(url, headers=bearer(secret)).json["items"]
    assert listed[0]["id"] == reading.id and listed[0]["status"] == "sent"
