"""The sales network's work queues (F-13): contracts waiting for the back office's steps, and
an agent's own contracts by state (drafts to finish, contracts on their way)."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.i18n import lazy_gettext as _l, ngettext
from app.models import Contract, ContractStatus as S
from app.services.core.queues import Queue, register
from app.services.sales import contracts as wf
from app.services.sales.portfolio import PORTFOLIO, SEE_ALL, agent_of


def count_in(status: S) -> int:
    """Every contract in `status` (the back office's queues)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Contract).where(Contract.status == status)) or 0


def own_count(user, status: S) -> int:
    """Contracts in `status` that `user`'s agent record entered (0 without one)."""
    agent = agent_of(user)
    if agent is None:
        return 0
    return db.session.scalar(sa.select(sa.func.count()).select_from(Contract).where(
        Contract.status == status, Contract.agent_id == agent.id)) or 0


CONTRACTS = _l("Contracts")
register(Queue("sales.to_validate",
               lambda n: ngettext("%(num)d contract to validate", "%(num)d contracts to validate", n),
               ("can_list", "ValidationQueueView"), lambda user: count_in(S.PROCESSING),
               "ValidationQueueView.list", area=CONTRACTS, order=10, also=(("can_validate", wf.WORKFLOW),)))
register(Queue("sales.to_approve",
               lambda n: ngettext("%(num)d contract for credit check", "%(num)d contracts for credit check", n),
               ("can_list", "CreditCheckQueueView"), lambda user: count_in(S.VALIDATED),
               "CreditCheckQueueView.list", area=CONTRACTS, order=11,
               also=(("can_approve_credit", wf.WORKFLOW),)))
register(Queue("sales.to_activate",
               lambda n: ngettext("%(num)d contract to activate", "%(num)d contracts to activate", n),
               ("can_list", "ActivationQueueView"), lambda user: count_in(S.APPROVED),
               "ActivationQueueView.list", area=CONTRACTS, order=12, also=(("can_activate", wf.WORKFLOW),)))

# An agent's own contracts, on the sales pages' list filtered by state. Only for people who
# enter contracts and see their own (whoever sees every agent's has the queues above).
_OWN = (
    (S.DRAFT, lambda n: ngettext("%(num)d draft of mine to finish", "%(num)d drafts of mine to finish", n)),
    (S.PROCESSING, lambda n: ngettext("%(num)d contract of mine waiting for validation",
                                      "%(num)d contracts of mine waiting for validation", n)),
    (S.VALIDATED, lambda n: ngettext("%(num)d contract of mine at credit check",
                                     "%(num)d contracts of mine at credit check", n)),
    (S.APPROVED, lambda n: ngettext("%(num)d contract of mine waiting for activation",
                                    "%(num)d contracts of mine waiting for activation", n)),
    (S.ACTIVATED, lambda n: ngettext("%(num)d contract of mine being created in billing",
                                     "%(num)d contracts of mine being created in billing", n)),
)


class _OwnQueue(Queue):
    def visible_to(self, user) -> bool:
        from app.permissions import has_permission

        return super().visible_to(user) and not has_permission(user, SEE_ALL, PORTFOLIO)


for _i, (_status, _label) in enumerate(_OWN):
    register(_OwnQueue(f"sales.own_{_status.value}", _label, ("can_access", "Sales"),
                       (lambda status: lambda user: own_count(user, status))(_status),
                       "sales.index", {"status": _status.name}, area=_l("My contracts"), order=20 + _i,
                       also=((wf.ENTER, wf.WORKFLOW),)))
