"""F-13: the contract transition table, role by role, with history who/when/why."""
import pytest
import sqlalchemy as sa

from app.models import AuditLog, ContractHistory, ContractStatus as S, OutboxMessage
from app.roles import ADMIN, AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER
from app.services.sales import contracts as wf
from tests.sales.helpers import agent_for, contract_in

SYSTEM = "system"
ROLES = (AGENT, BACK_OFFICE, CREDIT_CHECK, MANAGER, ADMIN, CALL_CENTER)
CANCELLERS = {BACK_OFFICE, MANAGER, ADMIN}
# Written out from SPEC.md F-13, not computed from the service's table.
EXPECTED = {
    (S.DRAFT, "submit"): {AGENT, BACK_OFFICE, ADMIN},
    (S.DRAFT, "discard"): {AGENT, BACK_OFFICE, ADMIN},
    (S.PROCESSING, "validate"): {BACK_OFFICE, ADMIN},
    (S.PROCESSING, "reject"): {BACK_OFFICE, ADMIN},
    (S.PROCESSING, "cancel"): {AGENT} | CANCELLERS,
    (S.VALIDATED, "approve"): {CREDIT_CHECK, ADMIN},
    (S.VALIDATED, "reject"): {CREDIT_CHECK, ADMIN},
    (S.VALIDATED, "cancel"): CANCELLERS,
    (S.APPROVED, "activate"): {BACK_OFFICE, ADMIN},
    (S.APPROVED, "cancel"): CANCELLERS,
    (S.ACTIVATED, "export"): {SYSTEM},
    (S.ACTIVATED, "cancel"): CANCELLERS,
    (S.IN_BILLING, "invoiceable"): {SYSTEM},
    (S.IN_BILLING, "cancel"): CANCELLERS,
    (S.INVOICEABLE, "cancel"): CANCELLERS,
}
TARGET = {"submit": S.PROCESSING, "discard": S.CANCELLED, "validate": S.VALIDATED, "reject": S.REJECTED,
          "cancel": S.CANCELLED, "approve": S.APPROVED, "activate": S.ACTIVATED, "export": S.IN_BILLING,
          "invoiceable": S.INVOICEABLE}
NEEDS_REASON = {"reject", "cancel"}


def test_F13_table_matches_the_spec(app, db):
    """Each step's permissions, as the built-in roles hold them by default, give the spec's roles."""
    from app.security import default_permissions

    defaults = {role: default_permissions(app.appbuilder, role) for role in ROLES}
    table = {(state, action): {role for role in ROLES
                               if any((p, wf.WORKFLOW) in defaults[role] for p in rule.permissions)}
             if rule.permissions else {SYSTEM}
             for (state, action), rule in wf.TRANSITIONS.items()}
    assert table == EXPECTED


def _actor(role, make_user):
    if role == SYSTEM:
        return None, None
    user, _ = make_user(role)
    agent = agent_for(user) if role == AGENT else None
    return user, agent


@pytest.mark.parametrize("role", ROLES)
def test_F13_buttons_per_role_and_state(role, db, make_user):
    user, agent = _actor(role, make_user)
    for state in S:
        contract = contract_in(state, agent)
        expected = {a for (s, a), roles in EXPECTED.items() if s == state and role in roles}
        assert set(wf.allowed_actions(contract, user)) == expected, (role, state)


ALLOWED = [(state, action, role) for (state, action), roles in EXPECTED.items() for role in sorted(roles)]


@pytest.mark.parametrize("state,action,role", ALLOWED, ids=[f"{s.name}-{a}-{r}" for s, a, r in ALLOWED])
def test_F13_every_allowed_transition(state, action, role, db, make_user):
    user, agent = _actor(role, make_user)
    contract = contract_in(state, agent)
    reason = "Il cliente ha cambiato idea" if action in NEEDS_REASON else ""
    wf.transition(contract, action, user, reason)
    db.session.refresh(contract)
    assert contract.status == TARGET[action]
    step = db.session.scalars(sa.select(ContractHistory).where(ContractHistory.contract_id == contract.id)
                              .order_by(ContractHistory.id.desc())).first()
    assert (step.from_status, step.to_status, step.action) == (state, TARGET[action], action)
    assert step.actor_id == (user.id if user else None) and step.created_at is not None
    assert step.reason == reason
    audit = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_type == "contract",
                                                         AuditLog.entity_id == str(contract.id))).all()
    assert [a.action for a in audit] == [action]
    if action == "activate":
        assert db.session.scalar(sa.select(OutboxMessage.operation)) == "create_contract"
    if action in NEEDS_REASON:
        assert contract.rejection_reason == reason


