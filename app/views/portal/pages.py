"""Customer pages: supply points, readings (F-02), consumption (F-10), invoices (F-07, F-09),
personal data (F-04), mailing address (F-05), direct debit (F-06), invoice by e-mail (F-08),
"my requests". Thin: parse the form, call one service, flash, redirect."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, undefer
from wtforms.fields.choices import SelectChoice

from app.clock import local_today
from app.extensions import db, limiter
from app.formatting import format_date
from app.i18n import gettext as _
from app.models.base import utcnow
from app.models import (Activity, Customer, DeliveryMode, DirectDebitMandate, Invoice,
                        Meter, SupplyPoint)
from app.services.portal import accounts, customer_data, direct_debit, invoice_delivery, readings, requests as customer_requests
from app.services.portal import overview
from app.views.charts import bar_chart
from app.views.input_guard import MAX_PAGE, ascii_int, query_int
from app.services.portal.invoices import (SORTS, STATUS_FILTERS, InvoiceFilter, invoice_detail,
                                         invoice_page, supply_point_options)
from app.services.mailing.invoice_links import read_invoice_token
from app.services.sync import freshness
from app.services.sync.invoice_pdf import owners_stored_pdf, stored_invoice_pdf

from . import bp, current_customer_id, customer_required, get_owned_or_404, owned_statement, with_reference
from .auth import _field_error, _safe_next
from .forms import (ConfirmForm, CorrectionForm, InvoiceDeliveryForm, MailingAddressForm,
                    MandateForm, PersonalDataForm, ReadingForm)

# Invoice years a customer may ask for (anything else is a 400).
MIN_YEAR, MAX_YEAR = 1900, 2999

REFRESH_LIMIT = "6 per 10 minutes"


def _customer() -> Customer:
    return db.session.get(Customer, current_customer_id())


def _supply_points(*options) -> list[SupplyPoint]:
    return list(db.session.scalars(sa.select(SupplyPoint).where(
        SupplyPoint.customer_id == current_customer_id()).order_by(SupplyPoint.code).options(*options)))


@bp.route("/home")
@customer_required
def home():
    cid = current_customer_id()
    stale, as_of = _fresh_copy(cid)
    summaries = overview.supply_summaries(cid)  # after a refresh: as billing has them now
    top = overview.overview(cid, summaries)
    return render_template("portal/home.html", name=top.name, balance=top.balance, notices=top.notices,
                           summaries=summaries, stale=stale, data_as_of=as_of)


# --- F-51 on demand: a copy older than the setting is read again from billing ------------------

_RETRY_AFTER = freshness.QUIET_AFTER_FAILURE  # billing did not answer this customer: not again so soon


def _fresh_copy(customer_id: int, *, force: bool = False) -> tuple[bool, dt.datetime | None]:
    """Refresh the customer's copy from billing (short timeout) when it is older than the
    `portal_refresh_minutes` setting, or when asked; (still stale, as of when)."""
    stale, as_of = _refreshed(customer_id, force)
    g.portal_data_as_of = as_of  # the layout shows the same date without asking again
    return stale, as_of


def _refreshed(customer_id: int, force: bool) -> tuple[bool, dt.datetime | None]:
    as_of = freshness.data_as_of(customer_id)
    if not force:
        if not freshness.is_stale(as_of):
            return False, as_of
        tried = session.get("refresh_tried_at")
        if (tried and utcnow() - dt.datetime.fromisoformat(tried) < _RETRY_AFTER) \
                or freshness.billing_recently_unanswered():
            return True, as_of
    if freshness.refresh_customer(db.session.get(Customer, customer_id)):
        session.pop("refresh_tried_at", None)
        return False, freshness.data_as_of(customer_id)
    session["refresh_tried_at"] = utcnow().isoformat()
    return freshness.is_stale(as_of), as_of


def _refresh_key() -> str:
    return f"portal-refresh:{current_customer_id()}"


@bp.route("/refresh", methods=["POST"])
@customer_required
@limiter.limit(REFRESH_LIMIT, methods=["POST"], key_func=_refresh_key)
def refresh_data():
    if ConfirmForm().validate_on_submit():
        _fresh_copy(current_customer_id(), force=True)
        if session.get("refresh_tried_at"):
            flash(_("The billing system is not answering right now: you are seeing the data we "
                    "already have."), "warning")
        else:
            flash(_("Your data have been updated from the billing system."), "success")
    return redirect(_safe_next(request.form.get("next")))


# --- F-02 self-reading, F-10 consumption ---------------------------------------------------------

def _active_meters(sp: SupplyPoint) -> list[Meter]:
    return [m for m in sp.meters if m.removed_on is None]


# The reading page's supply point with its meters, in one statement.
_WITH_METERS = owned_statement(SupplyPoint, joinedload(SupplyPoint.meters))
# A reading sent: the customer too (the confirmation e-mail is addressed to them).
_WITH_METERS_AND_CUSTOMER = owned_statement(SupplyPoint, joinedload(SupplyPoint.meters),
                                            joinedload(SupplyPoint.customer))


@bp.route("/supply/<int:sp_id>/reading", methods=["GET", "POST"])
@customer_required
def reading(sp_id):
    sp = get_owned_or_404(SupplyPoint, sp_id,
                          _WITH_METERS_AND_CUSTOMER if request.method == "POST" else _WITH_METERS)
    meters = _active_meters(sp)
    unit = readings.units(sp)
    form = ReadingForm()
    form.meter.choices = [SelectChoice(str(m.id), m.serial) for m in meters]
    if unit.reading:
        form.value.label.text = _("Meter reading (%(unit)s)", unit=unit.reading)
    if unit.corrector:
        form.corrector_value.label.text = _("Volume corrector reading (%(unit)s)", unit=unit.corrector)
    needs_confirmation = None
    if form.validate_on_submit():
        meter = next((m for m in meters if str(m.id) == form.meter.data), None)
        if meter is None:
            abort(404)
        try:
            _reading, check = readings.submit_reading(
                current_user, sp, meter, form.reading_date.data, form.value.data,
                form.corrector_value.data, confirmed=bool(form.confirm.data),
                confirmed_rollover=bool(form.confirm_rollover.data))
        except readings.NeedsConfirmation as exc:
            db.session.rollback()
            needs_confirmation = exc
            if exc.corrector_rolled_over and not exc.rolled_over:
                form.confirm_rollover.label.text = _(
                    "I confirm the volume corrector passed zero since the previous reading")
        except readings.ReadingError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            if check.same_as_previous:
                received = _("Reading received. It equals the previous one: no consumption since then."), "info"
            elif check.rolled_over:
                received = _("Reading received. The meter passed zero since the previous reading: "
                             "we counted the consumption across it."), "info"
            elif check.corrector_rolled_over:
                received = _("Reading received. The volume corrector passed zero since the previous "
                             "reading: we counted the consumption across it."), "info"
            else:
                received = _("Reading received: thank you."), "success"
            flash(with_reference(received[0], check.reference), received[1])
            if check.implausible:
                flash(_("The consumption is unusually high: our staff will check the reading."), "warning")
            return redirect(url_for("portal.consumption", sp_id=sp_id))
    last = readings.previous_readings(meters)
    status = 400 if request.method == "POST" else 200
    return render_template("portal/reading.html", sp=sp, meters=meters, form=form, last=last,
                           needs_confirmation=needs_confirmation, unit=unit,
                           coefficient=readings.coefficient(sp),
                           today=local_today().isoformat()), status


@bp.route("/supply/<int:sp_id>/consumption")
@customer_required
def consumption(sp_id):
    sp = readings.metered_supply(current_customer_id(), sp_id)  # <int:> stops at the largest key
    if sp is None:
        abort(404)
    rows = readings.consumption_history(sp)
    unit = readings.units(sp)
    chart_rows = [r for r in reversed(rows) if r.consumption is not None][-24:]
    chart = None
    if chart_rows:  # a wide chart, and a narrow one of the last 12 for phones
        labels = [format_date(r.reading.reading_date, "MMM yy") for r in chart_rows]
        values = [r.consumption for r in chart_rows]
        title = _("Consumption between readings")
        chart = (bar_chart(labels, values, unit=unit.consumption, title=title, css_class="chart-wide")
                 + bar_chart(labels[-12:], values[-12:], unit=unit.consumption, title=title,
                             width=360, height=240, css_class="chart-narrow"))
    with_corrector = any(m.has_corrector for m in sp.meters)
    return render_template("portal/consumption.html", sp=sp, rows=rows, chart=chart, unit=unit,
                           coefficient=readings.coefficient(sp), with_corrector=with_corrector)


# --- F-07 invoices, F-09 correction -------------------------------------------------------------

@bp.route("/invoices")
@customer_required
def invoices():
    cid = current_customer_id()
    stale, as_of = _fresh_copy(cid)
    options = supply_point_options(cid)
    sp = None
    if request.args.get("supply"):  # one of the customer's own, else 404
        wanted = ascii_int(request.args.get("supply"))
        sp = next((o for o in options if o.id == wanted), None)
        if sp is None:
            abort(404)
    status = request.args.get("status", "")
    if status not in STATUS_FILTERS:
        status = ""
    sort = request.args.get("sort", "date")
    if sort not in SORTS:
        sort = "date"
    direction = "asc" if request.args.get("dir") == "asc" else "desc"
    flt = InvoiceFilter(supply_point_id=sp.id if sp else None,
                        year=query_int("year", minimum=MIN_YEAR, maximum=MAX_YEAR),
                        status=status or None, sort=sort,
                        descending=direction == "desc", page=query_int("page", 1, minimum=1, maximum=MAX_PAGE))
    found = invoice_page(cid, flt)
    # Sort and page links keep the filters: the list's address with them, built once.
    filtered = url_for("portal.invoices", supply=sp.id if sp else None, year=flt.year, status=status or None)
    filtered += "&" if "?" in filtered else "?"
    # The detail's "back to the list" returns to this very list (filters, sort, page).
    listed = _list_args(request.args)
    return render_template("portal/invoices.html", found=found, sp=sp,
                           supply_points=options, filtered_url=filtered,
                           year=flt.year, status=status, sort=sort, direction=direction,
                           statuses=[(key, label) for key, (label, _c) in STATUS_FILTERS.items()],
                           filters_on=bool(sp or flt.year or status),
                           detail_query="?" + urlencode({"back": urlencode(listed)}) if listed else "",
                           stale=stale, data_as_of=as_of)


_LIST_KEYS = ("supply", "year", "status", "sort", "dir", "page")


def _list_args(args) -> dict[str, str]:
    """The invoice list's own query arguments (nothing else travels in a back link)."""
    return {k: args.get(k) for k in _LIST_KEYS if args.get(k)}


