"""F-13 / F-16 back office: contract list and detail, bulk actions, rules and agents by managers."""
import pytest
import sqlalchemy as sa

from app.models import Agent, CommissionRule, ContractDocument, ContractStatus as S
from app.roles import ADMIN, AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER
from tests.conftest import csrf_token
from tests.sales.helpers import agent_for, contract_in, entered_contract

VIEWS = ("contractview", "mycontractview", "commissionview", "commissionruleview", "agentview",
         "validationqueueview", "creditcheckqueueview", "activationqueueview")
ALLOWED = {  # from SPEC.md's roles: back office and credit check work contracts; managers run the network
    ADMIN: set(VIEWS),
    MANAGER: {"contractview", "commissionview", "commissionruleview", "agentview"},
    BACK_OFFICE: {"contractview", "validationqueueview", "activationqueueview"},
    CREDIT_CHECK: {"contractview", "creditcheckqueueview"},
    CALL_CENTER: set(),
    AGENT: {"mycontractview"},
}


@pytest.mark.parametrize("role", list(ALLOWED))
def test_F13_sales_views_per_role(role, client, login_as, db):
    login_as(role)
    for view in VIEWS:
        expected = 200 if view in ALLOWED[role] else 403
        assert client.get(f"/{view}/list/").status_code == expected, (role, view)


def test_F13_bulk_validate_then_credit_check_bulk_approve(client, login_as, make_user, db):
    processing = [contract_in(S.PROCESSING) for _ in range(2)]
    validated = contract_in(S.VALIDATED)
    login_as(BACK_OFFICE)
    page = client.get("/contractview/list/").get_data(as_text=True)
    rowids = [str(c.id) for c in processing + [validated]]
    resp = client.post("/contractview/action_post", data={"action": "validate", "rowid": rowids,
                                                          "csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    for c in processing + [validated]:
        db.session.refresh(c)
        assert c.status == S.VALIDATED
    # Back office may not approve credit: FAB refuses the action outright.
    resp = client.post("/contractview/action_post", data={"action": "approve", "rowid": rowids,
                                                          "csrf_token": csrf_token(page)})
    assert resp.status_code == 403
    for c in processing:
        db.session.refresh(c)
        assert c.status == S.VALIDATED


def test_F12_back_office_downloads_documents(client, login_as, make_user, db):
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user)
    login_as(BACK_OFFICE)
    page = client.get(f"/contractview/show/{contract.id}").get_data(as_text=True)
    doc = db.session.scalars(sa.select(ContractDocument).where(ContractDocument.contract_id == contract.id)).first()
    assert f"/contractview/document/{contract.id}/{doc.id}" in page
    resp = client.get(f"/contractview/document/{contract.id}/{doc.id}")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    assert client.get(f"/contractview/document/{contract.id}/{doc.id + 1000}").status_code == 404


def test_F16_manager_adds_rule_and_agent(client, login_as, make_user, db):
    agent_user, _ = make_user(AGENT)
    login_as(MANAGER)
    page = client.get("/commissionruleview/add").get_data(as_text=True)
    resp = client.post("/commissionruleview/add", data={
        "service": "GAS", "use_type": "DOMESTIC", "trigger": "ACTIVATION", "amount": "45.50",
        "clawback_days": "60", "valid_from": "2026-01-01", "valid_to": "", "csrf_token": csrf_token(page)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    rule = db.session.scalar(sa.select(CommissionRule))
    assert rule is not None and str(rule.amount) == "45.50" and rule.clawback_days == 60
    page = client.get("/agentview/add").get_data(as_text=True)
    resp = client.post("/agentview/add", data={"code": "AG900", "name": "Paolo Russo", "email": "p@example.com",
                                               "phone": "3331234567", "user": str(agent_user.id), "active": "y",
                                               "csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    agent = db.session.scalar(sa.select(Agent).where(Agent.code == "AG900"))
    assert agent.user_id == agent_user.id


def test_F13_work_queues_show_only_their_state(client, login_as, db):
    waiting = {state: contract_in(state) for state in (S.PROCESSING, S.VALIDATED, S.APPROVED, S.ACTIVATED)}
    login_as(CREDIT_CHECK)
    html = client.get("/creditcheckqueueview/list/").get_data(as_text=True)
    assert waiting[S.VALIDATED].number in html
    assert not any(c.number in html for st, c in waiting.items() if st != S.VALIDATED)
    # A row outside the queue can't be approved through it.
    resp = client.post("/creditcheckqueueview/action_post", data={
        "action": "approve", "rowid": [str(waiting[S.PROCESSING].id)], "csrf_token": csrf_token(html)})
    assert resp.status_code == 404
    resp = client.post("/creditcheckqueueview/action_post", data={
        "action": "approve", "rowid": [str(waiting[S.VALIDATED].id)], "csrf_token": csrf_token(html)})
    assert resp.status_code == 302
    db.session.refresh(waiting[S.VALIDATED])
    assert waiting[S.VALIDATED].status == S.APPROVED


def test_F15_agent_form_offers_staff_logins_only(client, login_as, make_user, db):
    from tests import factories

    staff, _ = make_user(AGENT)
    customer_user, _ = make_user("Customer")
    customer_user.customer_id = factories.customer().id
    db.session.commit()
    login_as(MANAGER)
    html = client.get("/agentview/add").get_data(as_text=True)
    assert f'value="{staff.id}"' in html and f'value="{customer_user.id}"' not in html
