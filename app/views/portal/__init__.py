"""The customer self-service portal (F-01 … F-10): plain Flask pages under /portal.

Every route that names an object by id loads it through `get_owned_or_404`, filtered by the
logged-in customer: anything else is a 404. Customer pages are never cached (`no-store`).
"""
from __future__ import annotations

import datetime as dt
from functools import wraps

import sqlalchemy as sa
from flask import (Blueprint, abort, current_app, has_request_context, redirect, request, session,
                   url_for)
from flask_login import current_user

from app.extensions import db
from app.i18n import locale_id
from app.models import (Activity, Customer, DirectDebitMandate, Invoice, Meter, MeterReading,
                        SupplyPoint)

bp = Blueprint("portal", __name__, url_prefix="/portal")

# model -> how it belongs to a customer (a column, or a join through the supply point)
_OWNER = {
    SupplyPoint: lambda cid: SupplyPoint.customer_id == cid,
    Invoice: lambda cid: Invoice.customer_id == cid,
    Activity: lambda cid: Activity.customer_id == cid,
    Meter: lambda cid: Meter.supply_point.has(SupplyPoint.customer_id == cid),
    MeterReading: lambda cid: MeterReading.supply_point.has(SupplyPoint.customer_id == cid),
    DirectDebitMandate: lambda cid: DirectDebitMandate.supply_point.has(SupplyPoint.customer_id == cid),
}


def current_customer_id() -> int | None:
    if not current_user.is_authenticated:
        return None
    return getattr(current_user, "customer_id", None)


def get_owned_or_404(model, id_):
    """The object `id_` of `model` if it belongs to the logged-in customer, else 404."""
    cid = current_customer_id()
    if cid is None or model not in _OWNER:
        abort(404)
    try:
        id_ = int(id_)
    except (TypeError, ValueError):
        abort(404)
    obj = db.session.scalar(sa.select(model).where(model.id == id_, _OWNER[model](cid)))
    if obj is None:
        abort(404)
    return obj


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
    # Nothing from other hosts, no inline scripts: the pages need none.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; base-uri 'self'; object-src 'none'")
    return response


@bp.app_context_processor
def _portal_context():
    if not has_request_context() or request.blueprint != "portal":
        return {}  # e-mails, PDFs and other areas' pages
    cid = current_customer_id()
    return {"portal_urls": _layout_urls(), "portal_language": locale_id(), "portal_customer_id": cid,
            "data_as_of": _data_as_of(cid) if cid else None}


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
        built[request.script_root] = urls
    return urls


_SYNCED_AT = sa.select(Customer.__table__.c.synced_at).where(Customer.__table__.c.id == sa.bindparam("id"))


def _data_as_of(customer_id: int):
    """When this customer's data last came from billing (login refresh or alignment)."""
    synced = db.session.connection().execute(_SYNCED_AT, {"id": customer_id}).scalar()
    refreshed = session.get("refreshed_at")
    refreshed = dt.datetime.fromisoformat(refreshed) if refreshed else None
    return max([t for t in (synced, refreshed) if t is not None], default=None)


from . import auth, pages  # noqa: E402,F401  (routes)