FORBIDDEN = [
    (S.PROCESSING, "validate", AGENT), (S.PROCESSING, "validate", CREDIT_CHECK),
    (S.PROCESSING, "validate", MANAGER), (S.PROCESSING, "validate", CALL_CENTER),
    (S.PROCESSING, "approve", CREDIT_CHECK), (S.PROCESSING, "activate", BACK_OFFICE),
    (S.VALIDATED, "approve", BACK_OFFICE), (S.VALIDATED, "approve", AGENT), (S.VALIDATED, "approve", MANAGER),
    (S.VALIDATED, "cancel", AGENT), (S.VALIDATED, "validate", BACK_OFFICE),
    (S.APPROVED, "activate", CREDIT_CHECK), (S.APPROVED, "activate", AGENT), (S.APPROVED, "activate", MANAGER),
    (S.ACTIVATED, "export", ADMIN), (S.ACTIVATED, "export", BACK_OFFICE),
    (S.IN_BILLING, "invoiceable", ADMIN), (S.IN_BILLING, "invoiceable", MANAGER),
    (S.REJECTED, "validate", BACK_OFFICE), (S.REJECTED, "cancel", MANAGER),
    (S.CANCELLED, "activate", ADMIN), (S.INVOICEABLE, "cancel", AGENT), (S.DRAFT, "validate", BACK_OFFICE),
    (S.DRAFT, "submit", CREDIT_CHECK), (S.DRAFT, "submit", MANAGER),
]


@pytest.mark.parametrize("state,action,role", FORBIDDEN, ids=[f"{s.name}-{a}-{r}" for s, a, r in FORBIDDEN])
def test_F13_forbidden_transitions_change_nothing(state, action, role, db, make_user):
    user, agent = _actor(role, make_user)
    contract = contract_in(state, agent)
    with pytest.raises(wf.TransitionError):
        wf.transition(contract, action, user, "motivo")
    db.session.rollback()
    db.session.refresh(contract)
    assert contract.status == state
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ContractHistory)) == 0


def test_F13_agent_cannot_act_on_another_agents_contract(db, make_user):
    owner, _ = make_user(AGENT)
    other, _ = make_user(AGENT)
    contract = contract_in(S.PROCESSING, agent_for(owner))
    agent_for(other)
    assert wf.allowed_actions(contract, other) == []
    with pytest.raises(wf.TransitionError):
        wf.transition(contract, "cancel", other, "non mio")
    db.session.rollback()
    assert db.session.get(type(contract), contract.id).status == S.PROCESSING


@pytest.mark.parametrize("state,action,role", [(S.PROCESSING, "reject", BACK_OFFICE),
                                               (S.VALIDATED, "reject", CREDIT_CHECK),
                                               (S.APPROVED, "cancel", MANAGER)])
def test_F13_reject_and_cancel_need_a_reason(state, action, role, db, make_user):
    user, _ = make_user(role)
    contract = contract_in(state)
    with pytest.raises(wf.TransitionError, match="reason|motivo"):
        wf.transition(contract, action, user, "   ")
    db.session.rollback()
    db.session.refresh(contract)
    assert contract.status == state


def test_F13_incomplete_draft_cannot_be_submitted(db, make_user):
    user, _ = make_user(AGENT)
    contract = contract_in(S.DRAFT, agent_for(user))
    contract.data = {**contract.data, "done": ["customer", "supply"]}
    db.session.commit()
    with pytest.raises(wf.TransitionError):
        wf.transition(contract, "submit", user)
    db.session.rollback()
    db.session.refresh(contract)
    assert contract.status == S.DRAFT


def test_F13_two_people_pressing_at_once_move_it_once(db, make_user):
    """A page still showing the old state can't move the contract a second time."""
    bo1, _ = make_user(BACK_OFFICE)
    contract = contract_in(S.APPROVED)
    assert contract.status == S.APPROVED  # loaded by this "page"
    with db.engine.begin() as conn:  # meanwhile a colleague activated it
        conn.execute(sa.text("UPDATE contracts SET status = 'ACTIVATED' WHERE id = :id"), {"id": contract.id})
    with pytest.raises(wf.TransitionError, match="nel frattempo|meanwhile"):
        wf.transition(contract, "activate", bo1)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ContractHistory)) == 0
