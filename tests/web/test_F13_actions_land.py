"""F-13 / F-20 / F-53: every single-record step lands on a 200 page showing the record in its new
state with the message; a record's page offers only what its state and the role allow, once;
bulk messages are grammatical and translated."""
import datetime as dt
import re

import pytest

from app.models import ActivityKind, ActivityStatus, ContractStatus as S, OutboxMessage, OutboxStatus
from app.models.base import utcnow
from app.roles import AGENT, BACK_OFFICE, CREDIT_CHECK, MANAGER
from app.services.crm.activities import create_activity
from app.services.sync.outbox import enqueue
from tests import factories
from tests.conftest import csrf_token
from tests.sales.helpers import agent_for, contract_in


def _flashes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", m)).replace("&times;", "").strip()
            for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)]


def _it(text) -> str:
    """A label as an Italian page shows it."""
    from flask_babel import force_locale

    with force_locale("it"):
        return str(text)


def _land(client, resp):
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    landed = client.get(resp.headers["Location"])
    assert landed.status_code == 200, resp.headers["Location"]
    return resp.headers["Location"], landed.get_data(as_text=True)


# (role, queue view the step is taken from, state before, action, reason, state after, landing view)
CONTRACT_STEPS = [
    (BACK_OFFICE, "validationqueueview", S.PROCESSING, "validate", "", S.VALIDATED, "contractview"),
    (BACK_OFFICE, "validationqueueview", S.PROCESSING, "reject", "Documento illeggibile", S.REJECTED,
     "contractview"),
    (CREDIT_CHECK, "creditcheckqueueview", S.VALIDATED, "approve", "", S.APPROVED, "contractview"),
    (CREDIT_CHECK, "creditcheckqueueview", S.VALIDATED, "reject", "Insolvente", S.REJECTED, "contractview"),
    (BACK_OFFICE, "activationqueueview", S.APPROVED, "activate", "", S.ACTIVATED, "contractview"),
    (BACK_OFFICE, "contractview", S.IN_BILLING, "cancel", "Ripensamento", S.CANCELLED, "contractview"),
    (MANAGER, "contractview", S.ACTIVATED, "cancel", "Errore di inserimento", S.CANCELLED, "contractview"),
    (AGENT, "mycontractview", S.DRAFT, "discard", "", S.CANCELLED, "mycontractview"),
    (AGENT, "mycontractview", S.PROCESSING, "cancel", "Il cliente ci ripensa", S.CANCELLED, "mycontractview"),
]


