"""F-13 / F-15 / F-40: workflow steps and sales pages are guarded by FAB permissions, not role
names: a role an admin makes with the right permissions does the work, and the Agent role
without its sales permissions opens no sales page."""
import re
import uuid
from html import unescape

import pytest
import sqlalchemy as sa

from flask import Flask

from app.models import Activity, Contract, ContractDocument, ContractStatus as S
from app.roles import ADMIN, AGENT
from tests.conftest import csrf_token, staff_login
from tests.sales.helpers import agent_for, contract_in, entered_contract
from tests.security.fixtures_auth import staff_logout

# The pseudo-views the sales pages and the contract workflow check.
SALES_VIEWS = ("Sales", "ContractWorkflow", "Portfolio", "CommissionStatement")


def _permission_ids(html: str, wanted: set[tuple[str, str]]) -> list[str]:
    """The option values of the role form for the wanted (permission, view) pairs, found by the
    names the form gives them (area, screen, what it allows)."""
    from flask import current_app

    from app.views.admin.security_views import permission_view_label

    options = dict((unescape(label.strip()), value) for value, label in
                   re.findall(r'<option[^>]*value="(\d+)"[^>]*>([^<]+)</option>', html))
    ids = []
    sm = current_app.appbuilder.sm
    with current_app.test_request_context("/?_l_=it"):
        for perm, view in wanted:
            label = permission_view_label(sm.find_permission_view_menu(perm, view))
            assert label in options, f"{label!r} is not offered in the role form"
            ids.append(options[label])
    return ids


@pytest.fixture
def admin_made_role(app, client, login_as, db):
    """A role an admin creates in FAB's security views; removed again after the test."""
    made = []

    def _make(*pairs: tuple[str, str]) -> str:
        login_as(ADMIN)
        name = f"Ruolo {uuid.uuid4().hex[:6]}"
        page = client.get("/roles/add").get_data(as_text=True)
        resp = client.post("/roles/add", data={"name": name, "permissions": _permission_ids(page, set(pairs)),
                                               "csrf_token": csrf_token(page)})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
        role = app.appbuilder.sm.find_role(name)
        assert {(pv.permission.name, pv.view_menu.name) for pv in role.permissions} == set(pairs)
        staff_logout(client)
        made.append(name)
        return name

    yield _make
    sm = app.appbuilder.sm
    for name in made:
        role = sm.find_role(name)
        role.permissions = []
        db.session.delete(role)
    db.session.commit()


def _signed_in(app, make_user, role: str):
    user, password = make_user(role)
    browser = app.test_client()
    staff_login(browser, user.username, password)
    return user, browser


