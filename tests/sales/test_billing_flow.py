"""F-13 with the billing simulator: activation creates reservation, customer and a
non-invoiceable supply point; the distributor's data and an alignment make it invoiceable."""
import uuid

import sqlalchemy as sa

from app.jobs import run_job
from app.models import Contract, ContractStatus as S, Customer, SupplyPoint, SupplyStatus
from app.roles import AGENT, BACK_OFFICE, CREDIT_CHECK
from app.services.sales import contracts as wf
from app.services.sync.alignment import align
from app.services.sync.gateway import gateway
from app.services.sync.outbox import deliver_due
from tests.sales.helpers import agent_for, customer_step, entered_contract, supply_step


def _to_activated(contract, make_user):
    back_office, _ = make_user(BACK_OFFICE)
    credit, _ = make_user(CREDIT_CHECK)
    wf.transition(contract, "validate", back_office)
    wf.transition(contract, "approve", credit)
    wf.transition(contract, "activate", back_office)
    assert contract.status == S.ACTIVATED


def test_F13_activated_contract_reaches_billing_and_becomes_invoiceable(app, billing_sim, db, make_user):
    assert align(full=True).status == "ok"
    agent_user, _ = make_user(AGENT)
    agent_for(agent_user)
    pdr = "99" + uuid.uuid4().int.__str__()[:12]
    contract = entered_contract(agent_user, customer=customer_step(last_name="Neri", first_name="Lucia",
                                                                   tax_code="BNCLRA85M41F205C"),
                                supply=supply_step(pdr=pdr, tariff_option="Gas Casa Variabile"))
    _to_activated(contract, make_user)

    assert deliver_due()["delivered"] == 1
    db.session.refresh(contract)
    assert contract.status == S.IN_BILLING
    assert contract.reservation_number.startswith("PR")
    sp_code = contract.data["billing"]["supply_point_code"]
    assert billing_sim.stats()["applied"].get("CreateContract") == 1

    assert align().status == "ok"
    sp = db.session.scalar(sa.select(SupplyPoint).where(SupplyPoint.code == sp_code))
    assert sp is not None and sp.pdr == pdr and sp.status == SupplyStatus.NOT_INVOICEABLE
    assert sp.tariff_option == "Gas Casa Variabile"
    customer = db.session.get(Customer, sp.customer_id)
    assert customer.last_name == "Neri" and customer.code == contract.data["billing"]["customer_code"]
    assert wf.check_invoiceable() == {"linked": 1, "invoiceable": 0}
    db.session.refresh(contract)
    assert contract.status == S.IN_BILLING and contract.supply_point_id == sp.id

    # The distributor's technical data arrive in billing; the next alignment brings them here.
    gateway().mark_invoiceable(f"distributor-{uuid.uuid4().hex}", sp_code)
    assert align().status == "ok"
    assert run_job(app, "contracts") == "ok"
    db.session.expire_all()
    contract = db.session.get(Contract, contract.id)
    assert contract.status == S.INVOICEABLE and contract.invoiceable_at is not None
    assert [h.action for h in contract.history][-3:] == ["activate", "export", "invoiceable"]
    assert billing_sim.stats()["applied"].get("CreateContract") == 1


def test_F13_contract_for_an_existing_customer_adds_a_supply_point(billing_sim, db, make_user):
    assert align(full=True).status == "ok"
    existing = db.session.scalars(sa.select(Customer).order_by(Customer.code)).first()
    before = len(existing.supply_points)
    agent_user, _ = make_user(AGENT)
    agent_for(agent_user)
    contract = entered_contract(agent_user, customer={**customer_step(), "mode": "existing",
                                                      "customer_id": existing.id, "customer_code": existing.code},
                                supply=supply_step(service="electricity", pdr="", pod="IT012E" + uuid.uuid4().int.__str__()[:8],
                                                   tariff_option="Luce Casa Monoraria"))
    _to_activated(contract, make_user)
    assert deliver_due()["delivered"] == 1
    db.session.refresh(contract)
    assert contract.status == S.IN_BILLING and contract.data["billing"]["customer_code"] == existing.code
    assert align().status == "ok"
    db.session.expire_all()
    assert len(db.session.get(Customer, existing.id).supply_points) == before + 1


def test_F13_export_payload_carries_the_wizard_data(db, make_user):
    from tests.sales.helpers import mailing_step

    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user, mailing=mailing_step(same_as_supply=False, name="Studio Rossi",
                                                           address="Via Po 3", post_code="10100",
                                                           city="Torino", province="TO"))
    payload = wf.export_payload(contract)
    assert payload["customer_code"] == "" and payload["customer"]["tax_code"] == "RSSMRA80A01H501U"
    assert payload["pdr"] == contract.pdr and payload["payment_method"] == "sdd" and payload["iban"]
    assert payload["mailing"]["city"] == "Torino"
    contract2 = entered_contract(user)
    assert "mailing" not in wf.export_payload(contract2)


def test_F13_new_customer_is_created_in_billing_in_their_language(billing_sim, db, make_user):
    import sqlite3

    agent_user, _ = make_user(AGENT)
    agent_for(agent_user)
    pdr = "98" + uuid.uuid4().int.__str__()[:12]
    contract = entered_contract(agent_user, customer=customer_step(
        last_name="Smith", first_name="Jane", tax_code="SMTJNA80A41Z114V", language="en"),
        supply=supply_step(pdr=pdr))
    _to_activated(contract, make_user)
    assert deliver_due()["delivered"] == 1
    db.session.refresh(contract)
    code = contract.data["billing"]["customer_code"]
    with sqlite3.connect(billing_sim.db_path) as conn:
        assert conn.execute("SELECT Language_Code FROM customer WHERE No = ?", (code,)).fetchone() == ("ENU",)
