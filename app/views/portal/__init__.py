"""The customer self-service portal (F-01 … F-10): plain Flask pages under /portal.

Every route that names an object by id loads it through `get_owned_or_404`, filtered by the
logged-in customer: anything else is a 404. Customer pages are never cached (`no-store`).
"""
from __future__ import annotations

import datetime as dt
from functools import wraps

import sqlalchemy as sa
from flask import (Blueprint, abort, current_app, g, has_request_context, redirect, render_template,
                   request, url_for)
from flask_login import current_user

from app.clock import ROME
from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l
from app.i18n import locale_id
from app.views import markup
from app.views.input_guard import MAX_DB_INT, ascii_int
from app.services.sync.freshness import data_as_of
from app.models import (Activity, ApiToken, DirectDebitMandate, Invoice, InvoiceExport, Meter,
                        MeterReading, SupplyPoint)

bp = Blueprint("portal", __name__, url_prefix="/portal")
bp.add_app_template_filter(markup.cards, "cards")
bp.add_app_template_global(markup.failed_forms, "failed_forms")

# model -> how it belongs to a customer (a column, or a join through the supply point)
_OWNER = {
    SupplyPoint: lambda cid: SupplyPoint.customer_id == cid,
    Invoice: lambda cid: Invoice.customer_id == cid,
    Activity: lambda cid: Activity.customer_id == cid,
    ApiToken: lambda cid: ApiToken.customer_id == cid,
    InvoiceExport: lambda cid: InvoiceExport.customer_id == cid,
    Meter: lambda cid: Meter.supply_point.has(SupplyPoint.customer_id == cid),
    MeterReading: lambda cid: MeterReading.supply_point.has(SupplyPoint.customer_id == cid),
    DirectDebitMandate: lambda cid: DirectDebitMandate.supply_point.has(SupplyPoint.customer_id == cid),
}


def current_customer_id() -> int | None:
    if not current_user.is_authenticated:
        return None
    return getattr(current_user, "customer_id", None)


_OWNED: dict = {}


def _owned_statement(model):
    """The object of `model` with id :id owned by customer :cid, built once per model (most
    customer pages load one): building it per request cost as much as running it."""
    stmt = _OWNED.get(model)
    if stmt is None:
        stmt = _OWNED[model] = owned_statement(model)
    return stmt


def owned_statement(model, *options):
    """The select of `get_owned_or_404`, with loader options: build it once, at import."""
    return sa.select(model).where(model.id == sa.bindparam("id"), _OWNER[model](sa.bindparam("cid"))) \
        .options(*options)


def get_owned_or_404(model, id_, statement=None):
    """The object `id_` of `model` if it belongs to the logged-in customer, else 404.
    `statement`: `owned_statement(model, *options)` to load more with it."""
    cid = current_customer_id()
    if cid is None or model not in _OWNER:
        abort(404)
    id_ = id_ if isinstance(id_, int) else ascii_int(str(id_) if id_ is not None else None)
    if id_ is None or id_ > MAX_DB_INT:
        abort(404)
    obj = db.session.scalar(statement if statement is not None else _owned_statement(model),
                            {"id": id_, "cid": cid})
    if obj is None:
        abort(404)
    return obj


def with_reference(message: str, activity: Activity | str) -> str:
    """A confirmation followed by the request's reference number (the one e-mailed), of the
    activity or as given."""
    return _("%(message)s Reference number: %(reference)s.", message=message,
             reference=activity if isinstance(activity, str) else activity.reference)


