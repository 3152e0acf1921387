"""Back-office views of the sales network (F-13, F-15, F-16): contracts, agents, commissions.

Status is never an edit field: the contract page shows the buttons the transition table
(`app/services/contracts`) allows the user now, with a reason where it is required; the list's
bulk actions (validate, approve, activate) call the same service. Agents get `MyContractView`,
filtered to their own contracts (actions re-load rows through that filter).
"""
from __future__ import annotations

import io

import sqlalchemy as sa
from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.baseviews import expose
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterEqualFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l, ngettext
from app.models import (Agent, Commission, CommissionRule, Contract, ContractDocument,
                        ContractStatus)
from app.roles import AGENT, BACK_OFFICE, CREDIT_CHECK, MANAGER, READ
from app.services.sales import commissions as commission_svc
from app.services.sales import documents as docs
from app.services.sales import contracts as svc

from .base import SecureModelView, money_formatter

CRUD = ("can_list", "can_show", "can_add", "can_edit", "can_delete")
WORK = ("can_work", "can_document")
ROLE_GRANTS = {
    MANAGER: {"ContractView": READ + WORK, "AgentView": CRUD, "CommissionRuleView": CRUD,
              "CommissionView": READ + ("export",)},
    BACK_OFFICE: {"ContractView": READ + WORK + ("validate", "activate"),
                  "ValidationQueueView": READ + WORK + ("validate",),
                  "ActivationQueueView": READ + WORK + ("activate",)},
    CREDIT_CHECK: {"ContractView": READ + WORK + ("approve",),
                   "CreditCheckQueueView": READ + WORK + ("approve",)},
    AGENT: {"MyContractView": READ + ("can_work", "can_document", "discard")},
}
for _role in (MANAGER, BACK_OFFICE, CREDIT_CHECK, AGENT):
    ROLE_GRANTS[_role]["Sales pages"] = ("menu_access",)
ROLE_GRANTS[MANAGER]["Commission reconciliation"] = ("menu_access",)
# Actions people take on the contract page (the others are the system's).
PEOPLE_ACTIONS = ("validate", "approve", "activate", "reject", "cancel", "discard")


def _done_message(name: str, n: int) -> str:
    """The bulk result, grammatical in every language ("1 contratto attivato")."""
    if name == "validate":
        return ngettext("%(num)d contract validated.", "%(num)d contracts validated.", n)
    if name == "approve":
        return ngettext("Credit approved for %(num)d contract.", "Credit approved for %(num)d contracts.", n)
    if name == "activate":
        return ngettext("%(num)d contract activated.", "%(num)d contracts activated.", n)
    if name == "discard":
        return ngettext("%(num)d draft discarded.", "%(num)d drafts discarded.", n)
    return ngettext("%(num)d contract changed.", "%(num)d contracts changed.", n)


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), [Length(max=2000)])


def _agent_id_of_user():
    agent = svc.agent_of(current_user)
    return agent.id if agent else -1