# The download needs the stored PDF (a deferred column): loaded with the invoice.
_INVOICE_DOWNLOAD = owned_statement(Invoice, undefer(Invoice.pdf))


def _invoice_or_login(invoice_id: int, statement=None):
    """The invoice for its logged-in owner, or for the holder of a valid e-mailed link (F-31:
    a signed, expiring token naming this invoice and its customer); else the login page."""
    if current_customer_id() is not None:
        return get_owned_or_404(Invoice, invoice_id, statement), None
    token = request.args.get("t", "")
    data = read_invoice_token(token, invoice_id) if token else None
    if data is not None:
        inv = db.session.get(Invoice, invoice_id)
        if inv is not None and inv.customer_id == data["customer_id"]:
            return inv, token
    if token:
        flash(_("This invoice link has expired or is not valid: sign in to see your invoices."), "error")
    return None, redirect(url_for("portal.login", next=url_for("portal.invoice", invoice_id=invoice_id)))


@bp.route("/invoices/<int:invoice_id>")
def invoice(invoice_id):
    cid = current_customer_id()
    if cid is not None:  # the owner: plain rows of the invoice, its supply point, lines, payments
        inv = invoice_detail(cid, invoice_id)
        token = None
        if inv is None:
            abort(404)
    else:
        inv, token = _invoice_or_login(invoice_id)
        if inv is None:
            return token  # the redirect to the login page
    back = None
    if token is None:
        back = url_for("portal.invoices", **_list_args(dict(parse_qsl(request.args.get("back", "")))))
    return render_template("portal/invoice.html", inv=inv, link_token=token, back_url=back,
                           log=invoice_delivery.send_log(inv) if token is None else [])


