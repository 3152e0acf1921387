"""F-13 / F-15: an agent sees and edits only their own contracts, and only while processing."""
import pytest

from app.models import Contract, ContractStatus as S
from app.roles import AGENT, BACK_OFFICE, MANAGER
from app.services.sales import wizard as wiz
from tests.conftest import csrf_token
from tests.sales.helpers import agent_for, contract_in, supply_step


@pytest.fixture
def two_agents(client, login_as, make_user, db):
    other_user, _ = make_user(AGENT)
    other = agent_for(other_user)
    me_user = login_as(AGENT)
    me = agent_for(me_user)
    return me, other


def test_F13_other_agents_contract_is_404_by_url(client, two_agents, db):
    me, other = two_agents
    theirs = contract_in(S.PROCESSING, other)
    mine = contract_in(S.PROCESSING, me)
    assert client.get(f"/sales/contracts/{mine.id}").status_code == 200
    for url in (f"/sales/contracts/{theirs.id}", f"/sales/contracts/{theirs.id}/customer",
                f"/sales/contracts/{theirs.id}/summary", f"/sales/contracts/{theirs.id}/documents/1.pdf",
                f"/mycontractview/show/{theirs.id}"):
        assert client.get(url).status_code == 404, url
    token = csrf_token(client.get(f"/sales/contracts/{mine.id}").get_data(as_text=True))
    resp = client.post(f"/sales/contracts/{theirs.id}/action/cancel",
                       data={"csrf_token": token, "reason": "x"})
    assert resp.status_code == 404
    resp = client.post(f"/sales/contracts/{theirs.id}/supply", data={**supply_step(), "csrf_token": token})
    assert resp.status_code == 404
    listing = client.get("/sales/").get_data(as_text=True)
    assert mine.number in listing and theirs.number not in listing
    db.session.refresh(theirs)
    assert theirs.status == S.PROCESSING and theirs.data["supply"]["pdr"] != supply_step()["pdr"]


