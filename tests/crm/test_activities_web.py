"""F-20 / F-22 / F-27 through the back office: the detail page's steps call the transition
table, bad input is refused next to the field, every change lands in history and audit."""
import datetime as dt

import sqlalchemy as sa

from app.models import ActivityKind, ActivityStatus, AuditLog, OutgoingMail
from app.roles import BACK_OFFICE, MANAGER
from app.services.crm.activities import create_activity
from tests import factories
from tests.conftest import csrf_token

# Deadlines in early next year: always ahead, always in winter time (UTC+1 in Rome).
NEXT_YEAR = dt.date.today().year + 1


def _page(client, url):
    resp = client.get(url)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_F22_manager_assigns_from_the_detail_page(client, login_as, make_user, db):
    operator, _ = make_user(BACK_OFFICE)
    customer = factories.customer()
    a = create_activity(ActivityKind.INVOICE_CORRECTION, customer_id=customer.id, subject="Rettifica")
    login_as(MANAGER)
    html = _page(client, f"/activityview/show/{a.id}")
    assert 'value="assign"' in html and 'name="status"' not in html  # status is no edit field
    resp = client.post(f"/activityview/work/{a.id}", data={
        "csrf_token": csrf_token(html), "action": "assign", "assignee": operator.id,
        "deadline": f"{NEXT_YEAR}-03-04T16:30", "note": "entro marzo"})
    assert resp.status_code == 302
    db.session.expire_all()
    a = db.session.get(type(a), a.id)
    assert a.status == ActivityStatus.ASSIGNED and a.assignee_id == operator.id
    assert a.deadline == dt.datetime(NEXT_YEAR, 3, 4, 15, 30)  # 16:30 in Rome (winter) is 15:30 UTC
    assert a.history[-1].note == "entro marzo"
    mail = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "activity_assigned"))
    assert mail.recipients == [operator.email] and "METHOD:REQUEST" in mail.ics
    audit = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == str(a.id))).all()
    assert {r.action for r in audit} >= {"assign", "assignment"}
    audit_page = _page(client, "/auditlogview/list/")
    assert "Assegnazione" in audit_page and operator.username in audit_page


def test_F22_bad_input_is_refused_next_to_the_field(client, login_as, make_user, db):
    operator, _ = make_user(BACK_OFFICE)
    a = create_activity(ActivityKind.COMPLAINT, subject="Reclamo")
    login_as(MANAGER)
    token = csrf_token(_page(client, f"/activityview/show/{a.id}"))
    resp = client.post(f"/activityview/work/{a.id}", data={
        "csrf_token": token, "action": "assign", "assignee": operator.id, "deadline": "2020-01-01T10:00"})
    assert resp.status_code == 400
    assert "La scadenza deve essere nel futuro." in resp.get_data(as_text=True)
    resp = client.post(f"/activityview/work/{a.id}", data={"csrf_token": token, "action": "cancel", "note": ""})
    assert resp.status_code == 400 and "Scrivi il motivo" in resp.get_data(as_text=True)
    resp = client.post(f"/activityview/work/{a.id}", data={"action": "cancel", "note": "senza token"})
    assert resp.status_code == 400
    db.session.expire_all()
    assert db.session.get(type(a), a.id).status == ActivityStatus.NEW
    assert client.get(f"/activityview/work/{a.id}?action=cancel").status_code == 405


def test_F20_assignee_starts_and_closes_with_a_note(client, login_as, make_user, db):
    manager, _ = make_user(MANAGER)
    operator = login_as(BACK_OFFICE)
    from app.services.crm.activities import assign

    a = create_activity(ActivityKind.DIRECT_DEBIT, subject="Domiciliazione")
    assign(a, manager, operator, dt.datetime(NEXT_YEAR, 1, 1, 9))
    html = _page(client, "/myactivityview/list/")
    assert "Domiciliazione" in html
    resp = client.post("/myactivityview/action_post", data={
        "action": "take_in_charge", "rowid": [str(a.id)], "csrf_token": csrf_token(html)})
    assert resp.status_code == 302
    html = _page(client, f"/myactivityview/show/{a.id}")
    assert 'value="close"' in html and 'value="assign"' not in html
    resp = client.post(f"/myactivityview/work/{a.id}", data={
        "csrf_token": csrf_token(html), "action": "close", "note": "mandato attivato"})
    assert resp.status_code == 302
    db.session.expire_all()
    a = db.session.get(type(a), a.id)
    assert a.status == ActivityStatus.CLOSED
    assert [(h.action, h.actor_id) for h in a.history][-2:] == [("start", operator.id), ("close", operator.id)]
    assert "mandato attivato" in _page(client, f"/myactivityview/show/{a.id}")


def test_F20_list_filters_by_status_kind_and_operator(client, login_as, make_user, db):
    manager, _ = make_user(MANAGER)
    operator, _ = make_user(BACK_OFFICE)
    from app.services.crm.activities import assign

    a = create_activity(ActivityKind.COMPLAINT, subject="Primo reclamo")
    create_activity(ActivityKind.INFORMATION_REQUEST, subject="Domanda informazioni")
    assign(a, manager, operator, dt.datetime(NEXT_YEAR, 1, 1, 9))
    login_as(MANAGER)
    page = _page(client, "/activityview/list/?_flt_0_status=ASSIGNED")
    assert "Primo reclamo" in page and "Domanda informazioni" not in page
    page = _page(client, "/activityview/list/?_flt_0_kind=INFORMATION_REQUEST")
    assert "Primo reclamo" not in page and "Domanda informazioni" in page
    page = _page(client, f"/activityview/list/?_flt_0_assignee={operator.id}")
    assert "Primo reclamo" in page and "Domanda informazioni" not in page


def test_F27_audit_shows_who_changed_what_masked(client, login_as, make_user, db):
    from app.services.core.audit import record

    clerk, _ = make_user(BACK_OFFICE)
    record("customer", 42, "update", {"phone": ["0611111111", "0622222222"]}, clerk)
    record("supply_point", 7, "direct_debit", {"iban": ["", "IT60X0542811101000000123456"]}, clerk)
    record("contract", 9, "validate", {"status": ["processing", "validated"]}, clerk)
    db.session.commit()
    login_as(MANAGER)
    page = _page(client, "/auditlogview/list/")
    assert "0622222222" in page and "Validato" in page and clerk.username in page
    assert "validated" not in page  # the state by its label
    assert "IT60X0542811101000000123456" not in page and "3456" in page  # bank data stays masked
    page = _page(client, "/auditlogview/list/?_flt_0_entity_type=contract")
    assert "Validato" in page and "0622222222" not in page