@bp.route("/invoices/<int:invoice_id>/pdf")
def invoice_download(invoice_id):
    cid = current_customer_id()
    stored = owners_stored_pdf(cid, invoice_id) if cid is not None else None
    if stored is not None:  # the owner, and a copy is kept: nothing else to load
        number, data = stored
    else:
        inv, token = _invoice_or_login(invoice_id, _INVOICE_DOWNLOAD)
        if inv is None:
            return token
        number = inv.number  # before the commit expires the invoice
        data = stored_invoice_pdf(inv)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{number.replace("/", "-")}.pdf"'})


@bp.route("/invoices/<int:invoice_id>/correction", methods=["GET", "POST"])
@customer_required
def invoice_correction(invoice_id):
    inv = get_owned_or_404(Invoice, invoice_id)
    form = CorrectionForm()
    if form.validate_on_submit():
        try:
            activity = customer_requests.invoice_correction(current_user, inv, form.reason.data)
        except customer_requests.RequestError as exc:
            _field_error(form, exc)
        else:
            flash(_("Your correction request %(reference)s has been recorded: our staff will look into it.",
                    reference=activity.reference), "success")
            return redirect(url_for("portal.requests"))
    return render_template("portal/correction.html", inv=inv, form=form), \
        400 if request.method == "POST" else 200


