"""F-53: writes refused by billing are visible to staff and can be sent again."""
import sqlalchemy as sa

from app.models import OutboxMessage, OutboxStatus
from app.roles import AGENT, BACK_OFFICE, CALL_CENTER, MANAGER
from app.services.sync.outbox import deliver_due, enqueue
from tests import factories
from tests.conftest import csrf_token
from tests.security.fixtures_auth import staff_logout


def _refused(db):
    customer = factories.customer()
    msg = enqueue("update_customer", {"customer_code": "NO-SUCH", "phone": "06 1"})
    db.session.commit()
    return customer, msg


def test_F53_staff_see_refused_writes_and_retry(billing_sim, client, login_as, db):
    _, msg = _refused(db)
    assert deliver_due()["failed"] == 1
    login_as(BACK_OFFICE)
    page = client.get("/failedoutboxview/list/").get_data(as_text=True)
    assert "Modifica dati cliente" in page and "NO-SUCH" not in page.split("<table")[0]
    token = csrf_token(page)
    resp = client.post("/failedoutboxview/action_post",
                       data={"action": "retry", "rowid": [str(msg.id)], "csrf_token": token})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(OutboxMessage, msg.id).status == OutboxStatus.PENDING


def test_F53_retry_action_ignores_rows_outside_the_view(billing_sim, client, login_as, db):
    from app.models import Customer
    from app.services.sync.alignment import align

    assert align(full=True).status == "ok"
    customer = db.session.scalars(sa.select(Customer)).first()
    delivered = enqueue("update_customer", {"customer_code": customer.code, "phone": "06 2"})
    db.session.commit()
    assert deliver_due()["delivered"] == 1
    login_as(MANAGER)
    token = csrf_token(client.get("/outboxview/list/").get_data(as_text=True))  # any form will do
    resp = client.post("/failedoutboxview/action_post",
                       data={"action": "retry", "rowid": [str(delivered.id)], "csrf_token": token})
    assert resp.status_code == 404
    db.session.expire_all()
    assert db.session.get(OutboxMessage, delivered.id).status == OutboxStatus.DELIVERED


def test_F53_outbox_views_by_role(client, login_as, db):
    for role, expected in ((CALL_CENTER, 403), (AGENT, 403)):
        login_as(role)
        assert client.get("/outboxview/list/").status_code == expected
        staff_logout(client)
