"""F-40: every CRM view against every role (200 / 403), agents see only what is theirs, and a
FAB action given a hidden id changes nothing (Flask-AppBuilder would otherwise run it)."""
import datetime as dt

import pytest

from app.models import ActivityKind, ActivityStatus, Contact, ContactKind
from app.roles import ADMIN, AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER
from app.services.crm.activities import assign, create_activity
from app.services.crm.contacts import create_contact
from tests import factories
from tests.conftest import csrf_token

from tests.crm.helpers import any_csrf_token

STAFF = {ADMIN, MANAGER, BACK_OFFICE, CALL_CENTER}
EVERYONE = STAFF | {CREDIT_CHECK, AGENT}
# Written out from SPEC.md's role table: back office works every request; call center reads
# every request and records contacts; managers assign and see statistics; admins edit templates;
# credit check and agents see only what is assigned to them.
ALLOWED = {
    "/activityview/list/": STAFF,
    "/activityview/show/{activity}": STAFF,
    "/myactivityview/list/": EVERYONE,
    "/contactview/list/": STAFF,
    "/contactview/show/{contact}": STAFF,
    "/mycontactview/list/": EVERYONE,
    "/callcenter/?q=rossi&go=0": STAFF,
    "/callcenter/customer/{customer}": STAFF,
    "/timeline/{customer}": STAFF | {CREDIT_CHECK},
    "/statistics/": {ADMIN, MANAGER},
    "/statistics/csv": {ADMIN, MANAGER},
    "/auditlogview/list/": {ADMIN, MANAGER},
    "/messagetemplates/": {ADMIN},
    "/messagetemplates/edit/activity_assigned/it": {ADMIN},
}


@pytest.fixture
def data(db, make_user):
    customer = factories.customer()
    manager, _ = make_user(MANAGER)
    activity = create_activity(ActivityKind.COMPLAINT, customer_id=customer.id, subject="Reclamo")
    contact = create_contact(ContactKind.PHONE_CALL, manager, customer_id=customer.id, subject="Chiamata")
    return {"customer": customer.id, "activity": activity.id, "contact": contact.id, "manager": manager}


@pytest.mark.parametrize("role", [ADMIN, MANAGER, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, AGENT])
def test_F40_crm_role_view_matrix(role, client, login_as, data):
    login_as(role)
    for url, roles in ALLOWED.items():
        resp = client.get(url.format(**data))
        expected = 200 if role in roles else 403
        assert resp.status_code == expected, (role, url, resp.status_code)


@pytest.mark.parametrize("role", [AGENT, CREDIT_CHECK, BACK_OFFICE])
def test_F40_assignees_see_only_their_own(role, client, login_as, data, make_user, db):
    me = login_as(role)
    other, _ = make_user(role)
    mine = create_activity(ActivityKind.GENERAL, subject="Mia pratica")
    theirs = create_activity(ActivityKind.GENERAL, subject="Pratica altrui")
    assign(mine, data["manager"], me, dt.datetime(2030, 1, 1, 9))
    assign(theirs, data["manager"], other, dt.datetime(2030, 1, 1, 9))
    my_contact = create_contact(ContactKind.VISIT, me, customer_id=data["customer"], subject="Visita mia")
    page = client.get("/myactivityview/list/").get_data(as_text=True)
    assert "Mia pratica" in page and "Pratica altrui" not in page
    assert client.get(f"/myactivityview/show/{mine.id}").status_code == 200
    assert client.get(f"/myactivityview/show/{theirs.id}").status_code == 404
    contacts = client.get("/mycontactview/list/").get_data(as_text=True)
    assert "Visita mia" in contacts and "Chiamata" not in contacts
    assert client.get(f"/mycontactview/show/{data['contact']}").status_code == 404
    assert client.get(f"/mycontactview/show/{my_contact.id}").status_code == 200


def test_F40_action_on_hidden_id_changes_nothing(client, login_as, data, make_user, db):
    """An agent posts FAB's bulk actions with ids of rows their views hide: 404, no change."""
    agent = login_as(AGENT)
    colleague, _ = make_user(AGENT)
    theirs = create_activity(ActivityKind.GENERAL, subject="Pratica altrui")
    assign(theirs, data["manager"], colleague, dt.datetime(2030, 1, 1, 9))
    appointment = create_contact(ContactKind.APPOINTMENT, colleague, customer_id=data["customer"],
                                 subject="Appuntamento altrui", starts_at=dt.datetime(2030, 1, 2, 9))
    own = create_activity(ActivityKind.GENERAL, subject="Mia pratica")
    assign(own, data["manager"], agent, dt.datetime(2030, 1, 1, 9))
    token = csrf_token(client.get("/myactivityview/list/").get_data(as_text=True))
    resp = client.post("/myactivityview/action_post",
                       data={"action": "take_in_charge", "rowid": [str(theirs.id)], "csrf_token": token})
    assert resp.status_code == 404
    resp = client.post(f"/mycontactview/action/cancel_appointment/{appointment.id}", data={"csrf_token": token})
    assert resp.status_code == 404
    resp = client.post("/mycontactview/action_post",
                       data={"action": "cancel_appointment", "rowid": [str(appointment.id)], "csrf_token": token})
    assert resp.status_code == 404
    assert client.get(f"/mycontactview/action/cancel_appointment/{appointment.id}").status_code == 405
    db.session.expire_all()
    assert db.session.get(type(theirs), theirs.id).status == ActivityStatus.ASSIGNED
    assert db.session.get(Contact, appointment.id).cancelled is False
    # The same action on one's own row works.
    mine = create_contact(ContactKind.APPOINTMENT, agent, customer_id=data["customer"],
                          subject="Mio appuntamento", starts_at=dt.datetime(2030, 1, 3, 9))
    resp = client.post("/mycontactview/action_post",
                       data={"action": "cancel_appointment", "rowid": [str(mine.id)], "csrf_token": token})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, mine.id).cancelled is True


def test_F40_call_center_reads_but_does_not_work_others_requests(client, login_as, data, db):
    login_as(CALL_CENTER)
    page = client.get(f"/activityview/show/{data['activity']}").get_data(as_text=True)
    assert "Reclamo" in page and 'value="assign"' not in page
    resp = client.post(f"/activityview/work/{data['activity']}",
                       data={"action": "reject", "note": "x", "csrf_token": any_csrf_token(
                           client.get(f"/callcenter/customer/{data['customer']}").get_data(as_text=True))})
    assert resp.status_code == 403
