"""Builders for sales-network tests: agents, wizard data, contracts in a given state."""
from __future__ import annotations

import itertools

from app.extensions import db
from app.models import (Agent, Contract, ContractStatus, PaymentMethod, Service, UseType)
from app.services.sales import wizard as wiz

_seq = itertools.count(1)

TAX_CODE = "RSSMRA80A01H501U"
VAT = "02114560010"
IBAN = "IT60X0542811101000000123456"


def agent_for(user, code: str | None = None) -> Agent:
    n = next(_seq)
    agent = Agent(code=code or f"AG{n:04d}", name=f"Agente {n}", user_id=user.id, email=f"ag{n}@example.com")
    db.session.add(agent)
    db.session.commit()
    return agent


def customer_step(**kw) -> dict:
    values = {"mode": "new", "customer_code": "", "kind": "person", "last_name": "Verdi", "first_name": "Giuseppe",
              "company_name": "", "tax_code": TAX_CODE, "vat_number": "", "birth_date": "1980-01-01",
              "address": "Via Roma 1", "post_code": "00100", "city": "Roma", "province": "RM",
              "phone": "0612345678", "email": "giuseppe@example.com", "language": "it"}
    values.update(kw)
    return values


def supply_step(**kw) -> dict:
    n = next(_seq)
    values = {"service": "gas", "pdr": f"{88000000000000 + n:014d}", "pod": "", "address": "Via Verdi 2",
              "post_code": "00100", "city": "Roma", "province": "RM", "use_type": "domestic",
              "gas_use_category": "C1", "withdrawal_class": "1", "electricity_use": "", "voltage": "",
              "committed_power": "", "tariff_option": "Gas Casa Fisso", "annual_consumption": 1200,
              "previous_supplier": "Vecchio Gas SpA"}
    if kw.get("service") == "electricity":  # an electricity supply's own fields instead of gas's
        values.update(gas_use_category="", withdrawal_class="", electricity_use="domestic_resident",
                      voltage="230", committed_power="3,0")
    values.update(kw)
    return values


def payment_step(**kw) -> dict:
    values = {"method": "sdd", "iban": IBAN, "holder": "Giuseppe Verdi"}
    values.update(kw)
    return values


def mailing_step(**kw) -> dict:
    values = {"same_as_supply": True, "name": "", "address": "", "post_code": "", "city": "", "province": ""}
    values.update(kw)
    return values


def entered_contract(user, *, submit: bool = True, **steps) -> Contract:
    """A contract entered through the wizard service (documents built when submitted)."""
    contract = wiz.new_draft(user)
    for name, builder in (("customer", customer_step), ("supply", supply_step),
                          ("payment", payment_step), ("mailing", mailing_step)):
        wiz.save_step(contract, name, steps.get(name) or builder(), user)
    if submit:
        wiz.finish(contract, user)
    return contract


def contract_in(status: ContractStatus, agent: Agent | None = None, **kw) -> Contract:
    """A contract row directly in `status` (no documents): for workflow tests."""
    n = next(_seq)
    supply = supply_step()
    values = dict(number=f"CTT-{n:06d}", status=status, agent_id=agent.id if agent else None,
                  data={"customer": customer_step(), "supply": supply, "payment": payment_step(),
                        "mailing": mailing_step(), "done": ["customer", "supply", "payment", "mailing"]},
                  service=Service.GAS, use_type=UseType.DOMESTIC, pdr=supply["pdr"],
                  payment_method=PaymentMethod.SDD, language="it")
    values.update(kw)
    contract = Contract(**values)
    db.session.add(contract)
    db.session.commit()
    return contract