def test_F40_admin_made_role_with_only_validation_validates_on_the_contract_page(app, admin_made_role,
                                                                                 make_user, db):
    role = admin_made_role(("can_validate", "ContractWorkflow"),
                           ("can_show", "ContractView"), ("can_work", "ContractView"))
    _, browser = _signed_in(app, make_user, role)
    contract = contract_in(S.PROCESSING)
    page = browser.get(f"/contractview/show/{contract.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="validate"' in html
    assert not any(f'value="{a}"' in html for a in ("approve", "activate", "cancel"))
    resp = browser.post(f"/contractview/work/{contract.id}", data={"action": "validate",
                                                                   "csrf_token": csrf_token(html)})
    assert resp.status_code == 302
    db.session.refresh(contract)
    assert contract.status == S.VALIDATED
    # Validation is all the role may do: credit approval stays with whoever holds it.
    browser.post(f"/contractview/work/{contract.id}", data={"action": "approve", "csrf_token": csrf_token(html)})
    db.session.refresh(contract)
    assert contract.status == S.VALIDATED
    assert browser.get("/sales/").status_code == 403  # no `can_access` on Sales


def test_F40_admin_made_role_validates_from_the_sales_pages(app, admin_made_role, make_user, db):
    role = admin_made_role(("can_access", "Sales"), ("can_see_all", "Portfolio"),
                           ("can_validate", "ContractWorkflow"))
    _, browser = _signed_in(app, make_user, role)
    contract = contract_in(S.PROCESSING)
    html = browser.get(f"/sales/contracts/{contract.id}").get_data(as_text=True)
    assert "action-validate" in html and "action-cancel" not in html
    resp = browser.post(f"/sales/contracts/{contract.id}/action/validate", data={"csrf_token": csrf_token(html)})
    assert resp.status_code == 302
    db.session.refresh(contract)
    assert contract.status == S.VALIDATED


def _sales_rules() -> list[tuple[str, str]]:
    """Every (URL rule, method) of the sales blueprint, read from its URL map."""
    from app.views.sales import bp

    probe = Flask(__name__)
    probe.register_blueprint(bp)
    return sorted((rule.rule, method) for rule in probe.url_map.iter_rules()
                  if rule.endpoint.startswith(f"{bp.name}.")
                  for method in rule.methods - {"HEAD", "OPTIONS"})


SALES_RULES = _sales_rules()


@pytest.fixture
def agent_without_sales_permissions(app, db, owned):
    """The Agent role with every permission on the sales pseudo-views taken away (and back after)."""
    role = app.appbuilder.sm.find_role(AGENT)
    kept = list(role.permissions)
    role.permissions = [pv for pv in kept if pv.view_menu.name not in SALES_VIEWS]
    db.session.commit()
    yield role
    role.permissions = kept
    db.session.commit()


@pytest.fixture
def owned(db, make_user):
    """An agent with a contract of their own (entered through the wizard, with its documents)."""
    user, password = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user)
    doc = db.session.scalars(sa.select(ContractDocument).where(ContractDocument.contract_id == contract.id)).first()
    from app.services.sales import signed
    from tests.web.readable_seed import seed_prospect

    copy = signed.upload(contract, doc.pdf, user)  # a signed copy of their own
    prospect = seed_prospect(user)  # a prospect of their own, with a follow-up (F-17)
    activity_id = db.session.scalar(sa.select(Activity.id).where(Activity.prospect_id == prospect.id))
    return {"user": user, "password": password, "contract_id": contract.id, "doc_id": doc.id,
            "copy_id": copy.id, "step": "supply", "action": "cancel", "prospect_id": prospect.id,
            "activity_id": activity_id}


def test_F15_every_sales_rule_is_in_the_matrix():
    assert {rule for rule, _ in SALES_RULES} >= {"/sales/", "/sales/contracts/<int:contract_id>",
                                                  "/sales/portfolio", "/sales/commissions"}


@pytest.mark.parametrize("rule,method", SALES_RULES, ids=[f"{m} {r}" for r, m in SALES_RULES])
def test_F15_agent_role_without_sales_permissions_gets_403(rule, method, owned, agent_without_sales_permissions,
                                                           client, db):
    staff_login(client, owned["user"].username, owned["password"])
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(owned[m.group(1)]), rule)
    token = csrf_token(client.get("/resetmypassword/form").get_data(as_text=True))
    if method == "GET":
        resp = client.get(url)
    else:
        resp = client.post(url, data={"csrf_token": token, "reason": "non serve più", "save": "draft"})
    assert resp.status_code == 403, (method, url, resp.status_code, resp.headers.get("Location"))
    html = resp.get_data(as_text=True)
    assert "Non puoi aprire questa pagina" in html and 'class="navbar' in html
    contract = db.session.get(Contract, owned["contract_id"])
    db.session.refresh(contract)
    assert contract.status == S.PROCESSING


def test_F15_plain_agent_still_opens_every_sales_page(owned, client):
    """The same URLs answer the agent whose role keeps its permissions (so the 403s are about them)."""
    staff_login(client, owned["user"].username, owned["password"])
    for rule, method in SALES_RULES:
        if method != "GET":
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(owned[m.group(1)]), rule)
        resp = client.get(url, query_string={"period": "2026-01"} if url.endswith("statement.pdf") else None)
        # The reconciliation with billing is the managers' (`can_reconcile`), not an agent's.
        expected = 403 if url.startswith("/sales/commissions/reconciliation") else 200
        assert resp.status_code == expected, (url, resp.status_code)