class ContractView(SecureModelView):
    """Every contract (back office, credit check, managers)."""

    datamodel = SQLAInterface(Contract)
    base_permissions = ["can_list", "can_show", "can_work", "can_document"]
    list_title = _l("Contracts")
    show_title = _l("Contract")
    show_template = "admin/contracts_show.html"
    list_columns = ["number", "customer_name", "created_at", "agent", "service", "use_type", "pdr", "pod",
                    "status"]
    show_columns = ["number", "status", "agent", "service", "use_type", "pdr", "pod", "payment_method",
                    "language", "customer", "supply_point", "reservation_number", "rejection_reason",
                    "signed_on", "activated_at", "invoiceable_at", "created_at", "updated_at"]
    search_columns = ["number", "status", "agent", "service", "use_type", "pdr", "pod", "created_at"]
    order_columns = ["number", "created_at", "status"]
    base_order = ("created_at", "desc")
    label_columns = {"number": _l("Contract"), "customer_name": _l("Customer"),
                     "created_at": _l("Entered on"), "agent": _l("Agent"),
                     "service": _l("Service"), "use_type": _l("Use type"), "pdr": _l("PDR"),
                     "pod": _l("POD"), "status": _l("Status"), "payment_method": _l("Payment"),
                     "language": _l("Language"), "customer": _l("Customer"),
                     "supply_point": _l("Supply point"), "reservation_number": _l("Billing reservation"),
                     "rejection_reason": _l("Reason"), "signed_on": _l("Signed on"),
                     "activated_at": _l("Activated at"), "invoiceable_at": _l("Invoiceable since"),
                     "updated_at": _l("Last change")}

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        contract = self._get_visible_or_404(pk)
        widgets = self._show(contract.id)
        can_work = self.appbuilder.sm.has_access("can_work", self.class_permission_name)
        actions = [a for a in svc.allowed_actions(contract, current_user) if a in PEOPLE_ACTIONS]
        return self.render_template(
            self.show_template, pk=contract.id, title=self.show_title, widgets=widgets,
            related_views=self._related_views, contract=contract, history=svc.history_of(contract),
            documents=docs.documents_of(contract), actions=actions if can_work else [],
            needs_reason={a: svc.needs_reason(contract, a) for a in actions},
            action_labels=svc.ACTION_LABELS, form=ReasonForm(), data=contract.data or {})

    @expose("/work/<pk>", methods=["POST"])
    @has_access
    @permission_name("work")
    def work(self, pk):
        contract = self._get_visible_or_404(pk)
        form = ReasonForm()
        name = request.form.get("action", "")
        if name not in PEOPLE_ACTIONS or not form.validate_on_submit():
            abort(400)
        try:
            svc.transition(contract, name, current_user, form.reason.data or "")
        except svc.TransitionError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            flash(_("Done: %(action)s.", action=svc.ACTION_LABELS.get(name, name)), "success")
        # The contract's page in this view while it still shows it (a queue shows one state),
        # else its page among all contracts, else this list.
        return redirect(self.landing_url(contract, "ContractView"))

    @expose("/document/<pk>/<int:doc_id>", methods=["GET"])
    @has_access
    @permission_name("document")
    def document(self, pk, doc_id):
        contract = self._get_visible_or_404(pk)
        doc = db.session.scalar(sa.select(ContractDocument).where(
            ContractDocument.id == doc_id, ContractDocument.contract_id == contract.id))
        if doc is None:
            abort(404)
        return send_file(io.BytesIO(doc.pdf), mimetype="application/pdf", as_attachment=True,
                         download_name=docs.filename(doc))

    def _bulk(self, items, name: str):
        items = items if isinstance(items, list) else [items]
        done, refused = 0, 0
        for contract in items:
            try:
                svc.transition(contract, name, current_user)
                done += 1
            except svc.TransitionError:
                db.session.rollback()
                refused += 1
        if done:
            flash(_done_message(name, done), "success")
        if refused:
            flash(ngettext("%(num)d contract was left unchanged (its state or your role does not allow it).",
                           "%(num)d contracts were left unchanged (their state or your role does not allow it).",
                           refused), "warning")
        return redirect(url_for(f"{self.endpoint}.list"))

    @action("validate", _l("Validate"), confirmation=None, icon="fa-check", multiple=True, single=False)
    def validate_action(self, items):
        return self._bulk(items, "validate")

    @action("approve", _l("Approve credit"), confirmation=None, icon="fa-thumbs-up", multiple=True, single=False)
    def approve_action(self, items):
        return self._bulk(items, "approve")

    @action("activate", _l("Activate"), confirmation=None, icon="fa-bolt", multiple=True, single=False)
    def activate_action(self, items):
        return self._bulk(items, "activate")


class MyContractView(ContractView):
    """The contracts the logged-in agent entered (read, documents, discard drafts)."""

    base_permissions = ["can_list", "can_show", "can_work", "can_document"]
    list_title = _l("My contracts")
    base_filters = [["agent_id", FilterEqualFunction, _agent_id_of_user]]
    search_columns = ["number", "status", "service", "pdr", "pod", "created_at"]

    @action("discard", _l("Discard draft"), confirmation=None, icon="fa-trash", multiple=True, single=False)
    def discard_action(self, items):
        return self._bulk(items, "discard")

    # Not for agents: these stay in the back office.
    validate_action = approve_action = activate_action = None


class _QueueView(ContractView):
    """Contracts waiting for one step (a work queue), oldest first."""

    base_order = ("created_at", "asc")
    search_columns = ["number", "agent", "service", "use_type", "pdr", "pod", "created_at"]


class ValidationQueueView(_QueueView):
    list_title = _l("Contracts to validate")
    base_filters = [["status", FilterEqual, ContractStatus.PROCESSING]]
    approve_action = activate_action = None


class CreditCheckQueueView(_QueueView):
    list_title = _l("Contracts for credit check")
    base_filters = [["status", FilterEqual, ContractStatus.VALIDATED]]
    validate_action = activate_action = None


class ActivationQueueView(_QueueView):
    list_title = _l("Contracts to activate")
    base_filters = [["status", FilterEqual, ContractStatus.APPROVED]]
    validate_action = approve_action = None


