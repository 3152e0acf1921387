"""Contracts: the list, the entry wizard (F-11), the detail with documents (F-12) and actions (F-13)."""
from __future__ import annotations

import io

import sqlalchemy as sa
from flask import abort, flash, redirect, request, send_file, url_for
from flask_login import current_user

from app.i18n import gettext as _
from app.views.input_guard import query_int
from app.extensions import db
from app.models import ContractDocument, ContractStatus
from app.services.sales import documents as docs
from app.services.sales import wizard as wiz
from app.services.sales import contracts as wf
from app.services.sales import portfolio

from . import bp
from .forms import ExactSearchForm, form_for, form_values
from .common import ActionForm, PostForm, render, sales_access


PEOPLE_ACTIONS = ("validate", "approve", "activate", "reject", "cancel", "discard")


@bp.route("/")
@sales_access
def index():
    q = request.args.get("q", "")
    status = request.args.get("status", "")
    agent_id = query_int("agent")
    rows = portfolio.contracts(current_user, q, status, agent_id)
    return render("sales/contracts.html", contracts=rows, q=q, status=status, agent_id=agent_id,
                  statuses=list(ContractStatus), agents=portfolio.agents(current_user),
                  can_enter=wiz.may_enter(current_user))


@bp.route("/contracts/new", methods=["GET", "POST"])
@sales_access
def new_contract():
    """The customer step of a contract not created yet: the draft is created when it is saved."""
    if not wiz.may_enter(current_user):
        abort(403)
    return _step_page(None, "customer")


@bp.route("/contracts/<int:contract_id>/<step>", methods=["GET", "POST"])
@sales_access
def step(contract_id: int, step: str):
    contract = portfolio.get_contract_or_404(current_user, contract_id)
    if step not in wiz.STEPS:
        abort(404)
    try:
        wiz.check_editable(contract, current_user)
    except wiz.EditRefused as exc:
        flash(str(exc), "warning")
        return redirect(url_for(".detail", contract_id=contract.id))
    if step == "summary":
        return render("sales/wizard_summary.html", contract=contract, steps=wiz.STEPS,
                      titles=wiz.STEP_TITLES, current="summary", missing=wiz.missing_steps(contract),
                      form=PostForm(), label=docs._label, duplicates=wiz.duplicates(contract, current_user),
                      discard_form=ActionForm(action="discard"))
    return _step_page(contract, step)


def _step_page(contract, step: str):
    contract_id = contract.id if contract is not None else None
    form = form_for(contract, step, request.form if request.method == "POST" else None, user=current_user)
    results, query, exact, search = [], request.args.get("q", "").strip(), None, None
    if step == "customer":
        search = ExactSearchForm(request.args, prefix="exact")
        if query:
            results = wiz.search_customers(current_user, query, exclude_contract_id=contract_id)
        if search.customer_code.data or search.identifier.data:
            exact = wiz.exact_customer(search.customer_code.data, search.identifier.data) or False
    if request.method == "POST":
        if request.form.get("save") == "draft":
            if not _csrf_ok():
                abort(400)
            values = form_values(form)
            if contract is None:
                contract = wiz.start(current_user, values, complete=False)
            else:
                wiz.save_step(contract, step, values, current_user, complete=False)
            flash(_("Draft saved."), "info")
            return redirect(url_for(".step", contract_id=contract.id, step=step))
        if form.validate_on_submit():
            try:
                if contract is None:
                    contract = wiz.start(current_user, form.values())
                else:
                    wiz.save_step(contract, step, form.values(), current_user)
            except wiz.EditRefused as exc:
                flash(str(exc), "danger")
                return redirect(url_for(".index") if contract is None else url_for(".detail", contract_id=contract.id))
            following = wiz.STEPS[wiz.STEPS.index(step) + 1]
            return redirect(url_for(".step", contract_id=contract.id, step=following))
    duplicates = wiz.duplicates(contract, current_user) if contract is not None and step in ("customer", "supply") else []
    return render(f"sales/wizard_{step}.html", contract=contract, form=form, steps=wiz.STEPS,
                  titles=wiz.STEP_TITLES, current=step, results=results, q=query, exact=exact,
                  search=search, duplicates=duplicates, discard_form=ActionForm(action="discard"))


def _csrf_ok() -> bool:
    from flask_wtf.csrf import ValidationError, validate_csrf

    try:
        validate_csrf(request.form.get("csrf_token", ""))
        return True
    except ValidationError:
        return False


@bp.route("/contracts/<int:contract_id>/finish", methods=["POST"])
@sales_access
def finish(contract_id: int):
    contract = portfolio.get_contract_or_404(current_user, contract_id)
    if not PostForm().validate_on_submit():
        abort(400)
    try:
        wiz.finish(contract, current_user)
    except wf.TransitionError as exc:
        flash(str(exc), "danger")
        if contract.status in wf.EDITABLE:
            return redirect(url_for(".step", contract_id=contract.id, step="summary"))
        return redirect(url_for(".detail", contract_id=contract.id))
    flash(_("Contract %(number)s saved: print the documents and have them signed.", number=contract.number),
          "success")
    return redirect(url_for(".detail", contract_id=contract.id))


@bp.route("/contracts/<int:contract_id>")
@sales_access
def detail(contract_id: int):
    contract = portfolio.get_contract_or_404(current_user, contract_id)
    # Submitting goes through the summary (completeness, documents); the rest are buttons here.
    actions = [a for a in wf.allowed_actions(contract, current_user) if a in PEOPLE_ACTIONS]
    forms = {a: ActionForm(action=a) for a in actions}
    editable = True
    try:
        wiz.check_editable(contract, current_user)
    except wiz.EditRefused:
        editable = False
    return render("sales/contract_detail.html", contract=contract, history=wf.history_of(contract),
                  documents=docs.documents_of(contract), actions=actions, forms=forms,
                  labels=wf.ACTION_LABELS, needs_reason=lambda a: wf.needs_reason(contract, a),
                  editable=editable, steps=wiz.STEPS, titles=wiz.STEP_TITLES, label=docs._label)


@bp.route("/contracts/<int:contract_id>/action/<action>", methods=["POST"])
@sales_access
def act(contract_id: int, action: str):
    contract = portfolio.get_contract_or_404(current_user, contract_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if action not in PEOPLE_ACTIONS:
        abort(404)
    try:
        wf.transition(contract, action, current_user, form.reason.data or "")
        flash(_("Done: %(action)s.", action=wf.ACTION_LABELS.get(action, action)), "success")
    except wf.TransitionError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    return redirect(url_for(".detail", contract_id=contract.id))


@bp.route("/contracts/<int:contract_id>/documents/<int:doc_id>.pdf")
@sales_access
def document(contract_id: int, doc_id: int):
    contract = portfolio.get_contract_or_404(current_user, contract_id)
    doc = db.session.scalar(sa.select(ContractDocument).where(
        ContractDocument.id == doc_id, ContractDocument.contract_id == contract.id))
    if doc is None:
        abort(404)
    return send_file(io.BytesIO(doc.pdf), mimetype="application/pdf", as_attachment=True,
                     download_name=docs.filename(doc))
