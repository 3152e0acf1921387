"""F-16: the reconciliation of a period with what billing (the simulator, over SOAP) reports,
per agent and contract, with a difference planted in billing; the page, the CSV, the menu."""
import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.models import Commission, CommissionStatus as CS, ContractStatus as S, Service, UseType
from app.roles import AGENT, BACK_OFFICE, MANAGER
from app.services.sales import commissions
from app.services.sales import contracts as wf
from app.services.sync.outbox import deliver_due
from tests.security.fixtures_auth import staff_logout
from tests.conftest import csrf_token
from tests.sales.helpers import agent_for, contract_in

PERIOD = f"{dt.date.today():%Y-%m}"


def _exported(db, make_user):
    """Agent A: gas domestic (50 + 20 invoiceable) and gas business (80); agent B (a name that
    looks like a formula): electricity domestic (40). All exported to billing in one batch."""
    commissions.seed_demo_rules(dt.date.today() - dt.timedelta(days=30))
    bo, _ = make_user(BACK_OFFICE)
    ua, _ = make_user(AGENT)
    ub, _ = make_user(AGENT)
    a, b = agent_for(ua), agent_for(ub)
    b.name = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    made = {}
    for key, agent, service, use in (("a1", a, Service.GAS, UseType.DOMESTIC), ("a2", a, Service.GAS, UseType.BUSINESS),
                                     ("b1", b, Service.ELECTRICITY, UseType.DOMESTIC)):
        c = contract_in(S.APPROVED, agent, service=service, use_type=use)
        wf.transition(c, "activate", bo)
        made[key] = c
    wf.transition(made["a1"], "export", None)
    wf.transition(made["a1"], "invoiceable", None)
    assert commissions.export_period(PERIOD) is not None
    deliver_due()
    return a, b, made


@pytest.mark.parametrize("sim_fixture", ["billing_sim", pytest.param("billing_sim_sap", marks=pytest.mark.one_pass)])
def test_F16_reconciliation_totals_match_a_hand_computation_with_one_planted_difference(db, make_user, request,
                                                                                       sim_fixture):
    """The same reconciliation on Dynamics NAV and on SAP IS-U (each adapter reads billing's lines)."""
    billing_sim = request.getfixturevalue(sim_fixture)
    a, b, made = _exported(db, make_user)
    # Billing now says 35.00 for B's contract instead of 40.00.
    assert billing_sim.control("commission", contract=made["b1"].number, amount="35.00")["ok"]
    recon = commissions.reconcile(PERIOD)
    # By hand: ours = 50 + 20 + 80 + 40 = 190; billing = 50 + 20 + 80 + 35 = 185; difference -5.
    assert recon.ours == Decimal("190.00") and recon.theirs == Decimal("185.00")
    assert recon.difference == Decimal("-5.00")
    [bad] = recon.differences
    assert (bad.agent_code, bad.contract_number, bad.ours, bad.theirs) == (b.code, made["b1"].number,
                                                                           Decimal("40.00"), Decimal("35.00"))
    assert [(code, ours, theirs, n) for code, _name, ours, theirs, n in recon.by_agent()] == sorted([
        (a.code, Decimal("150.00"), Decimal("150.00"), 0), (b.code, Decimal("40.00"), Decimal("35.00"), 1)])
    status = {r.contract_id: r.status for r in db.session.scalars(sa.select(Commission))}
    assert status[made["a1"].id] == status[made["a2"].id] == CS.RECONCILED
    assert status[made["b1"].id] == CS.EXPORTED  # differs: stays open
    # Billing corrects its figure: the next reconciliation closes it; a later change reopens it.
    billing_sim.control("commission", contract=made["b1"].number, amount="40.00")
    assert not commissions.reconcile(PERIOD).differences
    assert db.session.scalar(sa.select(Commission.status).where(Commission.contract_id == made["b1"].id)) == CS.RECONCILED
    billing_sim.control("commission", contract=made["a2"].number, amount="1.00")
    commissions.reconcile(PERIOD)
    assert db.session.scalar(sa.select(Commission.status).where(Commission.contract_id == made["a2"].id)) == CS.EXPORTED


def test_F16_reconciliation_page_csv_and_menu_for_the_manager_only(client, login_as, db, make_user, billing_sim):
    a, b, made = _exported(db, make_user)
    billing_sim.control("commission", contract=made["b1"].number, amount="35.00")
    login_as(MANAGER)
    start = client.get("/sales/").get_data(as_text=True)
    assert "/sales/commissions/reconciliation" in start
    page = client.get(f"/sales/commissions/reconciliation?period={PERIOD}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1 contratto non coincide con la fatturazione." in html and "Non coincide" in html
    assert "190,00" in html and "185,00" in html and "-5,00" in html
    resp = client.post(f"/sales/commissions/reconciliation?period={PERIOD}", follow_redirects=True,
                       data={"csrf_token": csrf_token(html)})
    assert "2 contratti coincidono" in resp.get_data(as_text=True)
    exported = client.get(f"/sales/commissions/reconciliation.csv?period={PERIOD}")
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    by_contract = {r[3]: r for r in rows[1:]}
    assert by_contract[made["b1"].number][4:8] == ["40,00", "35,00", "-5,00", "no"]
    assert by_contract[made["b1"].number][2].startswith("'=")  # no formula reaches a spreadsheet
    assert by_contract["total"][4:7] == ["190,00", "185,00", "-5,00"]
    staff_logout(client)
    agent_for(login_as(AGENT))
    assert client.get(f"/sales/commissions/reconciliation?period={PERIOD}").status_code == 403
    assert "/sales/commissions/reconciliation" not in client.get("/sales/").get_data(as_text=True)