def customer_required(view):
    """Only a logged-in customer account; others go to the portal login."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_customer_id() is None:
            return redirect(url_for("portal.login", next=request.full_path
                                    if request.method == "GET" else None))
        return view(*args, **kwargs)
    return wrapped


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    # The Content-Security-Policy (no inline scripts or styles here) comes from app.views.headers.
    return response


def _is_portal_request() -> bool:
    """A request to a portal page, or to a portal address that matches no page."""
    return has_request_context() and (request.blueprint == "portal" or request.path == bp.url_prefix
                                      or request.path.startswith(bp.url_prefix + "/"))


@bp.app_context_processor
def _portal_context():
    if not _is_portal_request():
        return {}  # e-mails, PDFs and other areas' pages
    if g.get("portal_without_database"):  # the error page of a failure, maybe the database's own
        return {"portal_urls": _layout_urls(), "portal_language": locale_id(), "portal_customer_id": None,
                "data_as_of": None, "portal_greeting": greeting}
    cid = current_customer_id()
    return {"portal_urls": _layout_urls(), "portal_language": locale_id(), "portal_customer_id": cid,
            "data_as_of": (g.portal_data_as_of if "portal_data_as_of" in g else _data_as_of(cid)) if cid else None,
            "portal_greeting": greeting,
            "two_factor_enrolled": _two_factor_enrolled}


def _two_factor_enrolled() -> bool:
    """Does the signed-in customer use two-factor sign-in (forms then ask a current code)?"""
    from flask_login import current_user

    from app.services.core import two_factor

    return bool(current_customer_id()) and two_factor.is_enrolled(current_user)


def greeting(customer, now: dt.datetime | None = None) -> str:
    """"Good morning, Anna Bianchi": by the time of day in Italy, first name then last name
    (a company by its name; `customer` may be that name already). `now` is an aware datetime
    (default: now)."""
    hour = (now or dt.datetime.now(dt.UTC)).astimezone(ROME).hour
    if 5 <= hour < 13:
        text = _l("Good morning, %(name)s")
    elif 13 <= hour < 18:
        text = _l("Good afternoon, %(name)s")
    else:
        text = _l("Good evening, %(name)s")
    return str(text) % {"name": customer if isinstance(customer, str) else customer.addressed_name}


# The layout's links take no arguments: they are built once per mount point of the app.
_LAYOUT_LINKS = {"index": "portal.index", "home": "portal.home", "invoices": "portal.invoices",
                 "requests": "portal.requests", "personal_data": "portal.personal_data",
                 "account": "portal.account", "information_request": "portal.information_request",
                 "language": "portal.language", "logout": "portal.logout"}


def _layout_urls() -> dict[str, str]:
    built = current_app.extensions.setdefault("portal_layout_urls", {})
    urls = built.get(request.script_root)
    if urls is None:
        urls = {name: url_for(endpoint) for name, endpoint in _LAYOUT_LINKS.items()}
        urls["stylesheet"] = url_for("static", filename="portal/portal.css")
        urls["script"] = url_for("static", filename="portal/portal.js")
        built[request.script_root] = urls
    return urls


_ID_MARKER = "987654321"


def id_url(endpoint: str, argument: str, value: int) -> str:
    """`url_for(endpoint, argument=value)` for an address whose one argument is a whole number
    (a list's rows link to their own pages): built from the address's two fixed halves, found
    once per mount point of the app, instead of through the URL map for every row."""
    built = current_app.extensions.setdefault("portal_id_urls", {})
    key = (request.script_root, endpoint, argument)
    halves = built.get(key)
    if halves is None:
        url = url_for(endpoint, **{argument: int(_ID_MARKER)})
        halves = built[key] = tuple(url.split(_ID_MARKER)) if url.count(_ID_MARKER) == 1 else ()
    if not halves:
        return url_for(endpoint, **{argument: value})
    return f"{halves[0]}{int(value)}{halves[1]}"


bp.add_app_template_global(id_url, "id_url")


def _data_as_of(customer_id: int):
    """When this customer's data last agreed with billing (a refresh or an alignment)."""
    return data_as_of(customer_id)


# --- the portal's own error pages: its layout, its language, a way back ------------------------

_ERRORS = {
    400: (_l("The request could not be understood"),
          _l("The page received data it cannot use. Go back, reload the page and try again.")),
    404: (_l("Page not found"),
          _l("The page you asked for does not exist or is no longer available. It may have been moved, "
             "or the address may have a typing mistake.")),
    429: (_l("Too many attempts"),
          _l("You have tried this too many times in a short while. For your safety, please wait a few "
             "minutes and try again.")),
    500: (_l("Something went wrong"),
          _l("We could not complete your request because of a problem on our side. Nothing has been "
             "changed: please try again in a few minutes.")),
}


def _error_page(code: int, error):
    if not _is_portal_request():
        return error  # other areas keep their own pages
    if code == 500:
        g.portal_without_database = True
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the database may be the very thing that failed
            pass
    title, text = _ERRORS[code]
    text = getattr(error, "user_text", None) or text  # a refusal that says what was wrong
    home = url_for("portal.index")
    response = current_app.make_response((render_template("portal/error.html", code=code, title=title,
                                                          text=text, home_url=home), code))
    response.headers["Cache-Control"] = "no-store"  # the rate limiter adds its Retry-After
    return response


# Registered on the blueprint: the staff's app-wide handlers hand every customer URL, matched or
# not, to these (app/views/admin/errors.py).
@bp.errorhandler(400)
def _bad_request(error):
    return _error_page(400, error)


@bp.errorhandler(404)
def _not_found(error):
    return _error_page(404, error)


@bp.errorhandler(429)
def _too_many(error):
    return _error_page(429, error)


@bp.errorhandler(500)
def _server_error(error):  # Flask has logged the exception already
    return _error_page(500, error)


from . import auth, data, pages  # noqa: E402,F401  (routes)
