"""Prospects (F-17): an agent's potential customers, their pipeline, follow-up and privacy.

A prospect (person or company) belongs to one agent. It moves new → contacted → offer made →
won / lost only through `transition()`, which checks the table below (state, action) -> (new
state, permission on the pseudo-view `Prospects`), records who/when/why in the history and the
audit log. `can_work` acts on one's own prospects only (an agent); `can_see_all` reads every
agent's pipeline and the conversion statistics (a manager). Every page loads a prospect through
`get_or_404`, the one ownership check.

Consent to be contacted is kept per channel (phone, e-mail, SMS) as a history of given/revoked
rows with date and source; the latest row is in force. E-mail goes out only with the e-mail
consent in force. Contacts are the CRM's (F-23, channel agent) linked to the prospect;
follow-ups are activities the agent plans for themselves (`activities.plan_own`: the deadline's
invitation and reminders of F-22/F-32). "Convert" opens a contract draft of the wizard (F-11)
with the customer step prefilled and marks the prospect won.

A lost prospect's personal data are erased `prospect_retention_days` after it was lost (the
`prospects` job): from the prospect, its contacts, its follow-ups and their history, the values
of its audit rows (the rows stay, with the fact) and its e-mails (address and text). The row
stays, anonymous, for the statistics.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import abort

from app.clock import local_date, to_rome
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import (Activity, Agent, Channel, ConsentChannel, ConsentSource, Contact,
                        ContactKind, CustomerKind, LostReason, OutgoingMail, Prospect, ProspectConsent,
                        ProspectHistory, ProspectInterest, ProspectSource, ProspectStatus, Service)
from app.models.base import utcnow
from app.permissions import has_permission
from app.roles import AGENT, MANAGER
from app.services.core.audit import record
from app.services.core.csv_export import safe_cell
from app.services.core.errors import DomainError
from app.services.core.unit_of_work import transactional
from app.services.sales.contracts import agent_of

S = ProspectStatus
PROSPECTS = "Prospects"
WORK = "can_work"  # enter prospects and move one's own through the pipeline (an agent)
SEE_ALL = "can_see_all"  # read every agent's prospects, pipeline and statistics (a manager)
OWN_ONLY = frozenset((WORK,))
ROLE_GRANTS = {AGENT: {PROSPECTS: (WORK,)}, MANAGER: {PROSPECTS: (SEE_ALL,)}}

OPEN = (S.NEW, S.CONTACTED, S.OFFER_MADE)
PERSONAL_FIELDS = ("last_name", "first_name", "company_name", "tax_code", "vat_number", "phone", "email",
                   "notes", "lost_note")


class ProspectError(DomainError):
    """A prospect operation refused; the message is translated."""


@dataclass(frozen=True)
class Rule:
    to: ProspectStatus
    permissions: frozenset[str]
    needs_reason: bool = False


def _rules(froms, action, to, permissions, **kw):
    return {(f, action): Rule(to, frozenset(permissions), **kw) for f in froms}


TRANSITIONS: dict[tuple[ProspectStatus, str], Rule] = {
    **_rules((S.NEW,), "contact", S.CONTACTED, (WORK,)),
    **_rules((S.NEW, S.CONTACTED), "offer", S.OFFER_MADE, (WORK,)),
    # Won only by converting to a contract (`convert`): the contract is the proof.
    **_rules(OPEN, "convert", S.WON, (WORK,)),
    **_rules(OPEN, "lose", S.LOST, (WORK,), needs_reason=True),
    **_rules((S.LOST,), "reopen", S.CONTACTED, (WORK,)),
}

ACTION_LABELS = {"create": _l("Entered"), "contact": _l("Mark as contacted"), "offer": _l("Offer made"),
                 "convert": _l("Converted to a contract"), "lose": _l("Mark as lost"),
                 "reopen": _l("Reopen"), "erase": _l("Personal data erased")}
# What the audit log calls the prospects' changes.
AUDIT_ACTION_LABELS = {**ACTION_LABELS, "create": _l("Entered"), "consent_given": _l("Consent given"),
                       "consent_revoked": _l("Consent revoked")}
# The buttons of the prospect page (convert has its own).
PAGE_ACTIONS = ("contact", "offer", "lose", "reopen")


# --- who may do what ------------------------------------------------------------------------------

def may_work(user) -> bool:
    return has_permission(user, WORK, PROSPECTS) and agent_of(user) is not None


def sees_all(user) -> bool:
    return has_permission(user, SEE_ALL, PROSPECTS)


def may_open(user) -> bool:
    """True when the user has a prospects page at all (their own, or everyone's)."""
    return sees_all(user) or may_work(user)


def _scoped(user, stmt):
    if sees_all(user):
        return stmt
    agent = agent_of(user) if has_permission(user, WORK, PROSPECTS) else None
    if agent is None:
        abort(403)
    return stmt.where(Prospect.agent_id == agent.id)


def get_or_404(user, prospect_id: int) -> Prospect:
    """The prospect if `user` may see it, else 404 (never reveal another agent's)."""
    prospect = db.session.scalar(_scoped(user, sa.select(Prospect).where(Prospect.id == prospect_id)))
    if prospect is None:
        abort(404)
    return prospect


def is_owner(prospect: Prospect, user) -> bool:
    agent = agent_of(user)
    return agent is not None and prospect.agent_id == agent.id


def _permitted(rule: Rule, prospect: Prospect, actor) -> bool:
    return any(has_permission(actor, p, PROSPECTS) and (p not in OWN_ONLY or is_owner(prospect, actor))
               for p in rule.permissions)


def allowed_actions(prospect: Prospect, actor) -> list[str]:
    if prospect.erased_at is not None:
        return []
    return [action for (state, action), rule in TRANSITIONS.items()
            if state == prospect.status and _permitted(rule, prospect, actor)]


def may_change(prospect: Prospect, actor) -> bool:
    """True when `actor` may edit the prospect, its consents, contacts and follow-ups."""
    return prospect.erased_at is None and has_permission(actor, WORK, PROSPECTS) and is_owner(prospect, actor)


def _check_change(prospect: Prospect, actor) -> None:
    if not may_change(prospect, actor):
        raise ProspectError(_l("You are not allowed to do this on this prospect."))


# --- listing --------------------------------------------------------------------------------------

def prospects(user, *, status: str = "", agent_id: int | None = None, q: str = "",
              limit: int = 300) -> list[Prospect]:
    """The prospects the user may see, newest first, filtered by state, agent and name."""
    stmt = _scoped(user, sa.select(Prospect))
    if status and status in S.__members__:
        stmt = stmt.where(Prospect.status == S[status])
    if agent_id and sees_all(user):
        stmt = stmt.where(Prospect.agent_id == agent_id)
    text = (q or "").strip().lower()
    if text:
        like = "%" + text.replace("\\", "").replace("%", "").replace("_", "") + "%"
        stmt = stmt.where(sa.or_(sa.func.lower(Prospect.last_name).like(like),
                                 sa.func.lower(Prospect.first_name).like(like),
                                 sa.func.lower(Prospect.company_name).like(like),
                                 sa.func.lower(Prospect.town).like(like)))
    return list(db.session.scalars(stmt.order_by(Prospect.created_at.desc(), Prospect.id.desc()).limit(limit)))


def pipeline_counts(rows: list[Prospect]) -> list[tuple[ProspectStatus, int]]:
    return [(s, sum(1 for p in rows if p.status == s)) for s in S]


def agents_with_prospects() -> list[Agent]:
    return list(db.session.scalars(sa.select(Agent).order_by(Agent.code)))


# --- entering and editing -------------------------------------------------------------------------

def _apply(prospect: Prospect, values: dict) -> dict:
    changes = {}
    kind = CustomerKind(values.get("kind") or prospect.kind or CustomerKind.PERSON)
    data = {name: (values.get(name) or "").strip() for name in
            ("last_name", "first_name", "company_name", "tax_code", "vat_number", "phone", "email", "town",
             "notes")}
    data["tax_code"] = data["tax_code"].upper().replace(" ", "")
    data["vat_number"] = data["vat_number"].replace(" ", "")
    data["email"] = data["email"].lower()
    if kind == CustomerKind.PERSON and not data["last_name"]:
        raise ProspectError(_l("Enter the last name."), "last_name")
    if kind == CustomerKind.COMPANY and not data["company_name"]:
        raise ProspectError(_l("Enter the company name."), "company_name")
    if not (data["phone"] or data["email"]):
        raise ProspectError(_l("Enter a phone number or an e-mail address to reach the prospect."), "phone")
    data["kind"] = kind
    data["source"] = ProspectSource(values.get("source") or ProspectSource.OTHER.value)
    for name, value in data.items():
        old = getattr(prospect, name)
        if old != value:
            changes[name] = [getattr(old, "value", old), getattr(value, "value", value)]
            setattr(prospect, name, value)
    return changes


def _set_interests(prospect: Prospect, interests: dict[str, int | None]) -> None:
    wanted = {Service(k): v for k, v in interests.items()}
    for row in list(prospect.interests):
        if row.service not in wanted:
            prospect.interests.remove(row)
    have = {row.service: row for row in prospect.interests}
    for service in Service:
        if service not in wanted:
            continue
        amount = wanted[service]
        if service in have:
            have[service].annual_consumption = amount
        else:
            prospect.interests.append(ProspectInterest(service=service, annual_consumption=amount))


@transactional
def create_prospect(actor, values: dict, interests: dict[str, int | None],
                    consents: dict[str, tuple[bool, str]] | None = None) -> Prospect:
    """A new prospect of the actor's agent record, in state new; consents as given now."""
    agent = agent_of(actor)
    if agent is None or not has_permission(actor, WORK, PROSPECTS):
        raise ProspectError(_l("You are not allowed to do this on this prospect."))
    prospect = Prospect(agent_id=agent.id, status=S.NEW, kind=CustomerKind.PERSON, last_name="", first_name="",
                        company_name="", tax_code="", vat_number="", phone="", email="", town="", notes="",
                        lost_note="", source=ProspectSource.OTHER)
    changes = _apply(prospect, values)
    db.session.add(prospect)
    _set_interests(prospect, interests)
    db.session.flush()
    db.session.add(ProspectHistory(prospect_id=prospect.id, from_status=None, to_status=S.NEW, action="create",
                                   note="", actor_id=actor.id))
    record("prospect", prospect.id, "create", changes, actor)
    for channel, (given, source) in (consents or {}).items():
        if given:
            set_consent(prospect, actor, ConsentChannel(channel), True, ConsentSource(source))
    return prospect


@transactional
def update_prospect(prospect: Prospect, actor, values: dict, interests: dict[str, int | None]) -> Prospect:
    """Change the prospect's data and services of interest (the owner agent)."""
    _check_change(prospect, actor)
    changes = _apply(prospect, values)
    _set_interests(prospect, interests)
    if changes:
        record("prospect", prospect.id, "edit", changes, actor)
    return prospect


# --- consents -------------------------------------------------------------------------------------

def consents_in_force(prospect: Prospect) -> dict[ConsentChannel, ProspectConsent | None]:
    """The latest given/revoked row per channel (None: never asked)."""
    out: dict[ConsentChannel, ProspectConsent | None] = {c: None for c in ConsentChannel}
    for row in sorted(prospect.consents, key=lambda r: (r.recorded_at, r.id)):
        out[row.channel] = row
    return out


def has_consent(prospect: Prospect, channel: ConsentChannel) -> bool:
    row = consents_in_force(prospect)[channel]
    return row is not None and row.given


@transactional
def set_consent(prospect: Prospect, actor, channel: ConsentChannel, given: bool,
                source: ConsentSource) -> ProspectConsent | None:
    """Record a consent given or revoked for one channel (nothing when it is already so)."""
    _check_change(prospect, actor)
    current = consents_in_force(prospect)[channel]
    if (current is not None and current.given == given) or (current is None and not given):
        return None
    row = ProspectConsent(prospect_id=prospect.id, channel=channel, given=given, source=source,
                          recorded_at=utcnow(), actor_id=actor.id)
    prospect.consents.append(row)
    db.session.flush()
    record("prospect", prospect.id, "consent_given" if given else "consent_revoked",
           {f"consent_{channel.value}": [current.given if current else None, given],
            "source": [None, source.value]}, actor)
    return row


# --- the pipeline ---------------------------------------------------------------------------------

@transactional
def transition(prospect: Prospect, action: str, actor, note: str = "",
               reason: LostReason | None = None) -> Prospect:
    """Apply `action` if the table allows it for `actor`; record history and audit."""
    rule = TRANSITIONS.get((prospect.status, action))
    if rule is None or prospect.erased_at is not None:
        raise ProspectError(_l("This step is not possible in the prospect's current state."))
    if not _permitted(rule, prospect, actor):
        raise ProspectError(_l("You are not allowed to do this on this prospect."))
    if rule.needs_reason and reason is None:
        raise ProspectError(_l("Choose why the prospect was lost."), "reason")
    before = prospect.status
    prospect.status = rule.to
    prospect.updated_at = utcnow()
    if rule.to in (S.WON, S.LOST):
        prospect.closed_at = utcnow()
    else:
        prospect.closed_at = None
    if rule.to == S.LOST:
        prospect.lost_reason, prospect.lost_note = reason, (note or "").strip()
    elif before == S.LOST:
        prospect.lost_reason, prospect.lost_note = None, ""
    db.session.add(ProspectHistory(prospect_id=prospect.id, from_status=before, to_status=rule.to,
                                   action=action, note=(note or "").strip(), actor_id=actor.id))
    if rule.to in (S.WON, S.LOST):
        _close_follow_ups(prospect, actor, str(ACTION_LABELS[action]))
    changes = {"status": [before.value, rule.to.value]}
    if reason is not None:
        changes["lost_reason"] = [None, reason.value]
    record("prospect", prospect.id, action, changes, actor)
    return prospect


def _close_follow_ups(prospect: Prospect, actor, note: str) -> None:
    """A decided prospect needs no more follow-ups: the open ones are closed (reminders stop)."""
    from app.services.crm import activities

    for activity in follow_ups_of(prospect):
        if "close" in activities.allowed_actions(activity, actor):
            activities.transition(activity, "close", actor, note)


def history_of(prospect: Prospect) -> list[ProspectHistory]:
    return list(db.session.scalars(sa.select(ProspectHistory).where(ProspectHistory.prospect_id == prospect.id)
                                   .order_by(ProspectHistory.created_at, ProspectHistory.id)))


# --- contacts and follow-ups ----------------------------------------------------------------------

def contacts_of(prospect: Prospect) -> list[Contact]:
    return list(db.session.scalars(sa.select(Contact).where(Contact.prospect_id == prospect.id)
                                   .order_by(Contact.starts_at.desc(), Contact.id.desc())))


def follow_ups_of(prospect: Prospect) -> list[Activity]:
    return list(db.session.scalars(sa.select(Activity).where(Activity.prospect_id == prospect.id)
                                   .order_by(Activity.deadline, Activity.id)))


@transactional
def log_contact(prospect: Prospect, actor, kind: ContactKind, notes: str, *, subject: str = "",
                starts_at: dt.datetime | None = None) -> Contact:
    """File a contact the agent had with the prospect (channel agent); a new prospect becomes contacted."""
    from app.models.activity import subject_key
    from app.services.crm.contacts import create_contact

    _check_change(prospect, actor)
    if kind == ContactKind.EMAIL and not has_consent(prospect, ConsentChannel.EMAIL):
        raise ProspectError(_l("This prospect has not agreed to be contacted by e-mail."), "kind")
    if not (notes or "").strip():
        raise ProspectError(_l("Write what was said."), "notes")
    contact = create_contact(kind, actor, customer_id=None, subject=subject or subject_key("kind"),
                             notes=notes, starts_at=starts_at, channel=Channel.AGENT)
    contact.prospect_id = prospect.id
    if prospect.status == S.NEW:
        transition(prospect, "contact", actor, str(kind.label))
    return contact


@transactional
def send_email(prospect: Prospect, actor, subject: str, body: str) -> Contact:
    """E-mail the prospect (only with the e-mail consent in force) and file it as a contact."""
    from app.services.crm.contacts import create_contact
    from app.services.mailing.mail import queue_mail

    _check_change(prospect, actor)
    if not has_consent(prospect, ConsentChannel.EMAIL):
        raise ProspectError(_l("This prospect has not agreed to be contacted by e-mail: record the consent first."))
    if not prospect.email:
        raise ProspectError(_l("This prospect has no e-mail address."))
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject or not body:
        raise ProspectError(_l("Write the subject and the message."), "body" if subject else "subject")
    agent = agent_of(actor)
    contact = create_contact(ContactKind.EMAIL, actor, customer_id=None, subject=subject, notes=body,
                             channel=Channel.AGENT)
    contact.prospect_id = prospect.id
    queue_mail("prospect_message", "it", [prospect.email],
               {"name": prospect.display_name, "subject": subject, "body": body,
                "agent": agent.name if agent else "", "agent_email": agent.email if agent else "",
                "agent_phone": agent.phone if agent else ""},
               key=_mail_key(prospect.id, contact.id))
    if prospect.status == S.NEW:
        transition(prospect, "contact", actor, str(ContactKind.EMAIL.label))
    return contact


def _mail_key(prospect_id: int, contact_id: int) -> str:
    """The idempotency key of the e-mail sent to a prospect as one of its contacts."""
    return f"prospect-{prospect_id}-contact-{contact_id}"


@transactional
def plan_follow_up(prospect: Prospect, actor, deadline: dt.datetime, subject: str, note: str = "") -> Activity:
    """A follow-up with a deadline for the agent: invitation now, reminders before the deadline."""
    from app.services.crm import activities

    _check_change(prospect, actor)
    if not (subject or "").strip():
        raise ProspectError(_l("Say what is to be done."), "subject")
    if deadline is None or deadline <= utcnow():
        raise ProspectError(_l("The deadline must be in the future."), "deadline")
    try:
        return activities.plan_own(actor, deadline, subject=subject.strip()[:200], note=note,
                                   prospect_id=prospect.id,
                                   contact_name=prospect.display_name[:160], contact_phone=prospect.phone,
                                   contact_email=prospect.email)
    except activities.TransitionError as exc:
        raise ProspectError(str(exc)) from exc


@transactional
def close_follow_up(prospect: Prospect, actor, activity_id: int, note: str = "") -> Activity:
    """Mark a follow-up of the prospect done (its reminders stop)."""
    from app.services.crm import activities

    _check_change(prospect, actor)
    activity = db.session.scalar(sa.select(Activity).where(Activity.id == activity_id,
                                                           Activity.prospect_id == prospect.id))
    if activity is None:
        abort(404)
    try:
        return activities.transition(activity, "close", actor, note)
    except activities.TransitionError as exc:
        raise ProspectError(str(exc)) from exc


# --- convert to a contract ------------------------------------------------------------------------

def customer_step_values(prospect: Prospect) -> dict:
    """The wizard's customer step (F-11) as the prospect fills it (address left to the agent)."""
    person = prospect.kind == CustomerKind.PERSON
    return {"mode": "new", "customer_code": "", "kind": prospect.kind.value,
            "last_name": prospect.last_name if person else "", "first_name": prospect.first_name if person else "",
            "company_name": "" if person else prospect.company_name,
            "tax_code": prospect.tax_code, "vat_number": prospect.vat_number, "birth_date": "",
            "address": "", "post_code": "", "city": prospect.town, "province": "",
            "phone": prospect.phone, "email": prospect.email, "language": "it"}


@transactional
def convert(prospect: Prospect, actor):
    """Open a contract draft prefilled from the prospect, link it, mark the prospect won."""
    from app.services.sales import wizard

    rule = TRANSITIONS.get((prospect.status, "convert"))
    if rule is None or prospect.erased_at is not None:
        raise ProspectError(_l("This step is not possible in the prospect's current state."))
    if not _permitted(rule, prospect, actor) or not wizard.may_enter(actor):
        raise ProspectError(_l("You are not allowed to do this on this prospect."))
    contract = wizard.new_draft(actor)
    wizard.save_step(contract, "customer", customer_step_values(prospect), actor, complete=False)
    interest = next(iter(prospect.interests), None)
    if interest is not None:
        supply = {"service": interest.service.value, "city": prospect.town}
        if interest.annual_consumption:
            supply["annual_consumption"] = interest.annual_consumption
        wizard.save_step(contract, "supply", supply, actor, complete=False)
    prospect.contract_id = contract.id
    transition(prospect, "convert", actor, contract.number)
    return contract


# --- statistics and CSV ---------------------------------------------------------------------------

@dataclass
class StatRow:
    agent: Agent
    month: str  # YYYY-MM, Rome time
    entered: int = 0
    won: int = 0
    lost: int = 0

    @property
    def rate(self) -> float | None:
        """Won out of those decided (won + lost) in the month; None when none was decided."""
        decided = self.won + self.lost
        return self.won / decided if decided else None


@dataclass
class Stats:
    rows: list[StatRow] = field(default_factory=list)

    @property
    def total(self) -> StatRow:
        t = StatRow(agent=None, month="")  # type: ignore[arg-type]
        for r in self.rows:
            t.entered, t.won, t.lost = t.entered + r.entered, t.won + r.won, t.lost + r.lost
        return t


def _month(value: dt.datetime) -> str:
    return to_rome(value).strftime("%Y-%m")


def statistics(user, *, agent_id: int | None = None, month: str = "") -> Stats:
    """Per agent and month (Rome time): prospects entered, won and lost in it, and the conversion rate."""
    stmt = _scoped(user, sa.select(Prospect).options(sa.orm.selectinload(Prospect.agent)))
    if agent_id and sees_all(user):
        stmt = stmt.where(Prospect.agent_id == agent_id)
    rows: dict[tuple[int, str], StatRow] = {}

    def row(p: Prospect, when: dt.datetime) -> StatRow:
        key = (p.agent_id, _month(when))
        if key not in rows:
            rows[key] = StatRow(agent=p.agent, month=key[1])
        return rows[key]

    for p in db.session.scalars(stmt):
        row(p, p.created_at).entered += 1
        if p.status == S.WON and p.closed_at:
            row(p, p.closed_at).won += 1
        elif p.status == S.LOST and p.closed_at:
            row(p, p.closed_at).lost += 1
    out = sorted(rows.values(), key=lambda r: (r.month, r.agent.code), reverse=False)
    if month:
        out = [r for r in out if r.month == month]
    return Stats(rows=sorted(out, key=lambda r: (r.month, r.agent.code), reverse=True))


def prospects_csv(user, *, status: str = "", agent_id: int | None = None) -> str:
    """The prospects the user sees, one per line (semicolon-separated), cells neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";")
    w.writerow(["id", "agent", "status", "kind", "name", "town", "phone", "email", "source", "services",
                "entered_on", "closed_on", "lost_reason"])
    for p in prospects(user, status=status, agent_id=agent_id, limit=100_000):
        w.writerow([safe_cell(v) for v in (
            p.id, p.agent.code, p.status.label, p.kind.label, p.display_name, p.town, p.phone, p.email,
            p.source.label, ", ".join(str(i.service.label) for i in p.interests),
            local_date(p.created_at).isoformat(),
            local_date(p.closed_at).isoformat() if p.closed_at else "",
            p.lost_reason.label if p.lost_reason else "")])
    return buf.getvalue()


def statistics_csv(stats: Stats) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";")
    w.writerow(["month", "agent", "entered", "won", "lost", "conversion_rate"])
    for r in stats.rows:
        w.writerow([safe_cell(v) for v in (r.month, r.agent.code, r.entered, r.won, r.lost,
                                           "" if r.rate is None else f"{r.rate:.4f}")])
    return buf.getvalue()


# --- privacy: erasure after the retention period --------------------------------------------------

def erase_due(now: dt.datetime | None = None) -> dict:
    """The job: erase the personal data of prospects lost more than the retention period ago."""
    from app.services.core import settings
    from app.services.core.unit_of_work import unit_of_work

    now = now or utcnow()
    limit = now - dt.timedelta(days=settings.get("prospect_retention_days"))
    ids = list(db.session.scalars(sa.select(Prospect.id).where(
        Prospect.status == S.LOST, Prospect.erased_at.is_(None), Prospect.closed_at.is_not(None),
        Prospect.closed_at <= limit).order_by(Prospect.id)))
    for prospect_id in ids:
        with unit_of_work():
            _erase(db.session.get(Prospect, prospect_id), now)
    return {"erased": len(ids)}


def _erase(prospect: Prospect, now: dt.datetime) -> None:
    """Blank the prospect's personal data wherever they were written: its own fields, its
    contacts, its follow-ups and their history, its audit rows and its e-mails."""
    from app.services.core.audit import ERASED, erase_values

    erased = {name: [ERASED, ""] for name in PERSONAL_FIELDS if getattr(prospect, name)}
    for name in PERSONAL_FIELDS:
        setattr(prospect, name, "")
    prospect.erased_at = now
    contacts = list(db.session.scalars(sa.select(Contact).where(Contact.prospect_id == prospect.id)))
    for contact in contacts:
        contact.subject, contact.notes, contact.location = "", "", ""
    follow_ups = list(db.session.scalars(sa.select(Activity).where(Activity.prospect_id == prospect.id)))
    for activity in follow_ups:
        activity.contact_name = activity.contact_email = activity.contact_phone = ""
        activity.subject = ""
        for step in activity.history:
            step.note = ""
    for step in prospect.history:
        step.note = ""
    # The audit keeps who did what and when; the values it recorded go.
    erase_values("prospect", [prospect.id], PERSONAL_FIELDS)
    erase_values("contact", [c.id for c in contacts], ("subject", "notes", "location"))
    _erase_mails(prospect, contacts, follow_ups)
    db.session.add(ProspectHistory(prospect_id=prospect.id, from_status=prospect.status,
                                   to_status=prospect.status, action="erase", note="", actor_id=None))
    record("prospect", prospect.id, "erase", erased, None)  # which fields, never their values


def _erase_mails(prospect: Prospect, contacts: list[Contact], follow_ups: list[Activity]) -> None:
    """The e-mails to the prospect lose address and text; the invitations and reminders of its
    follow-ups (to the agent) lose their text. A message not yet sent is not sent any more."""
    to_prospect = [_mail_key(prospect.id, c.id) for c in contacts]
    about = sa.or_(OutgoingMail.idempotency_key.in_(to_prospect),
                   *(OutgoingMail.idempotency_key.like(f"activity-{a.id}-%") for a in follow_ups))
    for mail in db.session.scalars(sa.select(OutgoingMail).where(about)):
        if mail.idempotency_key in to_prospect:
            mail.recipients = []
        mail.context, mail.ics = None, None
        if mail.status == "pending":
            mail.status, mail.next_attempt_at = "failed", None
            mail.error = "Not sent: the prospect's personal data were erased."


def wizard_matches(user, query: str, limit: int) -> list:
    """The user's own open prospects matching `query`, for the contract wizard's search (F-11):
    choosing one opens the prospect, whose "convert to contract" fills the customer step."""
    from app.services.sales.wizard import Match

    agent = agent_of(user)
    if agent is None or not has_permission(user, WORK, PROSPECTS):
        return []
    rows = [p for p in prospects(user, q=query, limit=limit)
            if p.agent_id == agent.id and p.status not in (S.WON, S.LOST)]
    return [Match("prospect", str(p.id), name=p.display_name, city=p.town or "") for p in rows]


def register_hooks() -> None:
    """The wizard's search also finds the agent's prospects (called once by `create_app`)."""
    from app.services.sales import wizard

    if wizard_matches not in wizard.PROSPECT_FINDERS:
        wizard.PROSPECT_FINDERS.append(wizard_matches)
