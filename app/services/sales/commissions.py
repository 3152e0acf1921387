"""Agent commissions (F-16): earned by rule, reversed on early cancellation, stated, exported.

A rule says how much a contract of a service (and optionally a use type) earns, on activation
and/or on invoiceable status, and within how many days a cancellation takes it back. Earned
commissions belong to the month they were earned in (period YYYY-MM). A statement lists an
agent's commissions of a period (table and PDF). The export sends a period's earned lines to
billing through the outbox (one idempotency key per batch); billing answers with its batch
number, stored on each line (exported). The reconciliation of a period reads back what billing
holds (Navision's commission lines) and sets side by side, per agent and contract, what we
computed and what billing reports; a line is *reconciled* only when the two figures agree, and
goes back to exported if billing's figure changes later. An agent reads their own statements;
whoever holds `can_see_all` on the pseudo-view `CommissionStatement` reads every agent's, the
overview and the reconciliation.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import force_locale

from app.clock import local_date, local_today
from app.extensions import db
from app.models import (Agent, Commission, CommissionRule, CommissionStatus, CommissionTrigger,
                        Contract, OutboxMessage, Service, UseType)
from app.models.base import utcnow
from app.permissions import has_permission
from app.roles import BACK_OFFICE, CREDIT_CHECK, MANAGER
from app.services.core.pdf import render_pdf
from app.services.sales.documents import render_document
from app.services.sync.outbox import after_delivery, enqueue
from app.services.core.unit_of_work import transactional

CS = CommissionStatus
COUNTED = (CS.EARNED, CS.EXPORTED, CS.RECONCILED)
SENT = "sent"  # billing_batch of a line on its way to billing

STATEMENTS = "CommissionStatement"
SEE_ALL = "can_see_all"  # every agent's statements and the totals per agent
RECONCILE = "can_reconcile"  # compare a period with billing and record the outcome
ROLE_GRANTS = {role: {STATEMENTS: (SEE_ALL,)} for role in (MANAGER, BACK_OFFICE, CREDIT_CHECK)}
ROLE_GRANTS[MANAGER][STATEMENTS] = (SEE_ALL, RECONCILE)


def sees_every_agent(user) -> bool:
    """True when `user` may read every agent's statements, not only their own."""
    return has_permission(user, SEE_ALL, STATEMENTS)


def may_reconcile(user) -> bool:
    """True when `user` may see and record the reconciliation with billing."""
    return has_permission(user, RECONCILE, STATEMENTS)


def counted(row: Commission) -> bool:
    """Earned lines count; a reversed line counts only as a claw-back (negative) line."""
    return row.status in COUNTED or (row.status == CS.REVERSED and row.amount < 0)


def _counted_clause():
    return sa.or_(Commission.status.in_(COUNTED),
                  sa.and_(Commission.status == CS.REVERSED, Commission.amount < 0))


def period_of(when: dt.date | dt.datetime) -> str:
    """The month an event belongs to, as `YYYY-MM`: a stored time counts in Italy's calendar."""
    if isinstance(when, dt.datetime):
        when = local_date(when)
    return f"{when.year:04d}-{when.month:02d}"


def rule_for(contract: Contract, trigger: CommissionTrigger, on: dt.date) -> CommissionRule | None:
    """The rule for the contract's service and use type (an exact use type beats 'any')."""
    if contract.service is None:
        return None
    candidates = db.session.scalars(sa.select(CommissionRule).where(
        CommissionRule.service == contract.service, CommissionRule.trigger == trigger,
        CommissionRule.valid_from <= on,
        sa.or_(CommissionRule.valid_to.is_(None), CommissionRule.valid_to >= on),
        sa.or_(CommissionRule.use_type.is_(None), CommissionRule.use_type == contract.use_type),
    ).order_by(CommissionRule.use_type.is_(None), CommissionRule.valid_from.desc())).all()
    return candidates[0] if candidates else None


