"""F-11 over HTTP: the wizard's steps, drafts, errors in the user's language next to the field."""
import re

import sqlalchemy as sa

from app.models import Contract, ContractDocument, ContractStatus
from app.roles import AGENT
from tests import factories
from tests.conftest import csrf_token
from tests.sales.helpers import IBAN, agent_for, customer_step, mailing_step, payment_step, supply_step


def _agent_client(client, login_as):
    user = login_as(AGENT)
    agent_for(user)
    return user


def _new(client, customer: dict | None = None) -> int:
    """A contract created by saving its first step (nothing exists before that)."""
    page = client.get("/sales/contracts/new")
    assert page.status_code == 200
    data = {**(customer or customer_step()), "csrf_token": csrf_token(page.get_data(as_text=True)), "save": "next"}
    resp = client.post("/sales/contracts/new", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return int(re.search(r"/contracts/(\d+)/supply", resp.headers["Location"]).group(1))


def _post_step(client, cid, step, values, save="next"):
    page = client.get(f"/sales/contracts/{cid}/{step}").get_data(as_text=True)
    data = {k: ("y" if v is True else v) for k, v in values.items() if v is not False}
    data.update(csrf_token=csrf_token(page), save=save)
    return client.post(f"/sales/contracts/{cid}/{step}", data=data)


def test_F11_wizard_every_step_to_documents(client, login_as, db):
    _agent_client(client, login_as)
    cid = _new(client)
    assert _post_step(client, cid, "customer", customer_step()).headers["Location"].endswith("/supply")
    assert _post_step(client, cid, "supply", supply_step(pdr="00881234567890")).headers["Location"].endswith("/payment")
    assert _post_step(client, cid, "payment", payment_step()).headers["Location"].endswith("/mailing")
    assert _post_step(client, cid, "mailing", mailing_step(same_as_supply=False, name="Giuseppe Verdi",
                                                           address="Casella postale 7", post_code="00199",
                                                           city="Roma", province="rm")).status_code == 302
    summary = client.get(f"/sales/contracts/{cid}/summary").get_data(as_text=True)
    assert "00881234567890" in summary and "Gas Casa Fisso" in summary and IBAN in summary
    resp = client.post(f"/sales/contracts/{cid}/finish", data={"csrf_token": csrf_token(summary)})
    assert resp.status_code == 302
    contract = db.session.get(Contract, cid)
    assert contract.status == ContractStatus.PROCESSING and contract.pdr == "00881234567890"
    assert contract.data["mailing"]["province"] == "RM"
    detail = client.get(f"/sales/contracts/{cid}").get_data(as_text=True)
    assert "In lavorazione" in detail
    docs = db.session.scalars(sa.select(ContractDocument).where(ContractDocument.contract_id == cid)).all()
    assert sorted(d.kind for d in docs) == ["contract", "mandate", "switching"]  # SEPA: the F-06 mandate too
    pdf = client.get(f"/sales/contracts/{cid}/documents/{docs[0].id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_F11_errors_in_italian_next_to_the_field_and_input_kept(client, login_as, db):
    _agent_client(client, login_as)
    cid = _new(client)
    resp = _post_step(client, cid, "customer", customer_step(tax_code="RSSMRA80A01H501X", post_code="12"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert re.search(r'id="tax_code-error"><span class="sr-only">Errore:</span> Il codice fiscale non è valido', html)
    assert re.search(r'id="post_code-error"><span class="sr-only">Errore:</span> Il CAP', html)
    assert 'value="RSSMRA80A01H501X"' in html and 'value="Verdi"' in html  # nothing typed is lost
    _post_step(client, cid, "customer", customer_step())
    html = _post_step(client, cid, "supply", supply_step(service="electricity", pdr="",
                                                         pod="IT001E123", tariff_option="Luce Business")
                      ).get_data(as_text=True)
    assert re.search(r'id="pod-error"><span class="sr-only">Errore:</span> Il POD', html)


def test_F11_english_user_gets_english_messages(client, login_as, db):
    _agent_client(client, login_as)
    cid = _new(client)
    client.get("/lang/en")
    client.get("/sales/?_l_=en")
    html = _post_step(client, cid, "customer", customer_step(vat_number="123", kind="company",
                                                            company_name="Acme")).get_data(as_text=True)
    assert "This VAT number is not valid" in html


def test_F11_draft_is_saved_incomplete_and_resumed(client, login_as, db):
    _agent_client(client, login_as)
    cid = _new(client)
    resp = _post_step(client, cid, "supply", supply_step(pdr="12", annual_consumption=""), save="draft")
    assert resp.status_code == 302
    contract = db.session.get(Contract, cid)
    assert contract.data["supply"]["pdr"] == "12" and "supply" not in contract.data["done"]
    page = client.get(f"/sales/contracts/{cid}/supply").get_data(as_text=True)
    assert 'value="12"' in page
    summary = client.get(f"/sales/contracts/{cid}/summary").get_data(as_text=True)
    resp = client.post(f"/sales/contracts/{cid}/finish", data={"csrf_token": csrf_token(summary)})
    db.session.refresh(contract)
    assert contract.status == ContractStatus.DRAFT


def test_F11_existing_customer_found_and_chosen(client, login_as, db):
    user = _agent_client(client, login_as)
    cust = factories.customer(last_name="Bianchi", first_name="Anna", search_name="bianchi anna",
                              tax_code="BNCLRA85M41F205C")
    db.session.commit()
    from tests.sales.helpers import contract_in

    contract_in(ContractStatus.INVOICEABLE, wiz_agent(user), customer_id=cust.id)  # in the agent's portfolio
    cid = _new(client)
    for q in ("bianchi", "BNCLRA85M41F205C", cust.code):
        page = client.get(f"/sales/contracts/{cid}/customer?q={q}").get_data(as_text=True)
        assert cust.code in page, q
    resp = _post_step(client, cid, "customer", {"mode": "existing", "customer_code": cust.code})
    assert resp.headers["Location"].endswith("/supply")
    contract = db.session.get(Contract, cid)
    assert contract.customer_id == cust.id and contract.data["customer"]["last_name"] == "Bianchi"


def wiz_agent(user):
    from app.services.sales.contracts import agent_of

    return agent_of(user)


def test_F11_pages_need_login_and_a_sales_role(client, make_user, db):
    resp = client.get("/sales/")
    assert resp.status_code == 302 and "/login/" in resp.headers["Location"]
