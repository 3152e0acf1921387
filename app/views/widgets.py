"""Widgets for the company's website (F-43): the portal's sign-in box and the information
request form (F-03) as small pages for a frame, placed and sized by /static/widgets/embed.js.

Only these pages may be framed, and only by the origins of the `widget_origins` setting
(app.services.core.embedding, app.views.headers). A frame of another site gets no cookie of
ours, so nothing here reads or writes the session: the language comes from `?lang=` (then
Accept-Language), messages are shown on the page instead of flashed, and each form carries a
signed, expiring token bound to its widget instead of the session's CSRF token. The sign-in
box posts to the portal (/portal/login/website) with target="_top": the password goes to the
portal in the top window, where the session is set first-party and a second factor is asked.
"""
from __future__ import annotations

import logging

from flask import Blueprint, render_template, request, url_for

from app.extensions import csrf, limiter
from app.i18n import gettext as _
from app.i18n import locale_id
from app.services.core import embedding, settings
from app.services.core.embedding import WidgetRefused
from app.views.headers import allow_framing

log = logging.getLogger(__name__)

bp = Blueprint("widgets", __name__, url_prefix="/widgets")
csrf.exempt(bp)  # a frame has no session: its forms carry an embedding token (checked below)

LANGUAGES = ("it", "en")
INFO_LIMIT = "5 per hour"  # as the portal's information request form (F-03)
LOGIN_WIDGET = "login"
INFORMATION_WIDGET = "information"


def choose_language() -> str:
    """`lang` of the query or the form, else Accept-Language, else Italian; no session."""
    from babel import Locale
    from flask_babel import _get_current_context

    lang = request.values.get("lang")
    if lang not in LANGUAGES:
        lang = request.accept_languages.best_match(LANGUAGES, default="it")
    _get_current_context().babel_locale = Locale.parse(lang)
    return lang


@bp.before_request
def _framed_page():
    allow_framing(embedding.frame_ancestors())
    choose_language()


def own_origin() -> str:
    return request.host_url.rstrip("/")


def check_post(widget: str) -> str:
    """The website a widget's post was sent from; raises WidgetRefused when its origin is
    not ours nor listed, or its token is missing, forged, of another widget or expired."""
    embedding.check_origin(own_origin(), request.headers.get("Origin"), request.headers.get("Referer"),
                           request.headers.get("Sec-Fetch-Site"))
    return embedding.check_token(request.form.get("widget_token"), widget)


def _context(widget: str, parent: str) -> dict:
    return {"widget": widget, "parent_origin": parent, "widget_lang": locale_id(),
            "widget_token": embedding.issue_token(widget, parent),
            "widget_urls": {"stylesheet": url_for("static", filename="widgets/widgets.css"),
                            "script": url_for("static", filename="widgets/frame.js")}}


def _refused(exc: WidgetRefused):
    log.warning("Widget post refused: %s (Origin %s)", exc.reason, request.headers.get("Origin"))
    return render_template("widgets/refused.html", **_context("refused", "")), 400  # as a CSRF refusal


@bp.route("/login")
def login():
    """The sign-in box: its form goes to the portal's sign-in in the top window."""
    from app.views.portal.forms import LoginForm

    parent = embedding.parent_origin(request.args.get("origin"))
    form = LoginForm(meta={"csrf": False}, formdata=None)
    return render_template("widgets/login.html", form=form, **_context(LOGIN_WIDGET, parent))


@bp.route("/information", methods=["GET", "POST"])
@limiter.limit(INFO_LIMIT, methods=["POST"])
def information_request():
    """The information request form (F-03): filed for the back office as the portal's is."""
    from app.services.portal import requests as customer_requests
    from app.views.portal.forms import InformationRequestForm

    parent = embedding.parent_origin(request.args.get("origin"))
    form = InformationRequestForm(meta={"csrf": False})
    expired = False
    if request.method == "POST":
        try:
            parent = check_post(INFORMATION_WIDGET)
        except WidgetRefused as exc:
            if exc.reason != "expired":
                return _refused(exc)
            expired = True  # an old page: show the form again with what was written
    if request.method == "POST" and not expired and form.validate():
        thanks = _("Thank you: we have received your request and will answer soon.")
        if form.website.data:  # a robot filled the trap: answer as usual, store nothing
            return render_template("widgets/sent.html", thanks=thanks, reference="",
                                   **_context(INFORMATION_WIDGET, parent))
        try:
            activity = customer_requests.information_request(
                name=form.name.data, question=form.question.data, email=form.email.data or "",
                phone=form.phone.data or "", postal_address=form.postal_address.data or "",
                language=locale_id())
        except customer_requests.RequestError as exc:
            field = getattr(form, exc.field or "", None) or form.email
            field.errors = list(field.errors) + [str(exc.message)]
        else:
            return render_template("widgets/sent.html", thanks=thanks, reference=activity.reference,
                                   **_context(INFORMATION_WIDGET, parent))
    return render_template("widgets/information.html", form=form, expired=expired,
                           company=settings.company(), **_context(INFORMATION_WIDGET, parent))


def _error(code: int, title: str, text: str):
    return render_template("widgets/error.html", code=code, title=title, text=text,
                           **_context("error", "")), code


@bp.errorhandler(404)
def _not_found(_exc):
    return _error(404, _("Page not found"), _("This widget does not exist."))


@bp.errorhandler(429)
def _too_many(_exc):
    return _error(429, _("Too many attempts"),
                  _("You have tried this too many times in a short while. Please wait a few minutes and try again."))
