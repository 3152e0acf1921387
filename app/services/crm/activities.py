"""CRM activities (F-20, F-21, F-22): creation, the transition table, history, assignment.

Every request, whatever its channel, is an `Activity` created here in status *New*. Status
changes only through `transition()`, which checks the table below (state, action) -> (new
state, permissions allowing it on the pseudo-view `ActivityWorkflow`), records who/when/why in
the history and the audit log, and commits. `can_handle` works only on the activities assigned
to its holder; a customer (portal) withdraws only their own requests; billing's answers are
the system's (no actor).
`assign()` and `reschedule()` add the deadline and the iCalendar invitation (F-22): the
assignee gets a REQUEST, a reassignment or new deadline an update (same UID, higher
SEQUENCE), a cancellation a CANCEL; the messages are queued in the same transaction.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import Activity, ActivityHistory, ActivityKind, ActivityStatus, Channel
from app.models.activity import subject_key
from app.models.base import utcnow
from app.permissions import has_permission, holders
from app.roles import AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, CUSTOMER, MANAGER
from app.services.crm.calendar import CANCEL, REQUEST
from app.services.core.unit_of_work import transactional

S = ActivityStatus
SYSTEM = "system"  # the history's label when no one acts: jobs (outbox delivery, billing)
OPEN = (S.NEW, S.WAITING_BILLING, S.ASSIGNED, S.IN_PROGRESS)

# The permissions guarding the workflow, on the pseudo-view `ActivityWorkflow`.
WORKFLOW = "ActivityWorkflow"
ASSIGN = "can_assign"  # assign with a deadline, change the deadline
HANDLE = "can_handle"  # take in charge and close what is assigned to oneself; be assigned
HANDLE_ANY = "can_handle_any"  # take in charge and close anyone's
REJECT = "can_reject"
CANCEL_ANY = "can_cancel"
REOPEN = "can_reopen"
# These act only on the activities assigned to the holder.
OWN_ONLY = frozenset((HANDLE,))

# The built-in roles' defaults, collected into the role matrix (Admin has every permission).
ROLE_GRANTS = {
    MANAGER: {WORKFLOW: (ASSIGN, HANDLE, HANDLE_ANY, REJECT, CANCEL_ANY, REOPEN)},
    BACK_OFFICE: {WORKFLOW: (HANDLE, REJECT)},
    CALL_CENTER: {WORKFLOW: (HANDLE,)},
    CREDIT_CHECK: {WORKFLOW: (HANDLE,)},
    AGENT: {WORKFLOW: (HANDLE,)},
}


class TransitionError(Exception):
    """The action is not allowed from this state or for this actor; message is translated."""


@dataclass(frozen=True)
class Rule:
    to: ActivityStatus
    permissions: frozenset[str]  # any one of them allows the step
    customer: bool = False  # the customer's own step (portal); no permissions and no customer: the system's


def _rules(froms, action, to, permissions=(), customer=False):
    return {(f, action): Rule(to, frozenset(permissions), customer) for f in froms}


TRANSITIONS: dict[tuple[ActivityStatus, str], Rule] = {
    # Automatic execution (F-21): the outbox reports billing's answer.
    **_rules((S.NEW, S.WAITING_BILLING), "execute", S.EXECUTED),
    **_rules((S.NEW,), "wait_billing", S.WAITING_BILLING),
    # Semi-automatic execution (F-22): a manager assigns, the assignee works and closes.
    **_rules((S.NEW, S.ASSIGNED, S.IN_PROGRESS), "assign", S.ASSIGNED, (ASSIGN,)),
    **{(st, "reschedule"): Rule(st, frozenset((ASSIGN,))) for st in (S.ASSIGNED, S.IN_PROGRESS)},
    **_rules((S.ASSIGNED,), "start", S.IN_PROGRESS, (HANDLE, HANDLE_ANY)),
    **_rules((S.ASSIGNED, S.IN_PROGRESS), "close", S.CLOSED, (HANDLE, HANDLE_ANY)),
    **_rules((S.NEW, S.ASSIGNED, S.IN_PROGRESS), "reject", S.REJECTED, (REJECT,)),
    **_rules(OPEN, "cancel", S.CANCELLED, (CANCEL_ANY,)),
    **_rules((S.NEW,), "withdraw", S.CANCELLED, customer=True),
    **_rules((S.CLOSED, S.REJECTED), "reopen", S.IN_PROGRESS, (REOPEN,)),
    # A follow-up someone plans for themselves (an agent on a prospect, F-17): see `plan_own`.
    **_rules((S.NEW,), "plan", S.ASSIGNED, (HANDLE,)),
}

ACTION_LABELS = {
    "create": _l("Created"), "execute": _l("Executed automatically"),
    "wait_billing": _l("Waiting for the billing system"), "assign": _l("Assigned"),
    "start": _l("Taken in charge"), "close": _l("Closed"), "reject": _l("Rejected"),
    "cancel": _l("Cancelled"), "withdraw": _l("Withdrawn by the customer"),
    "reopen": _l("Reopened"), "note": _l("Note"), "reschedule": _l("New deadline"),
    "plan": _l("Planned"),
}


def allowed_actions(activity: Activity, actor) -> list[str]:
    """The actions `actor` may take on `activity` now (for buttons)."""
    return [action for (state, action), rule in TRANSITIONS.items()
            if state == activity.status and _permitted(rule, activity, actor)]


def _permitted(rule: Rule, activity: Activity, actor) -> bool:
    if actor is None:
        return not rule.permissions and not rule.customer  # billing's answer is not for people to fake
    if rule.customer:
        return (CUSTOMER in {role.name for role in actor.roles}
                and activity.customer_id is not None and activity.customer_id == actor.customer_id)
    return any(has_permission(actor, permission, WORKFLOW)
               and (permission not in OWN_ONLY or activity.assignee_id == actor.id)
               for permission in rule.permissions)


@transactional
def create_activity(kind: ActivityKind, *, channel: Channel = Channel.WEB, customer_id=None,
                    supply_point_id=None, invoice_id=None, subject: str = "",
                    payload: dict[str, Any] | None = None, actor=None,
                    **fields) -> Activity:
    """A new activity in status New, with its first history step (inside the caller's unit of work, or its own)."""
    activity = Activity(kind=kind, channel=channel, status=S.NEW, customer_id=customer_id,
                        supply_point_id=supply_point_id, invoice_id=invoice_id,
                        subject=subject or subject_key("kind"), payload=payload or {},
                        created_by_id=getattr(actor, "id", None), **fields)
    # Its first step rides in the same flush (one flush, not two: the id comes back with it).
    activity.history.append(ActivityHistory(from_status=None, to_status=S.NEW, action="create",
                                            actor_id=getattr(actor, "id", None),
                                            actor_label=_actor_label(actor)))
    db.session.add(activity)
    db.session.flush()
    # Steps added later by activity_id (transitions) must show: read the list afresh when asked.
    db.session.expire(activity, ["history"])
    return activity


@transactional
def transition(activity: Activity, action: str, actor=None, note: str = "", **changes) -> Activity:
    """Apply `action` if the table allows it for `actor`; record history (one unit of work)."""
    rule = TRANSITIONS.get((activity.status, action))
    if rule is None:
        raise TransitionError(_l("This action is not possible in the request's current state."))
    if not _permitted(rule, activity, actor):
        raise TransitionError(_l("You are not allowed to do this on this request."))
    before = activity.status
    for name, value in changes.items():
        setattr(activity, name, value)
    activity.status = rule.to
    activity.updated_at = utcnow()
    if rule.to in (S.EXECUTED, S.CLOSED, S.REJECTED, S.CANCELLED):
        activity.closed_at = utcnow()
    elif before in (S.CLOSED, S.REJECTED):
        activity.closed_at = None
    db.session.add(ActivityHistory(activity_id=activity.id, from_status=before, to_status=rule.to,
                                   action=action, note=note or "", actor_id=getattr(actor, "id", None),
                                   actor_label=_actor_label(actor)))
    from app.services.core.audit import record

    record("activity", activity.id, action, {"status": [before.value, rule.to.value]}, actor)
    if rule.to in (S.CANCELLED, S.REJECTED) and activity.ical_uid and activity.assignee_id:
        # The deadline leaves the assignee's calendar (RFC 5546 CANCEL, same UID).
        activity.ical_sequence = (activity.ical_sequence or 0) + 1
        _queue_invitation(activity, activity.assignee, actor, CANCEL, "activity_cancelled")
    return activity


def follow_billing(message, delivered: bool, reason: str | None) -> None:
    """Outbox outcome hook (F-21): an automatic request waits for billing, then is Executed
    once billing accepted every write it caused."""
    from app.services.sync.outbox import pending_for

    activity = message.activity
    # Only automatic activities wait for billing; people handle the others meanwhile.
    if activity is None or not activity.kind.automatic:
        return
    if not delivered:
        if activity.status == S.NEW:
            transition(activity, "wait_billing", None, reason or "")
    elif activity.status in (S.NEW, S.WAITING_BILLING) and not pending_for(activity.id, message.id):
        transition(activity, "execute", None)


def register_hooks() -> None:
    """Connect activities to the outbox's outcomes (called once by `create_app`)."""
    from app.services.sync.outbox import on_outcome

    on_outcome("activities", follow_billing)


@transactional
def add_note(activity: Activity, actor, note: str) -> None:
    """A history step without a status change (a call, a remark)."""
    db.session.add(ActivityHistory(activity_id=activity.id, from_status=activity.status,
                                   to_status=activity.status, action="note", note=note,
                                   actor_id=getattr(actor, "id", None), actor_label=_actor_label(actor)))


def _actor_label(actor) -> str:
    if actor is None:
        return SYSTEM
    return getattr(actor, "username", "") or str(actor)


# --- assignment with a deadline and an iCalendar invitation (F-22) ----------------------------

def assignable_users_query():
    """Active staff and agents a manager may assign an activity to (they hold `can_handle`)."""
    import sqlalchemy as sa

    from app.models import SportelloUser

    return (sa.select(SportelloUser).where(SportelloUser.active.is_(True),
                                           SportelloUser.customer_id.is_(None),
                                           holders(SportelloUser, HANDLE, WORKFLOW))
            .order_by(SportelloUser.last_name, SportelloUser.first_name))


def can_be_assigned(user) -> bool:
    return (user is not None and user.active and user.customer_id is None
            and has_permission(user, HANDLE, WORKFLOW))


@transactional
def assign(activity: Activity, actor, assignee, deadline: dt.datetime, note: str = "") -> Activity:
    """Assign to `assignee` with `deadline` (naive UTC); invite, or update/cancel invitations."""
    if not can_be_assigned(assignee):
        raise TransitionError(_l("Choose an operator or agent who can work on requests."))
    if deadline is None:
        raise TransitionError(_l("A deadline is required."))
    previous, old_deadline = activity.assignee, activity.deadline
    transition(activity, "assign", actor, note, assignee_id=assignee.id, deadline=deadline)
    db.session.flush()
    db.session.refresh(activity, ["assignee"])
    from app.services.core.audit import record

    record("activity", activity.id, "assignment",
           {"assignee": [getattr(previous, "username", None), assignee.username],
            "deadline": [_iso(old_deadline), _iso(deadline)]}, actor)
    if activity.ical_uid is None:
        from app.services.crm.calendar import new_uid, sender_domain
        from flask import current_app

        activity.ical_uid = new_uid(f"activity-{activity.id}",
                                    sender_domain(current_app.config.get("MAIL_DEFAULT_SENDER", "")))
        activity.ical_sequence = 0
    else:
        # Every later REQUEST supersedes what the calendars hold (also after a CANCEL).
        activity.ical_sequence = (activity.ical_sequence or 0) + 1
    if previous is not None and previous.id != assignee.id:
        _queue_invitation(activity, previous, actor, CANCEL, "activity_cancelled")
    template = "activity_assigned" if previous is None or previous.id != assignee.id else "activity_updated"
    _queue_invitation(activity, assignee, actor, REQUEST, template, note=note)
    return activity


@transactional
def plan_own(actor, deadline: dt.datetime, *, kind: ActivityKind = ActivityKind.FOLLOW_UP,
             channel: Channel = Channel.AGENT, subject: str = "", note: str = "", **fields) -> Activity:
    """An activity `actor` plans for themselves with a deadline (naive UTC): assigned to them at
    once, with the same invitation and reminders as an assignment."""
    if not can_be_assigned(actor):
        raise TransitionError(_l("You are not allowed to do this on this request."))
    if deadline is None:
        raise TransitionError(_l("A deadline is required."))
    activity = create_activity(kind, channel=channel, subject=subject, actor=actor,
                               assignee_id=actor.id, deadline=deadline, **fields)
    transition(activity, "plan", actor, note)  # the planner is the assignee: `can_handle` applies
    from flask import current_app

    from app.services.crm.calendar import new_uid, sender_domain

    activity.ical_uid = new_uid(f"activity-{activity.id}",
                                sender_domain(current_app.config.get("MAIL_DEFAULT_SENDER", "")))
    activity.ical_sequence = 0
    db.session.flush()
    db.session.refresh(activity, ["assignee"])
    _queue_invitation(activity, activity.assignee, actor, REQUEST, "activity_assigned", note=note)
    return activity


@transactional
def reschedule(activity: Activity, actor, deadline: dt.datetime, note: str = "") -> Activity:
    """A new deadline for an assigned activity: the invitation is updated (SEQUENCE + 1)."""
    if deadline is None:
        raise TransitionError(_l("A deadline is required."))
    old = activity.deadline
    transition(activity, "reschedule", actor, note, deadline=deadline)
    from app.services.core.audit import record

    record("activity", activity.id, "deadline", {"deadline": [_iso(old), _iso(deadline)]}, actor)
    if old != deadline and activity.assignee is not None:
        activity.ical_sequence = (activity.ical_sequence or 0) + 1
        _queue_invitation(activity, activity.assignee, actor, REQUEST, "activity_updated", note=note)
    return activity


def _iso(value):
    return value.isoformat() if value else None


def activity_url(activity: Activity) -> str:
    from flask import current_app

    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    return f"{base}/activityview/show/{activity.id}"


def mail_context(activity: Activity, recipient, language: str, **extra) -> dict:
    """Plain JSON values for an activity e-mail, formatted in the recipient's language."""
    from flask_babel import force_locale, format_datetime

    with force_locale(language):
        return {
            "name": " ".join(p for p in (recipient.first_name, recipient.last_name) if p) or recipient.username,
            "activity_id": activity.id, "subject": activity.subject_text,
            "kind": str(activity.kind.label), "status": str(activity.status.label),
            "customer": activity.customer.display_name if activity.customer else (activity.contact_name or ""),
            "deadline": format_datetime(activity.deadline, "short") if activity.deadline else "",
            "url": activity_url(activity), **extra,
        }


def _organizer(actor):
    from flask import current_app

    from app.services.crm.calendar import Person

    if actor is not None and getattr(actor, "email", ""):
        return Person(actor.email, f"{actor.first_name} {actor.last_name}".strip())
    import email.utils

    name, addr = email.utils.parseaddr(current_app.config.get("MAIL_DEFAULT_SENDER", ""))
    return Person(addr or "noreply@sportello.localhost", name)


def _queue_invitation(activity: Activity, user, actor, method: str, template: str, note: str = ""):
    """Queue the e-mail with the invitation (REQUEST) or its cancellation (CANCEL) for `user`."""
    from app.services.crm.calendar import Invitation, Person, build_ics
    from app.services.mailing.mail import queue_mail

    if user is None or not user.email:
        return None
    language = user.language or "it"
    context = mail_context(activity, user, language, note=note or "")
    if method == CANCEL:
        context["ics_method"] = CANCEL
    start = activity.deadline or utcnow()
    summary = f"#{activity.id} {context['kind']}: {context['subject']}".strip()
    ics = build_ics(Invitation(uid=activity.ical_uid, sequence=activity.ical_sequence or 0,
                               summary=summary[:200], start=start,
                               description=f"{context['url']}\n{note or ''}".strip(),
                               organizer=_organizer(actor),
                               attendees=[Person(user.email, context["name"])]), method)
    return queue_mail(template, language, [user.email], context, ics=ics,
                      key=f"activity-{activity.id}-{method.lower()}-{activity.ical_sequence}-{user.id}")
