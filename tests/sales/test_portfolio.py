"""F-15: an agent's customers, supply points and contracts, with search; managers see all."""
from app.models import ContractStatus as S
from app.roles import AGENT, MANAGER
from tests import factories
from tests.sales.helpers import agent_for, contract_in


def _linked(agent, last_name, pdr):
    cust = factories.customer(last_name=last_name, search_name=f"{last_name.lower()} mario")
    sp = factories.supply_point(cust, pdr=pdr, tariff_option="Gas Casa Fisso")
    return contract_in(S.INVOICEABLE, agent, customer_id=cust.id, supply_point_id=sp.id, pdr=pdr), cust, sp


def test_F15_agent_portfolio_with_search(client, login_as, make_user, db):
    other_user, _ = make_user(AGENT)
    other = agent_for(other_user)
    me = agent_for(login_as(AGENT))
    mine, my_cust, my_sp = _linked(me, "Galli", "11112222333344")
    theirs, their_cust, their_sp = _linked(other, "Conti", "55556666777788")
    html = client.get("/sales/portfolio").get_data(as_text=True)
    assert my_cust.code in html and my_sp.code in html and mine.number in html
    assert their_cust.code not in html and their_sp.code not in html and theirs.number not in html
    for q in ("galli", my_cust.tax_code, "11112222333344", mine.number):
        html = client.get(f"/sales/portfolio?q={q}").get_data(as_text=True)
        assert mine.number in html, q
    html = client.get("/sales/portfolio?q=conti").get_data(as_text=True)
    assert their_cust.code not in html and theirs.number not in html
    # Asking for another agent's portfolio by URL still shows only one's own.
    html = client.get(f"/sales/portfolio?agent={other.id}").get_data(as_text=True)
    assert theirs.number not in html and mine.number in html


def test_F15_manager_sees_every_agent_and_filters(client, login_as, make_user, db):
    u1, _ = make_user(AGENT)
    u2, _ = make_user(AGENT)
    a1, a2 = agent_for(u1), agent_for(u2)
    c1, _, _ = _linked(a1, "Galli", "11112222333344")
    c2, _, _ = _linked(a2, "Conti", "55556666777788")
    login_as(MANAGER)
    html = client.get("/sales/portfolio").get_data(as_text=True)
    assert c1.number in html and c2.number in html
    html = client.get(f"/sales/portfolio?agent={a2.id}").get_data(as_text=True)
    assert c2.number in html and c1.number not in html


def test_F15_customer_role_has_no_sales_pages(client, make_user, db):
    from tests.conftest import csrf_token

    user, password = make_user("Call center")
    page = client.get("/login/").get_data(as_text=True)
    client.post("/login/", data={"username": user.username, "password": password, "csrf_token": csrf_token(page)})
    assert client.get("/sales/portfolio").status_code == 403
