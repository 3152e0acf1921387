"""F-52 / F-53 on SAP IS-U: the outbox through the SAP adapter. SAP refuses inside HTTP 200
answers (RETURN type E/A) and accepts with warnings (type W)."""
import datetime as dt

import pytest
import sqlalchemy as sa

from app.models import Customer, Meter, OutboxMessage, OutboxStatus, SupplyPoint
from app.roles import BACK_OFFICE
from app.services.sync.alignment import align
from app.services.sync.outbox import deliver_due, enqueue

pytestmark = pytest.mark.one_pass


def test_F53_sap_error_in_a_200_answer_is_a_refusal_with_its_message(billing_sim_sap, db):
    assert align(full=True).status == "ok"
    customer = db.session.scalars(sa.select(Customer).order_by(Customer.id)).first()
    assert customer.code == "0000000001"  # SAP's internal format
    msg = enqueue("update_customer", {"customer_code": customer.code, "phone": "063336666"})
    db.session.commit()
    billing_sim_sap.control("message", type="E", id="R1", number="210", count=1,
                            text="Tax number is not valid for partner")
    assert deliver_due() == {"delivered": 0, "retry": 0, "failed": 1}
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.FAILED
    assert "Tax number is not valid for partner (R1 210)" in msg.last_error
    assert msg.idempotency_key not in billing_sim_sap.stats()["applied_keys"]


def test_F53_sap_warning_is_kept_on_the_delivered_write_for_staff(billing_sim_sap, db, client,
                                                                  login_as):
    assert align(full=True).status == "ok"
    sp = db.session.scalars(sa.select(SupplyPoint).join(Meter).where(Meter.removed_on.is_(None))
                            .order_by(SupplyPoint.id)).first()
    meter = next(m for m in sp.meters if m.removed_on is None)
    msg = enqueue("submit_reading", {"supply_point_code": sp.code, "meter_serial": meter.serial,
                                     "reading_date": dt.date(2026, 11, 27).isoformat(), "value": 1,
                                     "corrector_value": 1 if meter.has_corrector else None,
                                     "flagged": True})
    db.session.commit()
    assert deliver_due()["delivered"] == 1
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.DELIVERED and msg.result["entry_no"] > 0
    [warning] = msg.result["billing_warnings"]
    assert warning.startswith("EL 073: Meter reading") and "implausible" in warning
    login_as(BACK_OFFICE)
    page = client.get(f"/outboxview/show/{msg.id}").get_data(as_text=True)
    assert "implausible; locked for review" in page and "billing_warnings" not in page


def test_F52_sap_refusal_reaches_staff_translated_and_the_customer_sees_not_accepted(
        billing_sim_sap, db, app, client, login_as):
    """An SAP E message (class and number) in a 200 answer: staff read what it means, in their
    language, beside SAP's own words; the customer's request says billing did not accept it."""
    from app.models import ActivityKind, ActivityStatus
    from app.services.crm.activities import create_activity
    from tests.portal.conftest import make_account, portal_login

    assert align(full=True).status == "ok"
    customer = db.session.scalars(sa.select(Customer).order_by(Customer.id)).first()
    activity = create_activity(ActivityKind.PERSONAL_DATA, customer_id=customer.id)
    msg = enqueue("update_customer", {"customer_code": customer.code, "phone": "063336666"},
                  activity=activity)
    db.session.commit()
    billing_sim_sap.control("message", type="E", id="FKK_SEPA", number="025", count=1,
                            text="The IBAN is not valid")
    assert deliver_due()["failed"] == 1
    db.session.refresh(activity)
    assert activity.status == ActivityStatus.WAITING_BILLING

    login_as(BACK_OFFICE)
    page = client.get("/failedoutboxview/list/?_l_=it").get_data(as_text=True)
    assert "La fatturazione ha trovato l'IBAN non valido." in page
    assert "The IBAN is not valid (FKK_SEPA 025)" in page  # SAP's own words, kept
    page = client.get(f"/outboxview/show/{msg.id}?_l_=en").get_data(as_text=True)
    assert "Billing found the IBAN not valid." in page

    customer_client = app.test_client()
    user = make_account(db, app, customer)
    assert portal_login(customer_client, user.username).status_code == 302
    mine = customer_client.get("/portal/requests").get_data(as_text=True)
    assert "Non accettata dalla fatturazione" in mine
    detail = customer_client.get(f"/portal/requests/{activity.id}").get_data(as_text=True)
    assert "FKK_SEPA" not in detail and "IBAN" not in detail  # billing's words are for staff