def earn(contract: Contract, trigger: str | CommissionTrigger, when: dt.datetime) -> Commission | None:
    """Record the commission a rule gives for this event, once per contract and trigger."""
    trigger = CommissionTrigger(trigger)
    if contract.agent_id is None:
        return None
    rule = rule_for(contract, trigger, local_date(when))
    if rule is None:
        return None
    exists = db.session.scalar(sa.select(sa.func.count()).select_from(Commission).where(
        Commission.contract_id == contract.id, Commission.trigger == trigger))
    if exists:
        return None
    row = Commission(agent_id=contract.agent_id, contract_id=contract.id, rule_id=rule.id,
                     trigger=trigger, status=CS.EARNED, period=period_of(when), amount=rule.amount,
                     created_at=when)
    db.session.add(row)
    return row


def reverse(contract: Contract, when: dt.datetime) -> list[Commission]:
    """A cancelled contract gives back what it earned within each rule's clawback days."""
    out = []
    rows = db.session.scalars(sa.select(Commission).where(Commission.contract_id == contract.id)).all()
    taken_back = {r.trigger for r in rows if r.amount < 0}
    for row in rows:
        if row.amount <= 0 or row.trigger in taken_back:
            continue
        rule = db.session.get(CommissionRule, row.rule_id) if row.rule_id else None
        days = rule.clawback_days if rule else 0
        if (when - row.created_at).days > days:
            continue
        if row.status == CS.EARNED:
            row.status = CS.REVERSED  # never left us: simply not paid
            out.append(row)
        elif row.status in (CS.EXPORTED, CS.RECONCILED):
            # Already paid out: a negative line (status reversed) takes it back in the
            # cancellation's period and goes to billing with the next export.
            back = Commission(agent_id=row.agent_id, contract_id=row.contract_id, rule_id=row.rule_id,
                              trigger=row.trigger, status=CS.REVERSED, period=period_of(when),
                              amount=-row.amount, created_at=when)
            db.session.add(back)
            out.append(back)
    return out


@dataclass
class Statement:
    agent: Agent
    period: str
    rows: list[Commission] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((r.amount for r in self.rows if counted(r)), Decimal("0"))


def statement(agent: Agent, period: str) -> Statement:
    """An agent's commissions of one period (reversed ones listed, not counted)."""
    rows = db.session.scalars(sa.select(Commission).where(
        Commission.agent_id == agent.id, Commission.period == period)
        .order_by(Commission.created_at, Commission.id)).all()
    return Statement(agent, period, list(rows))


def periods(agent: Agent | None = None) -> list[str]:
    stmt = sa.select(Commission.period).distinct().order_by(Commission.period.desc())
    if agent is not None:
        stmt = stmt.where(Commission.agent_id == agent.id)
    return list(db.session.scalars(stmt))


def totals_by_agent(period: str) -> list[tuple[Agent, Decimal]]:
    """Each agent's total for a period (managers' overview)."""
    rows = db.session.execute(sa.select(Commission.agent_id, sa.func.sum(Commission.amount)).where(
        Commission.period == period, _counted_clause()).group_by(Commission.agent_id)).all()
    agents = {a.id: a for a in db.session.scalars(sa.select(Agent).where(Agent.id.in_([r[0] for r in rows])))}
    return sorted(((agents[a], Decimal(t or 0)) for a, t in rows), key=lambda x: x[0].code)


def statement_pdf(stmt: Statement, language: str = "it") -> bytes:
    """The statement as a PDF (xhtml2pdf), in the agent's language."""
    with force_locale(language if language in ("it", "en") else "it"):
        html = render_document("pdf/commissions.html", statement=stmt, generated=utcnow())
    return render_pdf(html, "commission statement")


# The demo's commission table: service, use type (None: any), event, amount in euros, claw-back days.
DEMO_RULES = [
    (Service.GAS, UseType.DOMESTIC, CommissionTrigger.ACTIVATION, "50.00", 90),
    (Service.GAS, UseType.BUSINESS, CommissionTrigger.ACTIVATION, "80.00", 90),
    (Service.GAS, None, CommissionTrigger.INVOICEABLE, "20.00", 90),
    (Service.ELECTRICITY, UseType.DOMESTIC, CommissionTrigger.ACTIVATION, "40.00", 90),
    (Service.ELECTRICITY, UseType.BUSINESS, CommissionTrigger.ACTIVATION, "70.00", 90),
    (Service.ELECTRICITY, None, CommissionTrigger.INVOICEABLE, "15.00", 90),
    (Service.TELECOM, None, CommissionTrigger.ACTIVATION, "25.00", 30),
]


