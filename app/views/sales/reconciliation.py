"""The commission reconciliation with billing (F-16): per period, what we computed against what
billing reports, per agent and contract; differences marked; CSV; recording the outcome."""
from __future__ import annotations

import datetime as dt

from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user

from app.billing.gateway import BillingError
from app.clock import local_today
from app.i18n import gettext as _
from app.models import CommissionStatus
from app.services.sales import commissions

from . import bp
from .common import PostForm, render, sales_access


@bp.context_processor
def _reconciliation_menu() -> dict:
    return {"may_reconcile": lambda: commissions.may_reconcile(current_user)}


def _period() -> str:
    period = request.values.get("period", "")
    try:
        dt.datetime.strptime(period, "%Y-%m")
    except ValueError:
        periods = commissions.periods()
        return periods[0] if periods else f"{local_today():%Y-%m}"
    return period


def _guard() -> None:
    if not commissions.may_reconcile(current_user):
        abort(403)


@bp.route("/commissions/reconciliation")
@sales_access
def reconciliation_page():
    _guard()
    period = _period()
    recon, error = None, ""
    try:
        recon = commissions.compare(period)
    except BillingError:
        error = _("Billing does not answer now: the comparison can't be made. Try again in a few minutes.")
    return render("sales/reconciliation.html", period=period, periods=commissions.periods(), recon=recon,
                  error=error, counts=commissions.status_counts(period), form=PostForm(),
                  status_label=lambda value: CommissionStatus(value).label)


@bp.route("/commissions/reconciliation", methods=["POST"])
@sales_access
def reconcile():
    _guard()
    if not PostForm().validate_on_submit():
        abort(400)
    period = _period()
    try:
        recon = commissions.reconcile(period, current_user)
    except BillingError:
        flash(_("Billing does not answer now: nothing was recorded. Try again in a few minutes."), "danger")
        return redirect(url_for(".reconciliation_page", period=period))
    agreeing = len(recon.lines) - len(recon.differences)
    if recon.differences:
        flash(_("%(period)s: %(ok)s contracts agree with billing and are reconciled; %(bad)s differ and stay open.",
                period=period, ok=agreeing, bad=len(recon.differences)), "warning")
    else:
        flash(_("%(period)s: every contract agrees with billing; the period is reconciled.", period=period), "success")
    return redirect(url_for(".reconciliation_page", period=period))


@bp.route("/commissions/reconciliation.csv")
@sales_access
def reconciliation_csv():
    _guard()
    period = _period()
    try:
        recon = commissions.compare(period)
    except BillingError:
        flash(_("Billing does not answer now: the comparison can't be made. Try again in a few minutes."), "danger")
        return redirect(url_for(".reconciliation_page", period=period))
    body = "\ufeff" + commissions.reconciliation_csv(recon)  # BOM: spreadsheets read it as UTF-8
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=commission-reconciliation-{period}.csv",
        "X-Content-Type-Options": "nosniff"})
