"""F-20 / F-22: the transition table, every allowed transition and a sample of forbidden ones,
per role (written out here from the specification, not read from the table)."""
import pytest

from app.models import ActivityKind, ActivityStatus as S
from app.roles import ADMIN, AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, CUSTOMER, MANAGER
from app.services.crm.activities import TRANSITIONS, TransitionError, create_activity, transition
from tests import factories

SYSTEM = None
WORKERS = (BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, AGENT)

# (from, action, to, role, acting as the assignee?)
ALLOWED = [
    *[(st, "execute", S.EXECUTED, SYSTEM, False) for st in (S.NEW, S.WAITING_BILLING)],
    (S.NEW, "wait_billing", S.WAITING_BILLING, SYSTEM, False),
    *[(st, "assign", S.ASSIGNED, r, False) for st in (S.NEW, S.ASSIGNED, S.IN_PROGRESS) for r in (MANAGER, ADMIN)],
    *[(st, "reschedule", st, r, False) for st in (S.ASSIGNED, S.IN_PROGRESS) for r in (MANAGER, ADMIN)],
    *[(S.NEW, "plan", S.ASSIGNED, r, True) for r in WORKERS],  # a follow-up planned for oneself
    *[(S.ASSIGNED, "start", S.IN_PROGRESS, r, True) for r in WORKERS + (MANAGER,)],
    *[(st, "close", S.CLOSED, r, True) for st in (S.ASSIGNED, S.IN_PROGRESS) for r in WORKERS + (MANAGER,)],
    (S.IN_PROGRESS, "close", S.CLOSED, MANAGER, False),  # a manager may close anyone's
    *[(st, "reject", S.REJECTED, r, False) for st in (S.NEW, S.ASSIGNED, S.IN_PROGRESS)
      for r in (BACK_OFFICE, MANAGER)],
    *[(st, "cancel", S.CANCELLED, r, False)
      for st in (S.NEW, S.WAITING_BILLING, S.ASSIGNED, S.IN_PROGRESS) for r in (MANAGER, ADMIN)],
    (S.NEW, "withdraw", S.CANCELLED, CUSTOMER, False),
    *[(st, "reopen", S.IN_PROGRESS, MANAGER, False) for st in (S.CLOSED, S.REJECTED)],
]

FORBIDDEN = [
    (S.NEW, "assign", BACK_OFFICE, False), (S.NEW, "assign", CALL_CENTER, False),
    (S.NEW, "assign", AGENT, False), (S.NEW, "assign", CUSTOMER, False),
    (S.ASSIGNED, "start", BACK_OFFICE, False),  # not the assignee
    (S.ASSIGNED, "close", AGENT, False), (S.IN_PROGRESS, "close", CALL_CENTER, False),
    (S.NEW, "execute", MANAGER, False), (S.NEW, "execute", ADMIN, False),
    (S.NEW, "execute", BACK_OFFICE, False),
    (S.NEW, "cancel", BACK_OFFICE, False), (S.NEW, "cancel", CALL_CENTER, False),
    (S.NEW, "reject", CALL_CENTER, False), (S.NEW, "reject", AGENT, False),
    (S.ASSIGNED, "withdraw", CUSTOMER, False),  # too late to withdraw
    (S.CLOSED, "close", MANAGER, False), (S.CANCELLED, "reopen", MANAGER, False),
    (S.EXECUTED, "cancel", MANAGER, False), (S.CLOSED, "reopen", BACK_OFFICE, False),
    (S.ASSIGNED, "reschedule", BACK_OFFICE, True), (S.NEW, "reschedule", MANAGER, False),
    (S.NEW, "start", BACK_OFFICE, True), (S.NEW, "withdraw", MANAGER, False),
]


def _activity_in(status, assignee, customer):
    a = create_activity(ActivityKind.COMPLAINT, customer_id=customer.id)
    a.status = status  # set up the starting state directly (the test subject is the next step)
    a.assignee_id = getattr(assignee, "id", None)
    from app.extensions import db

    db.session.commit()
    return a


def _actor(role, make_user, customer, db):
    if role is SYSTEM:
        return None
    user, _ = make_user(role)
    if role == CUSTOMER:
        user.customer_id = customer.id
        db.session.commit()
    return user


def test_F20_table_matches_the_specification():
    expected = {(f, action) for f, action, *_ in ALLOWED}
    assert set(TRANSITIONS) == expected
    for f, action, to, *_ in ALLOWED:
        assert TRANSITIONS[(f, action)].to == to


@pytest.mark.parametrize("start,action,to,role,as_assignee", ALLOWED,
                         ids=[f"{a[0].name}-{a[1]}-{a[3] or 'system'}" for a in ALLOWED])
def test_F20_allowed_transition(start, action, to, role, as_assignee, db, make_user):
    customer = factories.customer()
    actor = _actor(role, make_user, customer, db)
    other, _ = make_user(BACK_OFFICE)
    a = _activity_in(start, actor if as_assignee else other, customer)
    transition(a, action, actor, f"step {action}")
    assert a.status == to
    last = a.history[-1]
    assert (last.from_status, last.to_status, last.action, last.note) == (start, to, action, f"step {action}")
    assert last.actor_id == getattr(actor, "id", None)


@pytest.mark.parametrize("start,action,role,as_assignee", FORBIDDEN,
                         ids=[f"{a[0].name}-{a[1]}-{a[2]}" for a in FORBIDDEN])
def test_F20_forbidden_transition(start, action, role, as_assignee, db, make_user):
    customer = factories.customer()
    actor = _actor(role, make_user, customer, db)
    other, _ = make_user(BACK_OFFICE)
    a = _activity_in(start, actor if as_assignee else other, customer)
    steps = len(a.history)
    with pytest.raises(TransitionError):
        transition(a, action, actor, "no")
    assert a.status == start and len(a.history) == steps


def test_F20_customer_cannot_withdraw_someone_elses_request(db, make_user):
    mine, theirs = factories.customer(), factories.customer()
    user = _actor(CUSTOMER, make_user, mine, db)
    a = _activity_in(S.NEW, None, theirs)
    with pytest.raises(TransitionError):
        transition(a, "withdraw", user)
