"""Portfolio (F-15) and commission statements (F-16) for agents; managers see every agent's."""
from __future__ import annotations

import io

from flask import abort, request, send_file
from flask_login import current_user

from app.views.input_guard import query_int
from app.extensions import db
from app.models import Agent
from app.services.sales import commissions, portfolio
from app.services.sales.contracts import agent_of
from app.views.charts import bar_chart

from . import bp
from .common import render, sales_access


@bp.route("/portfolio")
@sales_access
def portfolio_page():
    q = request.args.get("q", "")
    agent_id = query_int("agent")
    return render("sales/portfolio.html", q=q, agent_id=agent_id,
                  customers=portfolio.customers(current_user, q, agent_id),
                  supply_points=portfolio.supply_points(current_user, q, agent_id),
                  contracts=portfolio.contracts(current_user, q, agent_id=agent_id),
                  agents=portfolio.agents(current_user))


def _agent_for_statement() -> Agent | None:
    """The agent whose statement is asked: one's own, or any for managers."""
    agent_id = query_int("agent")
    if not commissions.sees_every_agent(current_user):
        own = agent_of(current_user)
        if own is None:
            abort(403)
        return own
    if agent_id:
        agent = db.session.get(Agent, agent_id)
        if agent is None:
            abort(404)
        return agent
    return None


@bp.route("/commissions")
@sales_access
def commissions_page():
    agent = _agent_for_statement()
    periods = commissions.periods(agent)
    period = request.args.get("period") or (periods[0] if periods else "")
    stmt = commissions.statement(agent, period) if agent and period else None
    every_agent = commissions.sees_every_agent(current_user)
    overview = commissions.totals_by_agent(period) if every_agent and period else []
    chart = None
    if overview:
        chart = bar_chart([a.code for a, _t in overview], [float(t) for _a, t in overview], unit="€")
    return render("sales/commissions.html", agent=agent, periods=periods, period=period,
                  statement=stmt, overview=overview, chart=chart,
                  agents=portfolio.all_agents() if every_agent else [])


@bp.route("/commissions/statement.pdf")
@sales_access
def commissions_pdf():
    agent = _agent_for_statement()
    period = request.args.get("period", "")
    if agent is None or not period:
        abort(404)
    stmt = commissions.statement(agent, period)
    language = (agent.user.language if agent.user is not None else None) or "it"
    pdf = commissions.statement_pdf(stmt, language)
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                     download_name=f"commissions-{agent.code}-{period}.pdf")