@pytest.mark.parametrize("role,view,before,action,reason,after,lands", CONTRACT_STEPS)
def test_F13_every_contract_step_lands_on_the_contract_with_its_message(
        role, view, before, action, reason, after, lands, client, login_as, db):
    user = login_as(role)
    contract = contract_in(before, agent=agent_for(user) if role == AGENT else None)
    page = client.get(f"/{view}/show/{contract.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count(f'name="action" value="{action}"') == 1, (role, action)
    resp = client.post(f"/{view}/work/{contract.id}", data={"action": action, "reason": reason,
                                                             "csrf_token": csrf_token(html)})
    url, landed = _land(client, resp)
    assert url.endswith(f"/{lands}/show/{contract.id}")
    assert any(f.startswith("Fatto: ") for f in _flashes(landed)), _flashes(landed)
    assert _it(after.label) in landed  # the contract's new state, in Italian
    db.session.refresh(contract)
    assert contract.status == after


@pytest.mark.parametrize("state,role,offered", [
    (S.PROCESSING, BACK_OFFICE, {"validate", "reject", "cancel"}),
    (S.VALIDATED, BACK_OFFICE, {"cancel"}),
    (S.APPROVED, BACK_OFFICE, {"activate", "cancel"}),
    (S.IN_BILLING, BACK_OFFICE, {"cancel"}),
    (S.INVOICEABLE, CREDIT_CHECK, set()),
    (S.VALIDATED, CREDIT_CHECK, {"approve", "reject"}),
])
def test_F13_contract_page_offers_what_state_and_role_allow_once(state, role, offered, client, login_as, db):
    login_as(role)
    contract = contract_in(state)
    html = client.get(f"/contractview/show/{contract.id}").get_data(as_text=True)
    buttons = re.findall(r'name="action" value="([a-z_]+)"', html)
    assert sorted(buttons) == sorted(offered)  # each once
    # No second way to the same step (FAB's own action buttons on the record's page).
    assert "/contractview/action/" not in html
    for label in ("Convalida", "Attiva"):
        expected = {"Convalida": "validate", "Attiva": "activate"}[label] in offered
        assert html.count(f">{label}</button>") == int(expected), label


@pytest.mark.parametrize("n,expected", [(1, "1 contratto convalidato."), (3, "3 contratti convalidati.")])
def test_F13_bulk_validate_message_is_grammatical(n, expected, client, login_as, db):
    login_as(BACK_OFFICE)
    rows = [contract_in(S.PROCESSING) for _ in range(n)]
    page = client.get("/validationqueueview/list/").get_data(as_text=True)
    resp = client.post("/validationqueueview/action_post", data={
        "action": "validate", "rowid": [str(c.id) for c in rows], "csrf_token": csrf_token(page)})
    url, landed = _land(client, resp)
    assert url.endswith("/validationqueueview/list/")
    assert expected in _flashes(landed)


def test_F13_bulk_activate_counts_what_moved_and_what_did_not(client, login_as, db):
    login_as(BACK_OFFICE)
    ready, late = contract_in(S.APPROVED), contract_in(S.IN_BILLING)
    page = client.get("/contractview/list/").get_data(as_text=True)
    resp = client.post("/contractview/action_post", data={
        "action": "activate", "rowid": [str(ready.id), str(late.id)], "csrf_token": csrf_token(page)})
    _, landed = _land(client, resp)
    flashes = _flashes(landed)
    assert "1 contratto attivato." in flashes
    assert "1 contratto non è stato modificato (il suo stato o il tuo ruolo non lo consentono)." in flashes


def test_F13_bulk_message_in_english(client, login_as, db):
    login_as(BACK_OFFICE)
    rows = [contract_in(S.APPROVED) for _ in range(2)]
    client.get("/lang/en")
    page = client.get("/activationqueueview/list/").get_data(as_text=True)
    resp = client.post("/activationqueueview/action_post", data={
        "action": "activate", "rowid": [str(c.id) for c in rows], "csrf_token": csrf_token(page)})
    _, landed = _land(client, resp)
    assert "2 contracts activated." in _flashes(landed)


def _work(client, view, activity_id, **data):
    html = client.get(f"/{view}/show/{activity_id}").get_data(as_text=True)
    return client.post(f"/{view}/work/{activity_id}", data={"csrf_token": csrf_token(html), **data})


def test_F20_assigning_from_the_new_requests_queue_lands_on_the_request(client, login_as, make_user, db):
    login_as(MANAGER)
    operator, _ = make_user(BACK_OFFICE)
    activity = create_activity(ActivityKind.COMPLAINT, customer_id=factories.customer().id, subject="Bolletta alta")
    db.session.commit()
    deadline = (dt.datetime.now() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    resp = _work(client, "newactivityview", activity.id, action="assign", assignee=str(operator.id),
                 deadline=deadline, note="")
    url, landed = _land(client, resp)
    assert url.endswith(f"/activityview/show/{activity.id}")
    assert "Salvato: Assegnata." in _flashes(landed)
    assert _it(ActivityStatus.ASSIGNED.label) in landed


@pytest.mark.parametrize("action,note,after", [("close", "Risolto al telefono", ActivityStatus.CLOSED),
                                               ("start", "", ActivityStatus.IN_PROGRESS)])
def test_F20_own_overdue_request_handled_lands_on_my_request(action, note, after, client, login_as, db):
    me = login_as(CREDIT_CHECK)
    activity = create_activity(ActivityKind.INVOICE_CORRECTION, customer_id=factories.customer().id,
                               subject="Rettifica")
    activity.status, activity.assignee_id = ActivityStatus.ASSIGNED, me.id
    activity.deadline = utcnow() - dt.timedelta(days=1)
    db.session.commit()
    resp = _work(client, "myoverdueactivityview", activity.id, action=action, note=note)
    url, landed = _land(client, resp)
    # Closed, it leaves the overdue queue: its page among the user's requests; started, it stays.
    expected = "myactivityview" if after == ActivityStatus.CLOSED else "myoverdueactivityview"
    assert url.endswith(f"/{expected}/show/{activity.id}")
    assert any(f.startswith("Salvato: ") for f in _flashes(landed))
    assert _it(after.label) in landed


def test_F20_back_office_rejects_from_the_overdue_queue(client, login_as, db):
    login_as(BACK_OFFICE)
    activity = create_activity(ActivityKind.COMPLAINT, customer_id=factories.customer().id, subject="Vecchia")
    activity.deadline = utcnow() - dt.timedelta(hours=2)
    db.session.commit()
    resp = _work(client, "overdueactivityview", activity.id, action="reject", note="Non di nostra competenza")
    url, landed = _land(client, resp)
    assert url.endswith(f"/activityview/show/{activity.id}")
    assert _it(ActivityStatus.REJECTED.label) in landed


def test_F20_take_in_charge_message_is_grammatical(client, login_as, db):
    me = login_as(BACK_OFFICE)
    activity = create_activity(ActivityKind.COMPLAINT, customer_id=factories.customer().id, subject="Mia")
    activity.status, activity.assignee_id = ActivityStatus.ASSIGNED, me.id
    activity.deadline = utcnow() + dt.timedelta(days=1)
    db.session.commit()
    page = client.get("/myactivityview/list/").get_data(as_text=True)
    resp = client.post("/myactivityview/action_post", data={
        "action": "take_in_charge", "rowid": [str(activity.id)], "csrf_token": csrf_token(page)})
    _, landed = _land(client, resp)
    assert "1 richiesta presa in carico." in _flashes(landed)


def _failed_write(db):
    msg = enqueue("update_customer", {"customer_code": "NO-SUCH", "phone": "06 1"})
    msg.status = OutboxStatus.FAILED
    db.session.commit()
    return msg


def test_F53_retry_from_the_refused_write_lands_on_the_write(client, login_as, db):
    login_as(BACK_OFFICE)
    msg = _failed_write(db)
    page = client.get(f"/failedoutboxview/show/{msg.id}").get_data(as_text=True)
    assert f"/failedoutboxview/action/retry/{msg.id}" in page
    resp = client.post(f"/failedoutboxview/action/retry/{msg.id}", data={"csrf_token": csrf_token(page)})
    url, landed = _land(client, resp)
    assert url.endswith(f"/outboxview/show/{msg.id}")
    assert "1 scrittura rimessa in coda per il sistema di fatturazione." in _flashes(landed)
    assert _it(OutboxStatus.PENDING.label) in landed
    # Queued again, the write's page no longer offers to send it again.
    assert f"/outboxview/action/retry/{msg.id}" not in landed
    db.session.expire_all()
    assert db.session.get(OutboxMessage, msg.id).status == OutboxStatus.PENDING
