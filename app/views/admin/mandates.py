"""Back-office view of direct debit mandates (F-06): every mandate with its state, a queue of
the requests waiting for a decision, and on a mandate's page the decision itself (accept, or
reject with a reason the customer reads). Thin: the rules live in
`app/services/portal/direct_debit.py`."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder.baseviews import expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l
from app.models import DirectDebitMandate, MandateStatus
from app.roles import BACK_OFFICE, MANAGER, READ
from app.services.portal import direct_debit as svc

from .base import SecureModelView
from .crm import datetime_formatter

ROLE_GRANTS = {
    BACK_OFFICE: {"MandateView": READ + ("can_decide",), "MandateQueueView": READ + ("can_decide",)},
    MANAGER: {"MandateView": READ, "MandateQueueView": READ},
}
DECISIONS = ("accept", "reject")


class DecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason for a rejection (the customer reads it)"), [Length(max=500)])


class MandateView(SecureModelView):
    """Every mandate, newest first, searchable by state."""

    datamodel = SQLAInterface(DirectDebitMandate)
    base_permissions = ["can_list", "can_show", "can_decide"]
    list_title = _l("Direct debit mandates")
    show_title = _l("Direct debit mandate")
    show_template = "admin/mandate_show.html"
    list_columns = ["reference", "supply_point.customer", "supply_point", "holder_last_name", "iban", "status", "created_at",
                    "status_changed_at"]
    show_columns = ["reference", "status", "rejection_reason", "supply_point.customer", "supply_point", "iban", "holder_last_name",
                    "holder_first_name", "holder_tax_code", "bank", "branch", "branch_address",
                    "signed_on", "activity", "created_at", "status_changed_at", "revoked_at"]
    search_columns = ["status", "reference", "supply_point", "created_at"]
    order_columns = ["reference", "status", "created_at", "status_changed_at"]
    base_order = ("created_at", "desc")
    label_columns = {"reference": _l("Mandate reference"), "supply_point": _l("Supply point"),
                     "supply_point.customer": _l("Customer"), "holder_last_name": _l("Account holder"), "holder_first_name": _l("Holder's first name"),
                     "holder_tax_code": _l("Holder's tax code"), "iban": _l("IBAN"), "status": _l("Status"),
                     "rejection_reason": _l("Reason"), "bank": _l("Bank"), "branch": _l("Branch"),
                     "branch_address": _l("Branch address"), "signed_on": _l("Signed on"),
                     "activity": _l("Request"), "created_at": _l("Requested on"),
                     "status_changed_at": _l("Last state change"), "revoked_at": _l("Revocation asked on")}
    # IBAN and tax code are masked by role, dates shown in Rome time, by the base view.
    formatters_columns = {"created_at": datetime_formatter, "status_changed_at": datetime_formatter,
                          "revoked_at": datetime_formatter}

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        mandate = self._get_visible_or_404(pk)
        can_decide = (mandate.status == MandateStatus.REQUESTED
                      and self.appbuilder.sm.has_access("can_decide", self.class_permission_name))
        return self.render_template(self.show_template, pk=mandate.id, title=self.show_title,
                                    widgets=self._show(mandate.id), related_views=self._related_views,
                                    mandate=mandate, can_decide=can_decide, form=DecisionForm())

    @expose("/decide/<pk>", methods=["POST"])
    @has_access
    @permission_name("decide")
    def decide(self, pk):
        mandate = self._get_visible_or_404(pk)
        form = DecisionForm()
        decision = request.form.get("decision", "")
        if decision not in DECISIONS or not form.validate_on_submit():
            abort(400)
        try:
            if decision == "accept":
                svc.accept(current_user, mandate)
            else:
                svc.reject(current_user, mandate, form.reason.data or "")
        except svc.MandateError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
        else:
            flash(_("Mandate %(ref)s accepted: it is active.", ref=mandate.reference) if decision == "accept"
                  else _("Mandate %(ref)s rejected; the customer is told the reason.", ref=mandate.reference),
                  "success")
        return redirect(self._after_decision(mandate))

    def _after_decision(self, mandate) -> str:
        """The mandate's page here while this view still shows it (the queue shows only requests),
        else among all mandates, else this list."""
        if self.datamodel.get(mandate.id, self._base_filters) is not None:
            return url_for(f"{self.endpoint}.show", pk=mandate.id)
        if self.appbuilder.sm.has_access("can_show", "MandateView"):
            return url_for("MandateView.show", pk=mandate.id)
        return url_for(f"{self.endpoint}.list")


class MandateQueueView(MandateView):
    """The requests waiting for the back office's decision, oldest first."""

    list_title = _l("Mandates to handle")
    base_filters = [["status", FilterEqual, MandateStatus.REQUESTED]]
    base_order = ("created_at", "asc")
    search_columns = ["reference", "supply_point", "created_at"]


def register(appbuilder) -> None:
    crm = "CRM"
    appbuilder.add_view(MandateQueueView, "Mandates to handle", label=_l("Direct debit mandates to handle"),
                        icon="fa-university", category=crm)
    appbuilder.add_view(MandateView, "Mandates", label=_l("Direct debit mandates"), icon="fa-bank",
                        category=crm)


__all__ = ["MandateView", "MandateQueueView"]
