"""Customer portfolio (F-15): what a member of the sales network may see, with search.

An agent sees the contracts they entered and the customers and supply points those contracts
brought (linked once billing created and alignment brought them back). Whoever holds
`can_see_all` on the pseudo-view `Portfolio` (managers, back office, credit check by default)
sees every agent's. Every sales page loads contracts through `get_contract_or_404`, the one
ownership check.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import abort

from app import validators
from app.extensions import db
from app.models import Agent, Contract, ContractStatus, Customer, SupplyPoint
from app.permissions import has_permission
from app.roles import BACK_OFFICE, CREDIT_CHECK, MANAGER
from app.services.sales.contracts import agent_of

PORTFOLIO = "Portfolio"
SEE_ALL = "can_see_all"  # every agent's contracts, customers and supply points
ROLE_GRANTS = {role: {PORTFOLIO: (SEE_ALL,)} for role in (MANAGER, BACK_OFFICE, CREDIT_CHECK)}


class Scope:
    """Whose contracts a user sees: one agent's, or everyone's (agent None, all True)."""

    def __init__(self, user):
        self.all = has_permission(user, SEE_ALL, PORTFOLIO)
        self.agent = agent_of(user)
        if not self.all and self.agent is None:
            abort(403)

    def filter(self, stmt, agent_id: int | None = None):
        if not self.all:
            return stmt.where(Contract.agent_id == self.agent.id)
        if agent_id:
            return stmt.where(Contract.agent_id == agent_id)
        return stmt


def get_contract_or_404(user, contract_id: int) -> Contract:
    """The contract if `user` may see it, else 404 (never reveal another agent's)."""
    scope = Scope(user)
    contract = db.session.scalar(scope.filter(sa.select(Contract).where(Contract.id == contract_id)))
    if contract is None:
        abort(404)
    return contract


def _text(q: str) -> str:
    return (q or "").strip()


def contracts(user, q: str = "", status: str = "", agent_id: int | None = None, limit: int = 200) -> list[Contract]:
    scope = Scope(user)
    stmt = scope.filter(sa.select(Contract), agent_id)
    q = _text(q)
    if q:
        compact = re.sub(r"\s", "", q).upper()
        like = f"%{q.lower()}%"
        point = validators.point_key(q)
        stmt = stmt.outerjoin(Customer, Customer.id == Contract.customer_id).where(sa.or_(
            Contract.number == compact, Contract.pdr == point, Contract.pod.like(point + "%") if len(point) == 14 else Contract.pod == point,
            Contract.tax_code == compact, Contract.vat_number == compact, Contract.search_name.like(like),
            Customer.code == compact, Customer.tax_code == compact, Customer.vat_number == compact,
            Customer.search_name.like(like)))
    if status and status in ContractStatus.__members__:
        stmt = stmt.where(Contract.status == ContractStatus[status])
    return list(db.session.scalars(stmt.order_by(Contract.created_at.desc(), Contract.id.desc()).limit(limit)))


def customers(user, q: str = "", agent_id: int | None = None, limit: int = 200) -> list[Customer]:
    scope = Scope(user)
    ids = scope.filter(sa.select(Contract.customer_id).where(Contract.customer_id.is_not(None)), agent_id)
    stmt = sa.select(Customer).where(Customer.id.in_(ids))
    q = _text(q)
    if q:
        compact = re.sub(r"\s", "", q).upper()
        stmt = stmt.where(sa.or_(Customer.code == compact, Customer.tax_code == compact,
                                 Customer.vat_number == compact, Customer.search_name.like(f"%{q.lower()}%")))
    return list(db.session.scalars(stmt.order_by(Customer.search_name).limit(limit)))


def supply_points(user, q: str = "", agent_id: int | None = None, limit: int = 200) -> list[SupplyPoint]:
    scope = Scope(user)
    ids = scope.filter(sa.select(Contract.supply_point_id).where(Contract.supply_point_id.is_not(None)), agent_id)
    stmt = sa.select(SupplyPoint).where(SupplyPoint.id.in_(ids))
    q = _text(q)
    if q:
        compact = re.sub(r"\s", "", q).upper()
        stmt = stmt.where(sa.or_(SupplyPoint.code == compact, SupplyPoint.pdr == compact,
                                 SupplyPoint.pod == compact, sa.func.lower(SupplyPoint.city).like(f"%{q.lower()}%")))
    return list(db.session.scalars(stmt.order_by(SupplyPoint.code).limit(limit)))


def agents(user) -> list[Agent]:
    """Agents a manager may filter by (empty for an agent)."""
    if not Scope(user).all:
        return []
    return all_agents()


def all_agents() -> list[Agent]:
    return list(db.session.scalars(sa.select(Agent).order_by(Agent.code)))
