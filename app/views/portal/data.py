"""The customer's own data (F-61): personal API tokens and exports (readings and consumption as
CSV or JSON, invoices as a ZIP of PDFs). Thin: parse the form, call one service, answer."""
from __future__ import annotations

import json

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db, limiter
from app.i18n import gettext as _
from app.models import ApiToken, InvoiceExport, SupplyPoint, TokenScope
from app.services.portal import accounts, api_tokens, exports, zip_exports
from app.services.portal.invoices import InvoiceFilter, invoice_page
from app.views.input_guard import MAX_PAGE, ascii_int, query_int

from . import bp, current_customer_id, customer_required, get_owned_or_404
from .auth import _field_error
from .forms import ApiTokenForm, ConfirmForm

EXPORT_LIMIT = "30 per 10 minutes"


def _export_key() -> str:
    return f"portal-export:{current_customer_id()}"


# --- personal API tokens ---------------------------------------------------------------------

def _tokens_page(form: ApiTokenForm, *, secret: str | None = None, created: ApiToken | None = None,
                 status: int = 200):
    return render_template("portal/tokens.html", form=form, tokens=api_tokens.tokens_of(current_customer_id()),
                           secret=secret, created=created, revoke_form=ConfirmForm(),
                           api_docs=url_for("api_portal.docs"), api_base=url_for("api_portal.profile")
                           .rsplit("/", 1)[0] + "/"), status


@bp.route("/account/tokens", methods=["GET", "POST"])
@customer_required
def api_token_list():
    form = ApiTokenForm()
    if form.validate_on_submit():
        try:
            token, secret = api_tokens.create_token(
                current_user, form.name.data, TokenScope(form.scope.data), days=form.days.data,
                current_password=form.current_password.data, current_code=form.current_code.data)
        except (api_tokens.TokenError, accounts.AccountError) as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            # Shown on this answer only: the page is never stored (no-store) and never shown again.
            return _tokens_page(ApiTokenForm(formdata=None), secret=secret, created=token)
    return _tokens_page(form, status=400 if request.method == "POST" else 200)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@customer_required
def api_token_revoke(token_id):
    token = get_owned_or_404(ApiToken, token_id)
    if ConfirmForm().validate_on_submit():
        api_tokens.revoke_token(current_user, token)
        flash(_("The token %(name)s has been revoked: it no longer works.", name=token.name), "success")
    return redirect(url_for("portal.api_token_list"))


# --- exports -------------------------------------------------------------------------------------

@bp.route("/export")
@customer_required
def export():
    """Every export in one place: per supply point, and the invoices to choose for a ZIP."""
    cid = current_customer_id()
    page = query_int("page", 1, minimum=1, maximum=MAX_PAGE)
    found = invoice_page(cid, InvoiceFilter(page=page))
    import sqlalchemy as sa

    supply_points = list(db.session.scalars(sa.select(SupplyPoint).where(SupplyPoint.customer_id == cid)
                                            .order_by(SupplyPoint.code)))
    return render_template("portal/export.html", supply_points=supply_points, found=found,
                           form=ConfirmForm(), zip_max=exports.ZIP_MAX,
                           prepared=zip_exports.recent_exports(cid),
                           preparing=zip_exports.open_export(cid) is not None)


def _download(data: bytes, mimetype: str, name: str) -> Response:
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


_SERIES = {"readings": (exports.readings_csv, exports.reading_rows),
           "consumption": (exports.consumption_csv, exports.consumption_rows)}


def _series_view(what: str, fmt: str):
    as_csv, as_rows = _SERIES[what]

    @customer_required
    @limiter.limit(EXPORT_LIMIT, key_func=_export_key)
    def view(sp_id):
        sp = get_owned_or_404(SupplyPoint, sp_id)
        if fmt == "csv":
            return _download(as_csv(sp), "text/csv; charset=utf-8", exports.filename(sp, what, "csv"))
        rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in as_rows(sp)]
        body = json.dumps({"supply_point": sp.code, what: rows}, ensure_ascii=False, indent=1, default=str)
        return _download(body.encode("utf-8"), "application/json", exports.filename(sp, what, "json"))

    view.__name__ = f"export_{what}_{fmt}"
    return view


# One page per series and format: /portal/supply/<id>/export/readings.csv, ….json, consumption.…
for _what in _SERIES:
    for _fmt in ("csv", "json"):
        bp.add_url_rule(f"/supply/<int:sp_id>/export/{_what}.{_fmt}", view_func=_series_view(_what, _fmt))


@bp.route("/invoices/zip", methods=["POST"])
@customer_required
@limiter.limit(EXPORT_LIMIT, key_func=_export_key)
def invoices_zip():
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired: choose the invoices again."), "error")
        return redirect(url_for("portal.export"))
    ids = [i for i in (ascii_int(v) for v in request.form.getlist("invoice")) if i is not None]
    everything = request.form.get("all") == "1"
    if everything or len(set(ids)) > exports.ZIP_MAX:  # too many to build while the customer waits
        try:
            export = zip_exports.request_zip(current_user, None if everything else ids)
        except exports.ExportError as exc:
            flash(str(exc.message), "error")
        else:
            flash(_("We are preparing the ZIP of %(count)s invoices: it will be on this page, and we will "
                    "send you an e-mail when it is ready.", count=export.total), "success")
        return redirect(url_for("portal.export"))
    try:
        data = exports.invoices_zip(current_customer_id(), ids)
    except exports.ExportError as exc:
        flash(str(exc.message), "error")
        return redirect(url_for("portal.export"))
    return _download(data, "application/zip", _zip_name())


def _zip_name() -> str:
    return "bollette.zip" if current_user.language != "en" else "invoices.zip"


@bp.route("/export/<int:export_id>/invoices.zip")
@customer_required
@limiter.limit(EXPORT_LIMIT, key_func=_export_key)
def prepared_zip(export_id):
    """A ZIP prepared in the background: its owner's only, while it has not expired."""
    export = get_owned_or_404(InvoiceExport, export_id)
    data = zip_exports.content(export)
    if data is None:
        abort(404)
    return _download(data, "application/zip", _zip_name())
