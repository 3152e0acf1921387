"""F-20 / F-21 / F-22: activities change state only through the transition table."""
import pytest

from app.models import ActivityKind, ActivityStatus
from app.roles import AGENT, BACK_OFFICE, CALL_CENTER, MANAGER
from app.services.crm.activities import TransitionError, add_note, create_activity, transition
from tests import factories


def test_F20_new_activity_starts_new_with_history(db):
    customer = factories.customer()
    a = create_activity(ActivityKind.INFORMATION_REQUEST, customer_id=customer.id)
    assert a.status == ActivityStatus.NEW
    assert [(h.action, h.to_status) for h in a.history] == [("create", ActivityStatus.NEW)]


def test_F22_manager_assigns_assignee_closes(db, make_user):
    manager, _ = make_user(MANAGER)
    operator, _ = make_user(BACK_OFFICE)
    other, _ = make_user(BACK_OFFICE)
    a = create_activity(ActivityKind.INVOICE_CORRECTION)
    with pytest.raises(TransitionError):
        transition(a, "assign", operator)  # only managers assign
    transition(a, "assign", manager, "please check", assignee_id=operator.id)
    with pytest.raises(TransitionError):
        transition(a, "close", other, "not mine")  # not the assignee
    transition(a, "start", operator)
    add_note(a, operator, "called the customer")
    transition(a, "close", operator, "corrected")
    assert a.status == ActivityStatus.CLOSED and a.closed_at
    assert [h.action for h in a.history] == ["create", "assign", "start", "note", "close"]
    assert a.history[-1].note == "corrected" and a.history[-1].actor_id == operator.id


@pytest.mark.parametrize("role", [BACK_OFFICE, CALL_CENTER, AGENT, MANAGER])
def test_F21_people_cannot_fake_billing_execution(db, make_user, role):
    user, _ = make_user(role)
    a = create_activity(ActivityKind.SELF_READING)
    with pytest.raises(TransitionError):
        transition(a, "execute", user)
    transition(a, "execute", None)
    assert a.status == ActivityStatus.EXECUTED


def test_F20_closed_activity_cannot_be_closed_again(db, make_user):
    manager, _ = make_user(MANAGER)
    a = create_activity(ActivityKind.COMPLAINT)
    transition(a, "cancel", manager, "duplicate")
    with pytest.raises(TransitionError):
        transition(a, "close", manager)