@transactional
def seed_demo_rules(valid_from: dt.date | None = None) -> int:
    """Add the demo commission rules when there are none at all; returns how many were added."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(CommissionRule)):
        return 0
    start = valid_from or local_today().replace(month=1, day=1)
    for service, use_type, trigger, amount, days in DEMO_RULES:
        db.session.add(CommissionRule(service=service, use_type=use_type, trigger=trigger, amount=Decimal(amount),
                                      clawback_days=days, valid_from=start))
    db.session.flush()
    return len(DEMO_RULES)


@transactional
def export_period(period: str, actor=None) -> OutboxMessage | None:
    """Send the period's earned commissions to billing (one outbox row); None if nothing to send."""
    rows = db.session.scalars(sa.select(Commission).where(
        Commission.period == period, sa.or_(
            Commission.status == CS.EARNED,
            sa.and_(Commission.status == CS.REVERSED, Commission.amount < 0, Commission.billing_batch == "")))
        .order_by(Commission.id).with_for_update()).all()
    if not rows:
        return None
    lines = []
    for row in rows:
        reason = f"{row.trigger.value}{' reversal' if row.amount < 0 else ''}"
        lines.append({"agent_code": row.agent.code, "contract_number": row.contract.number,
                      "period": period, "amount": str(row.amount), "reason": reason})
        if row.status == CS.EARNED:
            row.status = CS.EXPORTED
        row.billing_batch = SENT
    key = f"commissions-{period}-{uuid.uuid4().hex[:12]}"
    msg = enqueue("export_commissions", {"lines": lines, "commission_ids": [r.id for r in rows]}, key=key)
    from app.services.core.audit import record

    record("commission_export", period, "export", {"lines": [None, len(lines)]}, actor)
    return msg


@after_delivery("export_commissions")
def _batch_accepted(msg: OutboxMessage) -> None:
    """Billing accepted the batch: each exported line carries billing's batch number (whether
    billing's figures agree is the reconciliation's business)."""
    batch = str((msg.result or {}).get("batch", ""))[:30]
    ids = msg.payload.get("commission_ids") or []
    if not ids:
        return
    db.session.execute(sa.update(Commission).where(
        Commission.id.in_(ids), Commission.billing_batch == SENT).values(billing_batch=batch))


def status_counts(period: str) -> dict:
    """How many lines of a period are in each state, and their total."""
    out = {}
    for status in (CS.EARNED, CS.EXPORTED, CS.RECONCILED, CS.REVERSED):
        count, total = db.session.execute(sa.select(sa.func.count(), sa.func.sum(Commission.amount)).where(
            Commission.period == period, Commission.status == status)).one()
        out[status.value] = {"count": count, "total": Decimal(total or 0)}
    return out


# --- reconciliation with billing ----------------------------------------------------------------

@dataclass
class ReconLine:
    """One agent's contract in a period: our figure against billing's."""

    agent_code: str
    agent_name: str
    contract_number: str
    ours: Decimal
    theirs: Decimal | None  # None: billing has no line for it
    batches: tuple[str, ...] = ()

    @property
    def difference(self) -> Decimal:
        return (self.theirs or Decimal("0")) - self.ours

    @property
    def agrees(self) -> bool:
        return self.theirs is not None and self.theirs == self.ours


@dataclass
class Reconciliation:
    period: str
    lines: list[ReconLine]

    @property
    def ours(self) -> Decimal:
        return sum((ln.ours for ln in self.lines), Decimal("0"))

    @property
    def theirs(self) -> Decimal:
        return sum((ln.theirs or Decimal("0") for ln in self.lines), Decimal("0"))

    @property
    def difference(self) -> Decimal:
        return self.theirs - self.ours

    @property
    def differences(self) -> list[ReconLine]:
        return [ln for ln in self.lines if not ln.agrees]

    def by_agent(self) -> list[tuple[str, str, Decimal, Decimal, int]]:
        """(agent code, name, ours, theirs, lines that differ) per agent."""
        out: dict[str, list] = {}
        for ln in self.lines:
            row = out.setdefault(ln.agent_code, [ln.agent_code, ln.agent_name, Decimal("0"), Decimal("0"), 0])
            row[2] += ln.ours
            row[3] += ln.theirs or Decimal("0")
            row[4] += 0 if ln.agrees else 1
        return [tuple(r) for _code, r in sorted(out.items())]


