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
    # The alignment that brought the supply point linked the contract (sales' alignment hook).
    db.session.refresh(contract)
    assert contract.status == S.IN_BILLING and contract.supply_point_id == sp.id
    assert contract.customer_id == customer.id
    assert wf.check_invoiceable() == {"linked": 0, "invoiceable": 0}

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


def _dual_fuel(agent_user):
    """Gas for a new customer, then electricity for the same customer found by the search."""
    from app.services.sales import wizard as wiz

    gas = entered_contract(agent_user, customer=customer_step(last_name="Riva", first_name="Carla",
                                                              tax_code="BNCLRA85M41F205C"),
                           supply=supply_step(pdr="97" + uuid.uuid4().int.__str__()[:12]))
    [match] = wiz.search_customers(agent_user, "BNCLRA85M41F205C")
    assert (match.kind, match.code) == ("contract", gas.number)
    shared = wiz.attach_values(agent_user, contract_id=match.ref)
    power = entered_contract(agent_user, customer=shared, supply=supply_step(
        service="electricity", pdr="", pod="IT012E" + uuid.uuid4().int.__str__()[:8],
        tariff_option="Luce Casa Monoraria"))
    assert power.customer_contract_id == gas.id
    return gas, power


def _billing_customers(billing_sim, tax_code):
    import sqlite3

    with sqlite3.connect(billing_sim.db_path) as conn:
        return [r[0] for r in conn.execute("SELECT No FROM customer WHERE Tax_Code = ?", (tax_code,))]


def test_F11_dual_fuel_creates_one_customer_in_billing(billing_sim, db, make_user):
    from app.services.sales import portfolio

    assert align(full=True).status == "ok"
    agent_user, _ = make_user(AGENT)
    agent_for(agent_user)
    gas, power = _dual_fuel(agent_user)
    # The second contract is activated first: it waits for billing to create the customer.
    _to_activated(power, make_user)
    assert deliver_due()["delivered"] == 0
    _to_activated(gas, make_user)
    assert deliver_due()["delivered"] == 2  # the first brings the customer, the second then follows
    db.session.expire_all()
    gas, power = db.session.get(Contract, gas.id), db.session.get(Contract, power.id)
    assert gas.status == power.status == S.IN_BILLING
    code = gas.data["billing"]["customer_code"]
    assert code and power.data["billing"]["customer_code"] == code
    assert _billing_customers(billing_sim, "BNCLRA85M41F205C") == [code]
    assert billing_sim.stats()["applied"].get("CreateContract") == 2
    # After alignment the agent's portfolio shows one customer with two supply points.
    assert align().status == "ok"  # the alignment links both contracts to their customer
    db.session.expire_all()
    assert all(db.session.get(Contract, c.id).customer_id for c in (gas, power))
    customers = portfolio.customers(agent_user)
    assert [c.code for c in customers] == [code]
    points = portfolio.supply_points(agent_user)
    assert sorted(sp.service.value for sp in points) == ["electricity", "gas"]
    assert {sp.customer_id for sp in points} == {customers[0].id}


def _timeline_rows(page: str) -> list[tuple[str, str]]:
    """(kind, the row's text) of each row of the timeline page, top to bottom."""
    import html
    import re

    return [(kind, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cells)).split()))
            for kind, cells in re.findall(r'<tr class="timeline-(\w+)">(.*?)</tr>', page, re.S)]