class AgentView(SecureModelView):
    datamodel = SQLAInterface(Agent)
    list_title = show_title = _l("Agents")
    add_title = edit_title = _l("Agent")
    list_columns = ["code", "name", "email", "phone", "user", "manager", "active"]
    add_columns = edit_columns = ["code", "name", "email", "phone", "user", "manager", "active"]
    show_columns = list_columns + ["created_at"]
    search_columns = ["code", "name", "email", "active"]
    # Staff logins only: portal customers are never agents.
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "user": [["customer_id", FilterEqual, None]], "manager": [["customer_id", FilterEqual, None]]}
    label_columns = {"code": _l("Agent code"), "name": _l("Name"), "email": _l("E-mail"),
                     "phone": _l("Phone"), "user": _l("Login"), "manager": _l("Manager"),
                     "active": _l("Active agent"), "created_at": _l("Entered on")}


class CommissionRuleView(SecureModelView):
    datamodel = SQLAInterface(CommissionRule)
    list_title = show_title = _l("Commission rules")
    add_title = edit_title = _l("Commission rule")
    list_columns = ["service", "use_type", "trigger", "amount", "clawback_days", "valid_from", "valid_to"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["service", "use_type", "trigger", "valid_from"]
    label_columns = {"service": _l("Service"), "use_type": _l("Use type (empty: any)"),
                     "trigger": _l("Earned"), "amount": _l("Amount"),
                     "clawback_days": _l("Taken back if cancelled within (days)"),
                     "valid_from": _l("Valid from"), "valid_to": _l("Valid to")}
    formatters_columns = {"amount": money_formatter}


class CommissionView(SecureModelView):
    datamodel = SQLAInterface(Commission)
    base_permissions = ["can_list", "can_show"]
    list_title = show_title = _l("Commissions")
    list_columns = ["period", "agent", "contract", "trigger", "status", "amount", "billing_batch"]
    show_columns = list_columns + ["rule", "created_at"]
    search_columns = ["period", "agent", "status", "trigger", "billing_batch"]
    base_order = ("period", "desc")
    label_columns = {"period": _l("Period"), "agent": _l("Agent"), "contract": _l("Contract"),
                     "trigger": _l("Event"), "status": _l("Status"), "amount": _l("Amount"),
                     "billing_batch": _l("Billing batch"), "rule": _l("Rule"), "created_at": _l("Earned at")}
    formatters_columns = {"amount": money_formatter}

    @action("export", _l("Export the period to billing"), confirmation=None, icon="fa-upload",
            multiple=True, single=True)
    def export_action(self, items):
        """Send every earned commission of the selected rows' periods to billing."""
        items = items if isinstance(items, list) else [items]
        for period in sorted({c.period for c in items}):
            msg = commission_svc.export_period(period, current_user)
            if msg is None:
                flash(_("%(period)s: nothing left to export.", period=period), "info")
            else:
                flash(_("%(period)s: %(n)s lines queued for billing.", period=period,
                        n=len(msg.payload["lines"])), "success")
        return redirect(url_for(f"{self.endpoint}.list"))


def register(appbuilder) -> None:
    sales = "Sales network"
    appbuilder.add_link("Sales pages", href="/sales/", label=_l("Contract entry and portfolio"),
                        icon="fa-tablet", category=sales, category_label=_l("Sales network"),
                        category_icon="fa-handshake-o")
    appbuilder.add_view(MyContractView, "My contracts", label=_l("My contracts"), icon="fa-file-text-o",
                        category=sales)
    appbuilder.add_view(ContractView, "Contracts", label=_l("Contracts"), icon="fa-file-text",
                        category=sales)
    appbuilder.add_view(ValidationQueueView, "Contracts to validate", label=_l("Contracts to validate"),
                        icon="fa-check-square-o", category=sales)
    appbuilder.add_view(CreditCheckQueueView, "Credit check", label=_l("Contracts for credit check"),
                        icon="fa-balance-scale", category=sales)
    appbuilder.add_view(ActivationQueueView, "Contracts to activate", label=_l("Contracts to activate"),
                        icon="fa-bolt", category=sales)
    appbuilder.add_view(CommissionView, "Commissions", label=_l("Commissions"), icon="fa-eur", category=sales)
    appbuilder.add_link("Commission reconciliation", href="/sales/commissions/reconciliation",
                        label=_l("Commission reconciliation"), icon="fa-balance-scale", category=sales)
    appbuilder.add_view(CommissionRuleView, "Commission rules", label=_l("Commission rules"),
                        icon="fa-sliders", category=sales)
    appbuilder.add_view(AgentView, "Agents", label=_l("Agents"), icon="fa-id-badge", category=sales)


__all__ = ["ContractView", "MyContractView", "ValidationQueueView", "CreditCheckQueueView",
           "ActivationQueueView", "AgentView", "CommissionRuleView", "CommissionView"]
