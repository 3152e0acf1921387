"""The sales network's pages (F-11 … F-16): a hand-written blueprint, tablet friendly.

Agents enter contracts with the wizard, follow their contracts' states, see their portfolio
and their commissions, and work their prospects (F-17); managers and the back office see
everyone's (managers also every agent's prospects). Every page needs
`can_access` on `Sales`; staff log in with the back-office login (FAB); every contract is
loaded through `portfolio.get_contract_or_404`.
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sales", __name__, url_prefix="/sales")

from . import prospects, reconciliation, reports, routes, signed  # noqa: E402,F401  (routes register on bp)
from .common import ROLE_GRANTS, forbidden  # noqa: E402

bp.register_error_handler(403, forbidden)

__all__ = ["bp", "ROLE_GRANTS"]
