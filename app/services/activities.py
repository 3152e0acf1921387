"""CRM activities (F-20, F-21): creation, the transition table, history.

Every request, whatever its channel, is an `Activity` created here in status *New*. Status
changes only through `transition()`, which checks the table below (state, action) -> (new
state, roles allowed), records who/when/why in the history and the audit log, and commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Activity, ActivityHistory, ActivityKind, ActivityStatus, Channel
from app.models.base import utcnow
from app.security import (ADMIN, AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, CUSTOMER,
                          MANAGER)

S = ActivityStatus
SYSTEM = "system"  # the pseudo-role of jobs (outbox delivery, billing)
OPEN = (S.NEW, S.WAITING_BILLING, S.ASSIGNED, S.IN_PROGRESS)
WORKERS = (BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, AGENT)


class TransitionError(Exception):
    """The action is not allowed from this state or for this actor; message is translated."""


@dataclass(frozen=True)
class Rule:
    to: ActivityStatus
    roles: frozenset[str]
    assignee_only: bool = False  # workers may act only on activities assigned to them


def _rules(froms, action, to, roles, assignee_only=False):
    return {(f, action): Rule(to, frozenset(roles), assignee_only) for f in froms}


TRANSITIONS: dict[tuple[ActivityStatus, str], Rule] = {
    # Automatic execution (F-21): the outbox reports billing's answer.
    **_rules((S.NEW, S.WAITING_BILLING), "execute", S.EXECUTED, (SYSTEM,)),
    **_rules((S.NEW,), "wait_billing", S.WAITING_BILLING, (SYSTEM,)),
    # Semi-automatic execution (F-22): a manager assigns, the assignee works and closes.
    **_rules((S.NEW, S.ASSIGNED, S.IN_PROGRESS), "assign", S.ASSIGNED, (MANAGER, ADMIN)),
    **_rules((S.ASSIGNED,), "start", S.IN_PROGRESS, WORKERS + (MANAGER,), assignee_only=True),
    **_rules((S.ASSIGNED, S.IN_PROGRESS), "close", S.CLOSED, WORKERS + (MANAGER,), assignee_only=True),
    **_rules((S.NEW, S.ASSIGNED, S.IN_PROGRESS), "reject", S.REJECTED, (BACK_OFFICE, MANAGER)),
    **_rules(OPEN, "cancel", S.CANCELLED, (MANAGER, ADMIN)),
    **_rules((S.NEW,), "withdraw", S.CANCELLED, (CUSTOMER,)),
    **_rules((S.CLOSED, S.REJECTED), "reopen", S.IN_PROGRESS, (MANAGER,)),
}

ACTION_LABELS = {
    "create": _l("Created"), "execute": _l("Executed automatically"),
    "wait_billing": _l("Waiting for the billing system"), "assign": _l("Assigned"),
    "start": _l("Taken in charge"), "close": _l("Closed"), "reject": _l("Rejected"),
    "cancel": _l("Cancelled"), "withdraw": _l("Withdrawn by the customer"),
    "reopen": _l("Reopened"), "note": _l("Note"),
}


def actor_roles(actor) -> set[str]:
    if actor is None:
        return {SYSTEM}
    return {role.name for role in getattr(actor, "roles", [])}


def allowed_actions(activity: Activity, actor) -> list[str]:
    """The actions `actor` may take on `activity` now (for buttons)."""
    roles = actor_roles(actor)
    out = []
    for (state, action), rule in TRANSITIONS.items():
        if state == activity.status and _permitted(rule, roles, activity, actor):
            out.append(action)
    return out


def _permitted(rule: Rule, roles: set[str], activity: Activity, actor) -> bool:
    if not roles & rule.roles and ADMIN not in roles:
        return False
    if ADMIN in roles and SYSTEM in rule.roles and len(rule.roles) == 1:
        return False  # billing's answer is not for people to fake
    if rule.assignee_only and not roles & {MANAGER, ADMIN}:
        return actor is not None and activity.assignee_id == actor.id
    if CUSTOMER in roles and not roles & {MANAGER, ADMIN, *WORKERS}:
        return actor is not None and activity.customer_id == getattr(actor, "customer_id", None)
    return True


def create_activity(kind: ActivityKind, *, channel: Channel = Channel.WEB, customer_id=None,
                    supply_point_id=None, invoice_id=None, subject: str = "",
                    payload: dict[str, Any] | None = None, actor=None, commit: bool = False,
                    **fields) -> Activity:
    """A new activity in status New, with its first history step (no commit by default)."""
    activity = Activity(kind=kind, channel=channel, status=S.NEW, customer_id=customer_id,
                        supply_point_id=supply_point_id, invoice_id=invoice_id,
                        subject=subject or str(kind.label), payload=payload or {},
                        created_by_id=getattr(actor, "id", None), **fields)
    db.session.add(activity)
    db.session.flush()
    db.session.add(ActivityHistory(activity_id=activity.id, from_status=None, to_status=S.NEW,
                                   action="create", actor_id=getattr(actor, "id", None),
                                   actor_label=_actor_label(actor)))
    if commit:
        db.session.commit()
    return activity


def transition(activity: Activity, action: str, actor=None, note: str = "", *,
               commit: bool = True, **changes) -> Activity:
    """Apply `action` if the table allows it for `actor`; record history; commit."""
    rule = TRANSITIONS.get((activity.status, action))
    if rule is None:
        raise TransitionError(_l("This action is not possible in the request's current state."))
    if not _permitted(rule, actor_roles(actor), activity, actor):
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
    from app.services.audit import record

    record("activity", activity.id, action, {"status": [before.value, rule.to.value]}, actor)
    if commit:
        db.session.commit()
    return activity


def add_note(activity: Activity, actor, note: str, *, commit: bool = True) -> None:
    """A history step without a status change (a call, a remark)."""
    db.session.add(ActivityHistory(activity_id=activity.id, from_status=activity.status,
                                   to_status=activity.status, action="note", note=note,
                                   actor_id=getattr(actor, "id", None), actor_label=_actor_label(actor)))
    if commit:
        db.session.commit()


def _actor_label(actor) -> str:
    if actor is None:
        return SYSTEM
    return getattr(actor, "username", "") or str(actor)