def compare(period: str, gw=None) -> Reconciliation:
    """Our counted commissions of `period` against the lines billing holds, per agent and
    contract (raises BillingError when billing does not answer)."""
    from app.services.sync.gateway import gateway

    billing = (gw or gateway()).commission_lines(period)
    theirs: dict[tuple[str, str], Decimal] = {}
    batches: dict[tuple[str, str], set] = {}
    for line in billing:
        key = (line.agent_code, line.contract_number)
        theirs[key] = theirs.get(key, Decimal("0")) + Decimal(line.amount)
        batches.setdefault(key, set()).add(line.batch)
    rows = db.session.execute(
        sa.select(Agent.code, Agent.name, Contract.number, sa.func.sum(Commission.amount))
        .join(Agent, Agent.id == Commission.agent_id).join(Contract, Contract.id == Commission.contract_id)
        .where(Commission.period == period, _counted_clause())
        .group_by(Agent.code, Agent.name, Contract.number)).all()
    names = {code: name for code, name, _n, _t in rows}
    ours = {(code, number): Decimal(total or 0) for code, _name, number, total in rows}
    if theirs:
        names.update({a.code: a.name for a in db.session.scalars(
            sa.select(Agent).where(Agent.code.in_({k[0] for k in theirs} - set(names))))})
    lines = [ReconLine(code, names.get(code, ""), number, ours.get((code, number), Decimal("0")),
                       theirs.get((code, number)), tuple(sorted(batches.get((code, number), ()))))
             for code, number in sorted(set(ours) | set(theirs))]
    return Reconciliation(period, lines)


@transactional
def reconcile(period: str, actor=None, gw=None) -> Reconciliation:
    """Compare with billing and record the outcome: the exported lines of each agent's contract
    whose figures agree become reconciled; reconciled lines whose figures no longer agree go
    back to exported. Audited."""
    recon = compare(period, gw)
    agreeing = {(ln.agent_code, ln.contract_number) for ln in recon.lines if ln.agrees}
    rows = db.session.execute(
        sa.select(Commission, Agent.code, Contract.number)
        .join(Agent, Agent.id == Commission.agent_id).join(Contract, Contract.id == Commission.contract_id)
        .where(Commission.period == period, Commission.status.in_((CS.EXPORTED, CS.RECONCILED)))).all()
    moved = 0
    for row, code, number in rows:
        new = CS.RECONCILED if (code, number) in agreeing else CS.EXPORTED
        if row.status != new:
            row.status = new
            moved += 1
    from app.services.core.audit import record

    record("commission_reconciliation", period, "reconcile",
           {"differences": [None, len(recon.differences)], "ours": [None, str(recon.ours)],
            "billing": [None, str(recon.theirs)], "lines_changed": [None, moved]}, actor)
    return recon


def _amount(value: Decimal | None) -> str:
    """An amount for Italian spreadsheets: decimal comma, no thousands separator."""
    return "" if value is None else f"{value:.2f}".replace(".", ",")


def reconciliation_csv(recon: Reconciliation) -> str:
    """The reconciliation as CSV (semicolon-separated): one line per agent's contract, then the
    totals. Text cells are neutralised against formulas; amounts are numbers."""
    import csv
    import io

    from app.services.core.csv_export import safe_cell

    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";")
    w.writerow(["period", "agent_code", "agent_name", "contract", "computed", "billing", "difference",
                "agrees", "billing_batches"])
    for ln in recon.lines:
        w.writerow([recon.period, safe_cell(ln.agent_code), safe_cell(ln.agent_name), safe_cell(ln.contract_number),
                    _amount(ln.ours), _amount(ln.theirs), _amount(ln.difference), "yes" if ln.agrees else "no",
                    safe_cell(" ".join(ln.batches))])
    w.writerow([recon.period, "", "", "total", _amount(recon.ours), _amount(recon.theirs),
                _amount(recon.difference), "yes" if not recon.differences else "no", ""])
    return buf.getvalue()
