"""F-11 entry wizard: no draft before the first save, the customer a contract brought found at
once (dual fuel), duplicates flagged with a link, supply point codes compared however written,
the service's own fields checked by the server, any SEPA IBAN; and the search scope (an agent
finds only their own customers, or one by an exact identifier without seeing their data)."""
import re

import pytest
import sqlalchemy as sa
from stdnum.it import codicefiscale

from app import validators as v
from app.models import Contract, ContractStatus as S, Service, SupplyStatus
from app.roles import AGENT
from app.services.sales import contracts as wf
from app.services.sales import wizard as wiz
from tests import factories
from tests.conftest import csrf_token
from tests.sales.helpers import agent_for, contract_in, customer_step, entered_contract, payment_step, supply_step


def _code(first15: str) -> str:
    return first15 + codicefiscale.calc_check_digit(first15)


def _agent(client, login_as):
    user = login_as(AGENT)
    return user, agent_for(user)


def _post(client, url, values, save="next"):
    page = client.get(url).get_data(as_text=True)
    data = {k: ("y" if val is True else val) for k, val in values.items() if val is not False}
    data.update(csrf_token=csrf_token(page), save=save)
    return client.post(url, data=data)


def _count():
    from app.extensions import db

    return db.session.scalar(sa.select(sa.func.count()).select_from(Contract))


def _new(client, customer=None) -> int:
    resp = _post(client, "/sales/contracts/new", customer or customer_step())
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    return int(re.search(r"/contracts/(\d+)/supply", resp.headers["Location"]).group(1))


# --- no draft until the first save; the error summary --------------------------------------------