def test_F11_dual_fuel_timeline_shows_both_supply_points_with_their_own_items(billing_sim, client, login_as,
                                                                            db, make_user):
    from app.roles import CALL_CENTER
    from tests import factories

    assert align(full=True).status == "ok"
    agent_user, _ = make_user(AGENT)
    agent_for(agent_user)
    gas, power = _dual_fuel(agent_user)
    _to_activated(gas, make_user)
    _to_activated(power, make_user)
    assert deliver_due()["delivered"] == 2
    assert align().status == "ok"
    db.session.expire_all()
    gas, power = db.session.get(Contract, gas.id), db.session.get(Contract, power.id)
    gas_point, power_point = gas.supply_point, power.supply_point
    assert gas_point.pdr == gas.pdr and power_point.pod == power.pod
    assert gas.customer_id == power.customer_id == gas_point.customer_id == power_point.customer_id
    factories.reading(gas_point, factories.meter(gas_point), value=812, billing_entry_no=990_000_001)
    factories.reading(power_point, factories.meter(power_point), value=645, billing_entry_no=990_000_002)
    db.session.commit()

    login_as(CALL_CENTER)
    resp = client.get(f"/timeline/{gas.customer_id}")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Riva Carla" in page or "Carla Riva" in page
    rows = _timeline_rows(page)

    def of(kind, *words):
        return [text for k, text in rows if k == kind and all(w in text for w in words)]

    # two supply points, each under its own service and code
    assert len([k for k, _ in rows if k == "supply_point"]) == 2
    assert len(of("supply_point", "Gas metano", gas.pdr)) == 1
    assert len(of("supply_point", "Energia elettrica", power.pod)) == 1
    # each contract and each reading names its own supply point, never the other one
    [gas_contract] = of("contract", gas.number)
    [power_contract] = of("contract", power.number)
    assert "Gas metano" in gas_contract and gas.pdr in gas_contract and power.pod not in gas_contract
    assert "Energia elettrica" in power_contract and power.pod in power_contract and gas.pdr not in power_contract
    # by the value as the row shows it: a random PDR or POD may hold the same digits
    [gas_reading] = of("reading", "Lettura 812 ")
    [power_reading] = of("reading", "Lettura 645 ")
    assert gas.pdr in gas_reading and power.pod not in gas_reading
    assert power.pod in power_reading and gas.pdr not in power_reading
    assert len([k for k, _ in rows if k in ("contract", "reading")]) == 4


def test_F11_dual_fuel_second_contract_uses_the_billing_customer_already_there(billing_sim, db, make_user):
    assert align(full=True).status == "ok"
    agent_user, _ = make_user(AGENT)
    agent_for(agent_user)
    gas, power = _dual_fuel(agent_user)
    _to_activated(gas, make_user)
    assert deliver_due()["delivered"] == 1
    _to_activated(power, make_user)
    assert wf.export_payload(power)["customer_code"] == gas.data["billing"]["customer_code"]
    assert deliver_due()["delivered"] == 1
    assert len(_billing_customers(billing_sim, "BNCLRA85M41F205C")) == 1


def test_F11_dual_fuel_first_contract_rejected_the_second_brings_the_customer(billing_sim, db, make_user):
    assert align(full=True).status == "ok"
    agent_user, _ = make_user(AGENT)
    agent_for(agent_user)
    gas, power = _dual_fuel(agent_user)
    _to_activated(power, make_user)
    back_office, _ = make_user(BACK_OFFICE)
    wf.transition(gas, "reject", back_office, "Documenti incompleti")
    assert deliver_due()["delivered"] == 1
    db.session.expire_all()
    power = db.session.get(Contract, power.id)
    assert power.status == S.IN_BILLING and power.customer_contract_id is None
    assert _billing_customers(billing_sim, "BNCLRA85M41F205C") == [power.data["billing"]["customer_code"]]


def test_F15_alignment_links_the_contract_and_the_agent_sees_the_customer_in_the_same_run(
        app, billing_sim, db, make_user):
    from app.services.sales import portfolio

    assert align(full=True).status == "ok"
    agent_user, _ = make_user(AGENT)
    agent_for(agent_user)
    contract = entered_contract(agent_user, customer=customer_step(last_name="Gialli", first_name="Marta",
                                                                   tax_code="GLLMRT80A41H501X"))
    _to_activated(contract, make_user)
    assert deliver_due()["delivered"] == 1
    assert portfolio.customers(agent_user) == []
    assert align().status == "ok"  # no contracts job in between
    db.session.expire_all()
    contract = db.session.get(Contract, contract.id)
    assert contract.customer_id is not None and contract.supply_point_id is not None
    assert [c.last_name for c in portfolio.customers(agent_user)] == ["Gialli"]
    # Billing reports the supply point active: the next alignment alone makes the contract invoiceable.
    gateway().mark_invoiceable(f"distributor-{uuid.uuid4().hex}", contract.data["billing"]["supply_point_code"])
    assert align().status == "ok"
    db.session.expire_all()
    assert db.session.get(Contract, contract.id).status == S.INVOICEABLE