# --- F-04 personal data, F-05 mailing address ------------------------------------------------

@bp.route("/personal-data", methods=["GET", "POST"])
@customer_required
def personal_data():
    customer = _customer()
    form = PersonalDataForm(obj=customer if request.method == "GET" else None)
    if form.validate_on_submit():
        values = {f: getattr(form, f).data for f in customer_data.PERSONAL_FIELDS}
        try:
            changed = customer_data.update_personal_data(current_user, customer, values,
                                                         form.current_password.data, form.current_code.data)
        except customer_data.NothingChanged:
            flash(_("Nothing to change: the data are the same as before."), "info")
        except accounts.AccountError as exc:  # the current password, to change the e-mail
            db.session.rollback()
            _field_error(form, exc)
            customer = _customer()
        else:
            flash(with_reference(_("Your data have been changed; the billing system will be updated shortly."),
                                 changed), "success")
        if not form.errors:
            return redirect(url_for("portal.personal_data"))
    return render_template("portal/personal_data.html", form=form, customer=customer), \
        400 if form.errors else 200


@bp.route("/supply/<int:sp_id>/mailing-address", methods=["GET", "POST"])
@customer_required
def mailing_address(sp_id):
    sp = get_owned_or_404(SupplyPoint, sp_id)
    form = MailingAddressForm(data=customer_data.current_mailing_address(sp)
                              if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            changed = customer_data.update_mailing_address(current_user, sp, form.data)
        except customer_data.NothingChanged:
            flash(_("Nothing to change: the data are the same as before."), "info")
        else:
            flash(with_reference(_("The mailing address has been changed."), changed), "success")
        return redirect(url_for("portal.mailing_address", sp_id=sp.id))
    return render_template("portal/mailing_address.html", sp=sp, form=form), 400 if form.errors else 200


# --- F-06 direct debit ---------------------------------------------------------------------------

@bp.route("/supply/<int:sp_id>/direct-debit", methods=["GET", "POST"])
@customer_required
def direct_debit_page(sp_id):
    sp = get_owned_or_404(SupplyPoint, sp_id)
    if request.method == "POST" and direct_debit.pending_mandate(sp) is not None:
        # The page shows no form while a request is handled (a form sent from an older tab):
        # the reason, on the page that shows the pending request, and nothing recorded.
        flash(_("A direct debit request for this supply point is already being handled."), "info")
        return redirect(url_for("portal.direct_debit_page", sp_id=sp.id))
    form = MandateForm()
    if request.method == "GET":
        customer = sp.customer
        form.holder_last_name.data = customer.last_name or customer.company_name
        form.holder_first_name.data = customer.first_name
    if form.validate_on_submit():
        try:
            mandate = direct_debit.request_mandate(current_user, sp, form.data, form.current_password.data,
                                                   form.current_code.data)
        except direct_debit.MandateError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        except accounts.AccountError as exc:  # the current password confirms the request
            db.session.rollback()
            _field_error(form, exc)
        else:
            flash(with_reference(_("Your direct debit request has been recorded. Mandate reference: %(ref)s.",
                                   ref=mandate.reference), mandate.activity), "success")
            return redirect(url_for("portal.direct_debit_page", sp_id=sp.id))
    mandates = direct_debit.mandates(sp)
    return render_template("portal/direct_debit.html", sp=sp, form=form, mandates=mandates,
                           latest=mandates[0] if mandates else None,
                           pending=direct_debit.pending_mandate(sp),
                           active=direct_debit.active_mandate(sp),
                           can_revoke=direct_debit.can_revoke(sp), mask=direct_debit.mask_iban,
                           masked_iban=direct_debit.mask_iban(sp.iban)), \
        400 if request.method == "POST" else 200


@bp.route("/supply/<int:sp_id>/direct-debit/revoke", methods=["GET", "POST"])
@customer_required
def direct_debit_revoke(sp_id):
    """Ending direct debit asks for confirmation on a page of its own (keyboard and screen
    readers included), then shows "revocation requested" until billing confirms it."""
    sp = get_owned_or_404(SupplyPoint, sp_id)
    if not direct_debit.can_revoke(sp):
        flash(_("There is no direct debit to end on this supply point now."), "info")
        return redirect(url_for("portal.direct_debit_page", sp_id=sp.id))
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            revocation = direct_debit.revoke(current_user, sp)
        except direct_debit.MandateError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            flash(with_reference(_("Your request to end direct debit has been recorded."), revocation),
                  "success")
        return redirect(url_for("portal.direct_debit_page", sp_id=sp.id))
    active = direct_debit.active_mandate(sp)
    return render_template("portal/direct_debit_revoke.html", sp=sp, form=form,
                           mandate_ref=active.reference if active else sp.mandate_reference,
                           masked_iban=direct_debit.mask_iban(active.iban if active else sp.iban))


@bp.route("/mandates/<int:mandate_id>/pdf")
@customer_required
def mandate_pdf(mandate_id):
    mandate = get_owned_or_404(DirectDebitMandate, mandate_id)
    return Response(direct_debit.pdf(mandate), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{mandate.reference}.pdf"'})


# --- F-08 invoice by e-mail ----------------------------------------------------------------------

@bp.route("/supply/<int:sp_id>/invoice-email", methods=["GET", "POST"])
@customer_required
def invoice_email(sp_id):
    sp = get_owned_or_404(SupplyPoint, sp_id)
    setting = invoice_delivery.setting_for(sp)
    form = InvoiceDeliveryForm()
    if request.method == "GET" and setting is not None:
        form.enabled.data = setting.enabled
        form.mode.data = setting.mode.value
        form.addresses.data = "\n".join(r.email for r in setting.recipients)
    if form.validate_on_submit():
        try:
            addresses = invoice_delivery.parse_addresses(form.addresses.data)
            saved = invoice_delivery.save(current_user, sp, bool(form.enabled.data),
                                          DeliveryMode(form.mode.data), addresses)
        except invoice_delivery.DeliveryError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            flash(with_reference(_("Your invoice delivery settings have been saved."), saved), "success")
            return redirect(url_for("portal.invoice_email", sp_id=sp.id))
    recent = list(db.session.scalars(sa.select(Invoice).where(Invoice.supply_point_id == sp.id)
                                     .order_by(Invoice.invoice_date.desc()).limit(6)))
    logs = invoice_delivery.send_logs([inv.id for inv in recent])
    return render_template("portal/invoice_email.html", sp=sp, form=form, recent=recent, logs=logs), \
        400 if request.method == "POST" else 200


# --- my requests ------------------------------------------------------------------------------------

@bp.route("/requests")
@customer_required
def requests():
    page = query_int("page", 1, minimum=1, maximum=MAX_PAGE)
    rows, total = customer_requests.my_requests(current_customer_id(), page)
    waiting = {a.id for a in rows if a.waiting}
    pages = max((total + 19) // 20, 1)
    return render_template("portal/requests.html", rows=rows, waiting=waiting, page=page, pages=pages)


@bp.route("/requests/<int:activity_id>")
@customer_required
def request_detail(activity_id):
    activity = get_owned_or_404(Activity, activity_id)
    from app.services.crm.activities import ACTION_LABELS

    waiting = customer_requests.waiting_for_billing([activity.id])
    return render_template("portal/request.html", a=activity, waiting=activity.id in waiting,
                           labels=ACTION_LABELS, form=ConfirmForm(),
                           can_withdraw=_withdrawable(activity, waiting))


def _withdrawable(activity: Activity, waiting: set[int]) -> bool:
    """Only requests that people handle and that send nothing to billing can be withdrawn."""
    from app.models import ActivityKind
    from app.services.crm.activities import allowed_actions

    return activity.kind in (ActivityKind.INFORMATION_REQUEST, ActivityKind.INVOICE_CORRECTION) \
        and activity.id not in waiting and "withdraw" in allowed_actions(activity, current_user)


@bp.route("/requests/<int:activity_id>/withdraw", methods=["POST"])
@customer_required
def request_withdraw(activity_id):
    activity = get_owned_or_404(Activity, activity_id)
    from app.services.crm.activities import TransitionError

    if ConfirmForm().validate_on_submit():
        if not _withdrawable(activity, customer_requests.waiting_for_billing([activity.id])):
            abort(409)
        try:
            customer_requests.withdraw(current_user, activity)
            flash(_("Your request has been withdrawn."), "success")
        except TransitionError as exc:
            db.session.rollback()
            flash(str(exc), "error")
    return redirect(url_for("portal.request_detail", activity_id=activity.id))
