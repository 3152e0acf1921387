"""F-16: commissions from the rule table, reversal on early cancellation, statement, export."""
import datetime as dt
import io
from decimal import Decimal

import sqlalchemy as sa
from pypdf import PdfReader

from app.models import (Commission, CommissionRule, CommissionStatus as CS, CommissionTrigger as T,
                        ContractStatus as S, OutboxMessage, OutboxStatus, Service, UseType)
from app.roles import AGENT, BACK_OFFICE, MANAGER
from app.services.sales import commissions
from app.services.sales import contracts as wf
from app.services.sync.outbox import deliver_due
from tests.conftest import csrf_token
from tests.sales.helpers import agent_for, contract_in

TODAY = dt.date.today()
RULES = [  # service, use type (None = any), trigger, amount, clawback days
    (Service.GAS, UseType.DOMESTIC, T.ACTIVATION, "50.00", 90),
    (Service.GAS, None, T.INVOICEABLE, "20.00", 90),
    (Service.GAS, UseType.BUSINESS, T.ACTIVATION, "80.00", 90),
    (Service.ELECTRICITY, UseType.DOMESTIC, T.ACTIVATION, "40.00", 90),
    (Service.ELECTRICITY, None, T.INVOICEABLE, "15.00", 0),
]


def _rules(db):
    for service, use, trigger, amount, days in RULES:
        db.session.add(CommissionRule(service=service, use_type=use, trigger=trigger, amount=Decimal(amount),
                                      clawback_days=days, valid_from=TODAY - dt.timedelta(days=30)))
    # An expired rule must not count.
    db.session.add(CommissionRule(service=Service.WATER, use_type=None, trigger=T.ACTIVATION,
                                  amount=Decimal("999"), valid_from=TODAY - dt.timedelta(days=400),
                                  valid_to=TODAY - dt.timedelta(days=1)))
    db.session.commit()


def _scenario(db, make_user):
    """Two agents' contracts moved through the workflow; returns the agents."""
    _rules(db)
    bo, _ = make_user(BACK_OFFICE)
    ua, _ = make_user(AGENT)
    ub, _ = make_user(AGENT)
    a, b = agent_for(ua), agent_for(ub)

    def activated(agent, service, use):
        c = contract_in(S.APPROVED, agent, service=service, use_type=use)
        wf.transition(c, "activate", bo)
        return c

    def invoiceable(c):
        wf.transition(c, "export", None)
        wf.transition(c, "invoiceable", None)

    c1 = activated(a, Service.GAS, UseType.DOMESTIC)
    invoiceable(c1)
    activated(a, Service.GAS, UseType.BUSINESS)
    c3 = activated(a, Service.ELECTRICITY, UseType.DOMESTIC)
    wf.transition(c3, "cancel", bo, "Ripensamento del cliente")
    activated(a, Service.WATER, UseType.DOMESTIC)
    c5 = activated(b, Service.ELECTRICITY, UseType.BUSINESS)
    invoiceable(c5)
    return a, b


def test_F16_totals_equal_the_rule_table_applied_by_hand(db, make_user):
    a, b = _scenario(db, make_user)
    period = f"{TODAY:%Y-%m}"
    # By hand: A = gas dom. 50 + gas invoiceable 20 + gas business 80 + electricity dom. 40
    # reversed (cancelled within 90 days) + water 0 (rule expired) = 150; B = electricity
    # business: no activation rule, invoiceable 15 = 15.
    assert commissions.statement(a, period).total == Decimal("150.00")
    assert commissions.statement(b, period).total == Decimal("15.00")
    statuses = sorted((r.amount, r.status) for r in commissions.statement(a, period).rows)
    assert statuses == [(Decimal("20.00"), CS.EARNED), (Decimal("40.00"), CS.REVERSED),
                        (Decimal("50.00"), CS.EARNED), (Decimal("80.00"), CS.EARNED)]
    assert [(ag.code, t) for ag, t in commissions.totals_by_agent(period)] == \
        sorted([(a.code, Decimal("150.00")), (b.code, Decimal("15.00"))])


def test_F16_cancellation_after_export_claws_back_within_the_period(db, make_user, billing_sim):
    _rules(db)
    bo, _ = make_user(BACK_OFFICE)
    ua, _ = make_user(AGENT)
    a = agent_for(ua)
    c = contract_in(S.APPROVED, a, service=Service.GAS, use_type=UseType.DOMESTIC)
    wf.transition(c, "activate", bo)
    period = f"{TODAY:%Y-%m}"
    commissions.export_period(period)
    assert deliver_due()["delivered"] == 2  # the contract and the commission batch
    db.session.refresh(c)
    assert c.status == S.IN_BILLING
    wf.transition(c, "cancel", bo, "Recesso nei termini")
    rows = db.session.scalars(sa.select(Commission).where(Commission.contract_id == c.id)
                              .order_by(Commission.id)).all()
    assert [(r.amount, r.status) for r in rows] == [(Decimal("50.00"), CS.EXPORTED), (Decimal("-50.00"), CS.REVERSED)]
    assert commissions.statement(a, period).total == Decimal("0.00")
    # The claw-back line goes to billing with the next export.
    msg = commissions.export_period(period)
    assert [line["amount"] for line in msg.payload["lines"]] == ["-50.00"]