def test_F11_no_draft_until_the_customer_step_is_saved(client, login_as, db):
    _agent(client, login_as)
    before = _count()
    listing = client.get("/sales/").get_data(as_text=True)
    assert 'href="/sales/contracts/new"' in listing
    page = client.get("/sales/contracts/new").get_data(as_text=True)
    assert _count() == before and 'aria-current="step"' in page
    resp = _post(client, "/sales/contracts/new", customer_step(tax_code="RSSMRA80A01H501X", post_code="12"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and _count() == before
    summary = re.search(r'<div class="alert alert-danger error-summary"[^>]*data-error-summary.*?</div>', html, re.S)
    assert summary and 'tabindex="-1"' in summary.group(0)
    assert 'href="#tax_code"' in summary.group(0) and 'href="#post_code"' in summary.group(0)
    field = re.search(r'<input[^>]*id="tax_code"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in field and 'aria-describedby="tax_code-error"' in field
    assert re.search(r'<fieldset[^>]*>\s*<legend[^>]*>Tipologia</legend>', html)
    assert 'autocomplete="family-name"' in html and "<title>Errore:" in html
    cid = _new(client)
    assert _count() == before + 1
    contract = db.session.get(Contract, cid)
    assert contract.status == S.DRAFT and "customer" in contract.data["done"]



def test_F11_a_draft_can_still_be_started_and_prefilled_by_other_callers(db, make_user):
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = wiz.new_draft(user)
    wiz.save_step(contract, "customer", {"mode": "new", "last_name": "Conti", "first_name": "Rita"}, user,
                  complete=False)
    assert contract.status == S.DRAFT and contract.data["customer"]["last_name"] == "Conti"
    assert "customer" not in contract.data["done"]


def test_F11_delete_draft_button_discards_it(client, login_as, db):
    _agent(client, login_as)
    cid = _new(client)
    page = client.get(f"/sales/contracts/{cid}/supply").get_data(as_text=True)
    assert "Elimina bozza" in page
    resp = client.post(f"/sales/contracts/{cid}/action/discard",
                       data={"csrf_token": csrf_token(page), "action": "discard"}, follow_redirects=True)
    assert resp.status_code == 200
    assert db.session.get(Contract, cid).status == S.CANCELLED


# --- dual fuel: the new customer found at once, one customer in billing ---------------------------

def test_F11_dual_fuel_second_contract_finds_the_new_customer(client, login_as, db):
    user, _ = _agent(client, login_as)
    tax_code = _code("GLLPRI75C50H501")
    first = _new(client, customer_step(last_name="Gallo", first_name="Piera", tax_code=tax_code))
    company = entered_contract(user, customer=customer_step(kind="company", company_name="Forno Gallo Srl",
                                                            last_name="", first_name="", tax_code="",
                                                            vat_number="02114560010"))
    first_number = db.session.get(Contract, first).number
    for q in ("gallo", tax_code, "02114560010"):
        page = client.get(f"/sales/contracts/new?q={q}").get_data(as_text=True)
        expected = company.number if q == "02114560010" else first_number
        assert f"contratto {expected}" in page, q
    page = client.get("/sales/contracts/new?q=gallo").get_data(as_text=True)
    resp = client.post("/sales/contracts/new", data={"csrf_token": csrf_token(page), "mode": "contract",
                                                     "contract_ref": str(first), "save": "next"})
    assert resp.status_code == 302
    second = db.session.get(Contract, int(re.search(r"/contracts/(\d+)/supply", resp.headers["Location"]).group(1)))
    assert second.customer_contract_id == first and second.data["customer"]["last_name"] == "Gallo"
    # Sharing the customer on purpose is not a duplicate; the supply address comes from the customer.
    supply = client.get(f"/sales/contracts/{second.id}/supply").get_data(as_text=True)
    assert 'id="duplicates"' not in supply and 'value="Via Roma 1"' in supply
    # The second contract's customer isn't offered again as a third, separate customer.
    page = client.get(f"/sales/contracts/{second.id}/customer?q=gallo").get_data(as_text=True)
    assert page.count("contratto ") == 1


def test_F11_duplicate_tax_code_and_pdr_flagged_with_a_link(client, login_as, db):
    user, _ = _agent(client, login_as)
    first = entered_contract(user, supply=supply_step(pdr="01234567890123"))
    cid = _new(client)  # the same tax code typed again, as a new customer
    resp = _post(client, f"/sales/contracts/{cid}/supply", supply_step(pdr="0123 4567 8901 23"))
    assert resp.status_code == 302  # flagged, not refused
    summary = client.get(f"/sales/contracts/{cid}/summary").get_data(as_text=True)
    note = re.search(r'id="duplicates".*?</div>', summary, re.S).group(0)
    assert "stesso codice fiscale" in note and "stesso punto di fornitura" in note
    assert note.count(f'href="/sales/contracts/{first.id}"') == 2 and first.number in note


# --- supply point codes however written ------------------------------------------------------------

@pytest.mark.parametrize("typed,stored", [
    ("IT001E12345678", "IT001E12345678A"),  # without the optional check character
    ("it001e12345678a", "IT001E12345678"),  # with it, lower case
    ("IT 001 E 1234 5678", "IT001E12345678B"),  # spaces
    ("IT001E12345678C", "it001e 12345678"),  # billing's copy written loosely
])
def test_F11_pod_variants_recognised(typed, stored, app, db):
    assert v.point_key(typed) == v.point_key(stored) == "IT001E12345678"
    cust = factories.customer()
    factories.supply_point(cust, service=Service.ELECTRICITY, pdr="", pod=stored, status=SupplyStatus.ACTIVE)
    db.session.commit()
    assert wf.point_active(pod=typed)
    assert wf.point_in_use(pod=typed)
    assert not wf.point_active(pod="IT001E12345679")


def test_F11_pdr_with_spaces_recognised_on_both_sides(app, db, make_user):
    assert v.point_key("0088 1234 5678 90") == "00881234567890"
    cust = factories.customer()
    factories.supply_point(cust, pdr="00881234567890", status=SupplyStatus.SUSPENDED)
    db.session.commit()
    assert wf.point_active(pdr="00881234567890") and wf.point_active(pdr="00 88 12 34 56 78 90")
    user, _ = make_user(AGENT)
    agent_for(user)
    first = entered_contract(user, supply=supply_step(pdr="11112222333344"))
    assert [c.id for c in wf.open_contracts_with(pdr="1111 2222 3333 44")] == [first.id]


# --- the service's own fields, checked by the server -------------------------------------------------

def test_F11_service_decides_the_fields_on_the_server(client, login_as, db):
    _agent(client, login_as)
    cid = _new(client)
    url = f"/sales/contracts/{cid}/supply"
    # Electricity: POD, use, voltage and power in Italian format; gas's fields are ignored.
    bad = _post(client, url, supply_step(service="electricity", pdr="00881234567890", pod="IT001E11112222",
                                         tariff_option="Luce Casa Monoraria", committed_power="3.0",
                                         withdrawal_class="C1"))
    html = bad.get_data(as_text=True)
    assert bad.status_code == 200 and 'id="committed_power-error"' in html
    assert 'id="withdrawal_class-error"' not in html and 'id="pdr-error"' not in html
    ok = _post(client, url, supply_step(service="electricity", pdr="00881234567890", pod="it001e11112222",
                                        tariff_option="Luce Casa Monoraria", committed_power="4,5",
                                        electricity_use="domestic_non_resident", voltage="400"))
    assert ok.status_code == 302
    contract = db.session.get(Contract, cid)
    sp = contract.data["supply"]
    assert (sp["pdr"], contract.pdr, contract.pod, sp["committed_power"]) == ("", "", "IT001E11112222", "4.5")
    assert sp["withdrawal_class"] == "" and sp["gas_use_category"] == "" and sp["voltage"] == "400"
    page = client.get(url).get_data(as_text=True)
    assert 'value="4,5"' in page and "Domestico non residente" in page
    # Gas: the regulated choices only; an electricity offer is refused.
    bad = _post(client, url, supply_step(withdrawal_class="9", gas_use_category="C9",
                                         tariff_option="Luce Casa Monoraria"))
    html = bad.get_data(as_text=True)
    for name in ("withdrawal_class", "gas_use_category", "tariff_option"):
        assert f'id="{name}-error"' in html, name
    assert "C3 – Riscaldamento + uso cottura cibi e/o produzione di acqua calda sanitaria" in html
    assert "1 – 7 giorni su 7" in html
    # Telecom: no PDR, POD or consumption.
    ok = _post(client, url, supply_step(service="telecom", pdr="00881234567890", annual_consumption="",
                                        tariff_option="Fibra Casa"))
    assert ok.status_code == 302, ok.get_data(as_text=True)[:500]
    db.session.expire_all()
    contract = db.session.get(Contract, cid)
    assert contract.pdr == "" and contract.pod == "" and contract.data["supply"]["annual_consumption"] == ""


def test_F11_bills_to_the_supply_address_ignore_the_other_address(client, login_as, db):
    _agent(client, login_as)
    cid = _new(client)
    resp = _post(client, f"/sales/contracts/{cid}/mailing",
                 {"same_as_supply": True, "name": "Altro", "address": "Via X", "post_code": "12",
                  "city": "Roma", "province": "ROMA"})
    assert resp.status_code == 302
    mailing = db.session.get(Contract, cid).data["mailing"]
    assert mailing["same_as_supply"] is True and mailing["post_code"] == "" and mailing["name"] == ""


def test_F11_german_iban_accepted_in_the_wizard(client, login_as, db):
    _agent(client, login_as)
    cid = _new(client)
    resp = _post(client, f"/sales/contracts/{cid}/payment", payment_step(iban="DE89 3704 0044 0532 0130 00",
                                                                        holder="Anna Weber"))
    assert resp.status_code == 302
    assert db.session.get(Contract, cid).data["payment"]["iban"] == "DE89370400440532013000"


# --- search scope (F-15/F-17): only one's own customers, or one by an exact identifier ---------------

@pytest.fixture
def others_customer(db, make_user):
    """Another agent's customer: in billing (with a contract) and a new one in a contract."""
    other_user, _ = make_user(AGENT)
    other = agent_for(other_user)
    cust = factories.customer(last_name="Ferri", first_name="Bruna", search_name="ferri bruna",
                              tax_code=_code("FRRBRN70A41H501"),
                              phone="0699887766", email="bruna.ferri@example.com", city="Viterbo")
    db.session.commit()
    contract_in(S.INVOICEABLE, other, customer_id=cust.id)
    entered = entered_contract(other_user, customer=customer_step(last_name="Ferraro", first_name="Ugo",
                                                                  tax_code=_code("FRRUGO60B01H501")))
    return cust, entered


def test_F17_search_agent_never_sees_another_agents_customer(client, login_as, db, others_customer):
    cust, entered = others_customer
    _agent(client, login_as)
    for q in ("ferr", cust.tax_code, cust.code, entered.tax_code, "ferraro"):
        page = client.get(f"/sales/contracts/new?q={q}").get_data(as_text=True)
        results = re.search(r'id="search-results".*?</table>', page, re.S).group(0)
        assert "Nessuno dei tuoi clienti corrisponde" in results
        for secret in (cust.code, "Ferri", "Ferraro", entered.number, "Viterbo"):
            assert secret not in results, (q, secret)
    # Not by posting the customer code or the contract id (the URL a result would have).
    page = client.get("/sales/contracts/new").get_data(as_text=True)
    for data in ({"mode": "existing", "customer_code": cust.code}, {"mode": "contract", "contract_ref": str(entered.id)}):
        resp = client.post("/sales/contracts/new", data={**data, "csrf_token": csrf_token(page), "save": "next"})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and "Ferri" not in html and "Ferraro" not in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contract).where(
        sa.or_(Contract.customer_id == cust.id, Contract.customer_contract_id == entered.id))) == 1
    # Not by URL nor by the back office's views and actions.
    assert client.get(f"/sales/contracts/{entered.id}/customer").status_code == 404
    assert client.get(f"/sales/contracts/{entered.id}").status_code == 404
    for url in ("/customerview/list/", f"/customerview/show/{cust.id}", "/callcenterview/list/"):
        resp = client.get(url)
        assert resp.status_code in (403, 404) or cust.code not in resp.get_data(as_text=True), url
    listing = client.get("/mycontractview/list/").get_data(as_text=True)
    assert entered.number not in listing
    resp = client.post("/mycontractview/action_post", data={"action": "discard", "rowid": [str(entered.id)],
                                                            "csrf_token": csrf_token(page)})
    assert resp.status_code == 404
    portfolio = client.get("/sales/portfolio?q=ferr").get_data(as_text=True)
    assert cust.code not in portfolio and "Ferraro" not in portfolio


def test_F17_search_exact_identifier_shows_nothing_until_attached(client, login_as, db, others_customer):
    cust, _ = others_customer
    _agent(client, login_as)
    wrong = client.get(f"/sales/contracts/new?exact-customer_code={cust.code}&exact-identifier=RSSMRA80A01H501U")
    assert "Nessun cliente ha questo codice cliente" in wrong.get_data(as_text=True)
    page = client.get(f"/sales/contracts/new?exact-customer_code={cust.code.lower()}"
                      f"&exact-identifier={cust.tax_code}").get_data(as_text=True)
    result = re.search(r'id="exact-result".*?</form>', page, re.S).group(0)
    assert f"Collega il cliente {cust.code}" in result
    for secret in ("Ferri", "Bruna", "Viterbo", cust.phone, cust.email):
        assert secret not in page, secret
    resp = client.post("/sales/contracts/new", data={
        "csrf_token": csrf_token(page), "mode": "existing", "customer_code": cust.code,
        "identifier": cust.tax_code, "save": "next"})
    assert resp.status_code == 302
    contract = db.session.get(Contract, int(re.search(r"/contracts/(\d+)/", resp.headers["Location"]).group(1)))
    assert contract.customer_id == cust.id
    saved = contract.data["customer"]
    assert saved["last_name"] == "Ferri" and not {"phone", "email", "birth_date"} & set(saved)
    page = client.get(f"/sales/contracts/{contract.id}/customer").get_data(as_text=True)
    assert "Ferri" in page and cust.phone not in page and cust.email not in page


def test_F11_summary_and_contract_page_name_the_regulated_choices(client, login_as, db):
    user, _ = _agent(client, login_as)
    gas = entered_contract(user, submit=False, supply=supply_step(gas_use_category="C3", withdrawal_class="2"))
    page = client.get(f"/sales/contracts/{gas.id}/summary").get_data(as_text=True)
    assert "C3 – Riscaldamento + uso cottura cibi" in page and "2 – 6 giorni su 7" in page
    power = entered_contract(user, supply=supply_step(
        service="electricity", pdr="", pod="IT012E87654321", tariff_option="Luce Casa Monoraria",
        electricity_use="domestic_non_resident", voltage="400", committed_power="4.5"))
    page = client.get(f"/sales/contracts/{power.id}").get_data(as_text=True)
    assert "Domestico non residente" in page and "Bassa tensione, 400 V trifase" in page
    assert "4,5 kW" in page and "giorni su 7" not in page