def test_F13_other_agents_contract_unchanged_by_fab_action(client, two_agents, db):
    me, other = two_agents
    theirs = contract_in(S.DRAFT, other)
    mine = contract_in(S.DRAFT, me)
    page = client.get("/mycontractview/list/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert mine.number in html and theirs.number not in html
    token = csrf_token(html)
    resp = client.post("/mycontractview/action_post", data={"action": "discard", "rowid": [str(theirs.id)],
                                                            "csrf_token": token})
    assert resp.status_code == 404
    resp = client.post(f"/mycontractview/action/discard/{theirs.id}", data={"csrf_token": token})
    assert resp.status_code == 404
    db.session.refresh(theirs)
    assert theirs.status == S.DRAFT
    # The same action on one's own draft works (so the refusal above is about ownership).
    resp = client.post("/mycontractview/action_post", data={"action": "discard", "rowid": [str(mine.id)],
                                                            "csrf_token": token})
    assert resp.status_code == 302
    db.session.refresh(mine)
    assert mine.status == S.CANCELLED
    # Back-office views and their actions are not for agents.
    assert client.get("/contractview/list/").status_code == 403
    resp = client.post("/contractview/action_post", data={"action": "validate", "rowid": [str(theirs.id)],
                                                          "csrf_token": token})
    assert resp.status_code == 403
    db.session.refresh(theirs)
    assert theirs.status == S.DRAFT


@pytest.mark.parametrize("state", [S.VALIDATED, S.APPROVED, S.ACTIVATED, S.IN_BILLING, S.REJECTED])
def test_F13_editing_after_processing_is_refused_with_a_message(state, client, two_agents, db):
    me, _ = two_agents
    contract = contract_in(state, me)
    before = dict(contract.data["supply"])
    resp = client.get(f"/sales/contracts/{contract.id}/supply", follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "si può modificare solo finché è in lavorazione" in html
    token = csrf_token(client.get("/sales/contracts/new").get_data(as_text=True))
    resp = client.post(f"/sales/contracts/{contract.id}/supply",
                       data={**supply_step(tariff_option="Gas Business"), "csrf_token": token, "save": "next"},
                       follow_redirects=True)
    assert "si può modificare solo finché è in lavorazione" in resp.get_data(as_text=True)
    db.session.refresh(contract)
    assert contract.data["supply"] == before
    with pytest.raises(wiz.EditRefused):
        wiz.save_step(contract, "supply", supply_step(), me.user)


def test_F13_agent_edits_in_processing_and_history_records_it(client, two_agents, db):
    me, _ = two_agents
    contract = contract_in(S.PROCESSING, me)
    wiz.save_step(contract, "supply", supply_step(tariff_option="Gas Business"), me.user)
    db.session.refresh(contract)
    assert contract.data["supply"]["tariff_option"] == "Gas Business"
    assert [h.action for h in contract.history] == ["edit"]


def test_F15_manager_sees_every_agent_back_office_works_on_all(client, login_as, make_user, db):
    a1, _ = make_user(AGENT)
    a2, _ = make_user(AGENT)
    c1, c2 = contract_in(S.PROCESSING, agent_for(a1)), contract_in(S.PROCESSING, agent_for(a2))
    login_as(MANAGER)
    html = client.get("/sales/").get_data(as_text=True)
    assert c1.number in html and c2.number in html
    assert client.get(f"/sales/contracts/{c2.id}").status_code == 200
    assert client.get("/contractview/list/").status_code == 200
    # A manager may look but not change data.
    resp = client.get(f"/sales/contracts/{c2.id}/supply", follow_redirects=True)
    assert "Non hai i permessi" in resp.get_data(as_text=True)


def test_F13_back_office_validates_from_the_contract_page(client, login_as, db):
    contract = contract_in(S.PROCESSING)
    login_as(BACK_OFFICE)
    page = client.get(f"/contractview/show/{contract.id}").get_data(as_text=True)
    assert 'value="validate"' in page and 'value="approve"' not in page
    resp = client.post(f"/contractview/work/{contract.id}", data={"action": "validate",
                                                                  "csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    db.session.refresh(contract)
    assert contract.status == S.VALIDATED
    resp = client.post(f"/contractview/work/{contract.id}", data={"action": "reject", "reason": "",
                                                                  "csrf_token": csrf_token(page)},
                       follow_redirects=True)
    db.session.refresh(contract)
    assert contract.status == S.VALIDATED
    assert db.session.get(Contract, contract.id).rejection_reason == ""


def test_F11_submit_only_through_the_summary(client, two_agents, db):
    me, _ = two_agents
    contract = contract_in(S.DRAFT, me)
    html = client.get(f"/sales/contracts/{contract.id}").get_data(as_text=True)
    assert "action-submit" not in html and "action-discard" in html
    resp = client.post(f"/sales/contracts/{contract.id}/action/submit", data={"csrf_token": csrf_token(html)})
    assert resp.status_code == 404
    db.session.refresh(contract)
    assert contract.status == S.DRAFT


def test_F13_a_step_taken_from_a_queue_lands_on_the_contract_with_its_message(client, login_as, db):
    """Validated from the validation queue's page, the contract leaves that queue: the answer is
    its page among all contracts, with the success message, not a Not Found."""
    contract = contract_in(S.PROCESSING)
    login_as(BACK_OFFICE)
    page = client.get(f"/validationqueueview/show/{contract.id}").get_data(as_text=True)
    resp = client.post(f"/validationqueueview/work/{contract.id}",
                       data={"action": "validate", "csrf_token": csrf_token(page)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/contractview/show/{contract.id}")
    landed = client.get(resp.headers["Location"])
    assert landed.status_code == 200 and "Fatto: Convalida." in landed.get_data(as_text=True)
    db.session.refresh(contract)
    assert contract.status == S.VALIDATED