def test_F16_export_reaches_billing_exactly_once_and_reconciles_when_figures_agree(db, make_user, billing_sim):
    a, b = _scenario(db, make_user)
    period = f"{TODAY:%Y-%m}"
    msg = commissions.export_period(period)
    assert len(msg.payload["lines"]) == 4  # 50, 20, 80 (A) and 15 (B); the reversed 40 is not sent
    assert sum(Decimal(line["amount"]) for line in msg.payload["lines"]) == Decimal("165.00")
    assert commissions.export_period(period) is None  # nothing left: no second batch
    assert deliver_due()["delivered"] == 6  # five activated contracts and the batch
    assert deliver_due()["delivered"] == 0
    db.session.refresh(msg)
    batch = msg.result["batch"]
    assert batch.startswith("CB")
    rows = db.session.scalars(sa.select(Commission).where(Commission.status != CS.REVERSED)).all()
    # A batch number alone reconciles nothing: billing's figures must agree.
    assert {(r.status, r.billing_batch) for r in rows} == {(CS.EXPORTED, batch)}
    # A lost answer makes the outbox send again: billing applies the key once.
    msg.status = OutboxStatus.PENDING
    db.session.commit()
    assert deliver_due()["delivered"] == 1
    assert billing_sim.stats()["applied"].get("ExportCommissions") == 1
    recon = commissions.reconcile(period)
    assert not recon.differences and recon.ours == recon.theirs == Decimal("165.00")
    assert commissions.status_counts(period)["reconciled"] == {"count": 4, "total": Decimal("165.00")}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.operation == "export_commissions")) == 1


def test_F16_statement_page_and_pdf(client, login_as, db, make_user):
    _rules(db)
    bo, _ = make_user(BACK_OFFICE)
    user = login_as(AGENT)
    a = agent_for(user)
    c = contract_in(S.APPROVED, a, service=Service.GAS, use_type=UseType.BUSINESS)
    wf.transition(c, "activate", bo)
    period = f"{TODAY:%Y-%m}"
    html = client.get(f"/sales/commissions?period={period}").get_data(as_text=True)
    assert c.number in html and "80,00" in html
    pdf = client.get(f"/sales/commissions/statement.pdf?period={period}")
    assert pdf.status_code == 200
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "Estratto conto provvigioni" in text and c.number in text and "80,00" in text
    # Another agent's statement is not reachable by changing the URL.
    other_user, _ = make_user(AGENT)
    other = agent_for(other_user)
    html = client.get(f"/sales/commissions?period={period}&agent={other.id}").get_data(as_text=True)
    assert c.number in html  # still one's own statement


def test_F16_manager_overview_and_export_action(client, login_as, db, make_user, billing_sim):
    a, b = _scenario(db, make_user)
    period = f"{TODAY:%Y-%m}"
    login_as(MANAGER)
    html = client.get(f"/sales/commissions?period={period}").get_data(as_text=True)
    assert a.code in html and b.code in html and "<svg" in html
    page = client.get("/commissionview/list/").get_data(as_text=True)
    any_id = db.session.scalar(sa.select(Commission.id).limit(1))
    resp = client.post("/commissionview/action_post", data={"action": "export", "rowid": [str(any_id)],
                                                            "csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.operation == "export_commissions")) == 1


def test_F16_an_activation_after_midnight_in_italy_counts_on_italys_day_and_month(db, make_user):
    # 31 December 23:30 UTC is already 1 January 00:30 in Rome: the new year's rule applies and
    # the commission belongs to January, whatever zone the server's clock runs in.
    db.session.add_all([
        CommissionRule(service=Service.WATER, use_type=None, trigger=T.ACTIVATION, amount=Decimal("10.00"),
                       valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2026, 12, 31)),
        CommissionRule(service=Service.WATER, use_type=None, trigger=T.ACTIVATION, amount=Decimal("25.00"),
                       valid_from=dt.date(2027, 1, 1))])
    db.session.commit()
    ua, _ = make_user(AGENT)
    agent = agent_for(ua)
    contract = contract_in(S.ACTIVATED, agent, service=Service.WATER, use_type=UseType.DOMESTIC)
    row = commissions.earn(contract, "activation", dt.datetime(2026, 12, 31, 23, 30))
    assert (row.amount, row.period) == (Decimal("25.00"), "2027-01")
    summer = contract_in(S.ACTIVATED, agent, service=Service.WATER, use_type=UseType.DOMESTIC)
    # 30 June 22:30 UTC is 1 July 00:30 in Rome (summer time, two hours ahead).
    assert commissions.earn(summer, "activation", dt.datetime(2026, 6, 30, 22, 30)).period == "2026-07"
