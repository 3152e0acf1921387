"""The application factory: binds extensions and registers views in a fixed order."""
from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import Config


def create_app(config: type[Config] | None = None, **overrides) -> Flask:
    """Build the Sportello app: config, database, CSRF, FAB (security, Babel), views, CLI."""
    app = Flask(__name__)
    _load_config(app, config or Config, overrides)
    _configure_logging(app)
    from app.services.core.metrics import prepare_directory

    prepare_directory()  # before anything is counted (a missing directory fails every update)
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    from app.views.input_guard import bound_int_converter

    bound_int_converter(app)  # before any route is added
    from app import templating

    templating.init_app(app)  # before any template is loaded

    from app.extensions import csrf, db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config["MIGRATIONS_DIR"]))
    # CSRF before AppBuilder: FAB then exempts its API and its forms keep working.
    csrf.init_app(app)
    from app.views import csrf_token

    csrf_token.init_app(app)  # the request's token, before any form is built

    from flask_appbuilder import AppBuilder

    from app.passwords import password_complexity

    app.config["FAB_PASSWORD_COMPLEXITY_VALIDATOR"] = password_complexity
    with app.app_context():
        _configure_engine(db.engine, app.config)
        # A new AppBuilder per app: a shared one registers no views for a second app.
        from app.views.admin.start import StartView

        appbuilder = AppBuilder(update_perms=False, indexview=StartView)
        appbuilder.init_app(app, db.session)
        from app.views import register_views

        register_views(appbuilder)
    _register_service_hooks()
    _keep_unchanged_page_history()
    _register_blueprints(app)
    from app.views.admin.errors import register_error_pages

    register_error_pages(app)
    _register_template_globals(app)
    _register_request_hooks(app)

    from app.cli import register_cli

    register_cli(app)
    return app


def _load_config(app: Flask, config: type[Config], overrides: dict) -> None:
    from pathlib import Path

    app.config.from_object(config)
    app.config.update(overrides)
    config.finalize(app.config)
    app.config.setdefault("MIGRATIONS_DIR", Path(__file__).resolve().parent.parent / "migrations")


# Libraries' chatter at INFO in every process (web workers, CLI commands, scheduler): Alembic
# lists its plugins when imported, FAB announces itself and every permission it adds, APScheduler
# every job it adds and two lines per run. Their warnings and errors still show; `flask sportello
# init` prints its own summary and the scheduler logs each run's outcome (app.jobs).
QUIET_LOGGERS = ("alembic.runtime.plugins", "flask_appbuilder", "apscheduler")


def _migration_steps_only(record: logging.LogRecord) -> bool:
    """Alembic's migration logger: keep the steps ("Running upgrade ..."), drop the context
    lines it prints even when there is nothing to migrate."""
    return record.levelno >= logging.WARNING or str(record.msg).startswith("Running ")


def _configure_logging(app: Flask) -> None:
    from app.services.core.request_id import LogFilter

    if not app.debug and not app.testing:
        from app.services.core.logs import formatter

        logging.basicConfig(level=logging.INFO)
        for handler in logging.getLogger().handlers:
            handler.setFormatter(formatter(app.config["LOG_FORMAT"]))
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        migration = logging.getLogger("alembic.runtime.migration")
        if _migration_steps_only not in migration.filters:
            migration.addFilter(_migration_steps_only)
    from app.services.core.masking import TokenMaskingFilter

    # Every handler of the root logger: the request id on each line, and no reset or
    # invoice-link token in any log (none at all: `flask --debug run` starts without one).
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, LogFilter) for f in handler.filters):
            handler.addFilter(LogFilter())
        if not any(isinstance(f, TokenMaskingFilter) for f in handler.filters):
            handler.addFilter(TokenMaskingFilter())
    from app.services.core.security_log import ForwardDenials

    denials = logging.getLogger("flask_appbuilder.security.decorators")
    if not any(isinstance(f, ForwardDenials) for f in denials.filters):
        denials.addFilter(ForwardDenials())


def _configure_engine(engine: Engine, config) -> None:
    """SQLite: WAL, a busy timeout and enforced foreign keys on every connection; a server
    database: pooled connections checked on checkout when they may have died (app.dbpool)."""
    if engine.dialect.name != "sqlite":
        from app import dbpool

        dbpool.install(engine, float(config.get("DATABASE_PING_IDLE_SECONDS", 30)))
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _register_service_hooks() -> None:
    """Connect the areas to the outbox at start-up, whatever a process imports later: outcome
    hooks, and the modules whose after-delivery hooks store billing's answers."""
    import importlib

    from app.services.crm.activities import register_hooks
    from app.services.portal import direct_debit
    from app.services.sales import contracts as sales_contracts
    from app.services.sales import signed as sales_signed

    register_hooks()
    from app import permissions

    permissions.register_hooks()  # every role change renews the roles' stamp
    direct_debit.register_hooks()
    from app.services.portal import accounts, api_tokens

    accounts.register_hooks()
    api_tokens.register_hooks()
    from app.services.mailing import security_notices

    security_notices.register_hooks()
    sales_contracts.register_hooks()
    sales_signed.register_hooks()
    from app.services.sales import prospects as sales_prospects

    sales_prospects.register_hooks()
    for module in ("app.services.portal.readings", "app.services.sales.contracts",
                   "app.services.sales.commissions",
                   # the work queues the start page shows (F-20)
                   "app.services.sales.queues", "app.services.crm.queues", "app.services.sync.queues",
                   "app.services.mailing.queues", "app.services.portal.queues"):
        importlib.import_module(module)


def _keep_unchanged_page_history() -> None:
    """FAB's views record each page in the session's "back" history (`update_redirect`) and
    store the list again even when the page is already its newest entry (a reload, the next
    page of a list seen again): the session then counts as modified and every such answer
    re-signs and re-sends the session cookie. Storing only a history that changes keeps the
    same history and spares the cookie."""
    from flask import request, session
    from flask_appbuilder.baseviews import BaseView

    record = BaseView.update_redirect
    if getattr(record, "keeps_unchanged_history", False):
        return

    def update_redirect(self):
        history = session.get("page_history") or []
        if history and history[-1] == request.url:
            return  # FAB's Stack does not repeat its newest entry: nothing would change
        record(self)

    update_redirect.keeps_unchanged_history = True
    BaseView.update_redirect = update_redirect


def _register_blueprints(app: Flask) -> None:
    """Hand-written blueprints (portal, API) are registered here, one place."""
    from app.views.portal import bp as portal_bp

    app.register_blueprint(portal_bp)
    from app.views.sales import bp as sales_bp

    app.register_blueprint(sales_bp)
    from app.views.api import bp as api_bp

    app.register_blueprint(api_bp)
    from app.views.widgets import bp as widgets_bp

    app.register_blueprint(widgets_bp)
    from app.views import ops

    ops.register(app)


def _register_template_globals(app: Flask) -> None:
    """Locale-aware formatting and translation in every template (pages, e-mails, PDFs)."""
    from flask_babel import get_locale

    from app import i18n
    from app.formatting import format_currency, format_date, format_datetime, format_decimal

    i18n.init_app(app)

    app.jinja_env.globals.update(format_date=format_date, format_datetime=format_datetime,
                                 format_currency=format_currency, format_decimal=format_decimal,
                                 get_locale=get_locale)
    # Staff pages: every value readable (and sensitive ones masked) the same way (app.views.display).
    from app.formatting import format_moment
    from app.views.display import label_of, readable

    app.jinja_env.globals.update(readable=readable, format_moment=format_moment, key_label=label_of)
    # Filters are bound when a template compiles: cheaper than globals in long lists.
    app.jinja_env.filters.update(money=format_currency, date=format_date)


def _register_request_hooks(app: Flask) -> None:
    from flask import g, request

    from app.services.core import request_id

    @app.before_request
    def _bind_request_id():
        header = request.headers.get("X-Request-ID") if app.config.get("TRUST_PROXY_REQUEST_ID") else None
        g.request_id = request_id.accept(header)
        g.request_id_token = request_id.bind(g.request_id)

    _register_session_timeouts(app)

    @app.teardown_request
    def _unbind_request_id(exc):
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id.reset(token)

    @app.after_request
    def _log_refusals(response):
        if response.status_code == 429 or (response.status_code == 403 and not g.get("sportello_denial_logged")):
            from app.services.core import security_log

            user = getattr(g, "_login_user", None)
            name = getattr(user, "username", None) or request.form.get("username")
            security_log.event("rate_limited" if response.status_code == 429 else "permission_denied",
                               name, level=logging.WARNING, **security_log.request_place())
        return response  # the security headers themselves: app.views.headers


    from app.views.input_guard import register_input_guard

    register_input_guard(app)  # after FAB's request set-up, which the error pages need
    from app.views.headers import register_security_headers

    register_security_headers(app)


def _register_session_timeouts(app: Flask) -> None:
    """Idle and absolute session timeouts (settings `session_idle_minutes`,
    `session_absolute_hours`), staff and customers alike. The last-seen stamp is refreshed at
    most once a minute, so most responses leave the session cookie as it is."""
    import time

    from flask import flash, g, request, session
    from flask_babel import gettext as _
    from flask_login import current_user

    from app.services.core import security_log, settings
    from app.views.sign_in import LAST_SEEN, SIGNED_IN_AT

    @app.before_request
    def _expire_sessions():
        if "_user_id" not in session or (request.endpoint or "").endswith("static"):
            return
        current_user._get_current_object()  # the user's load reads the settings' stamp along
        now = int(time.time())
        signed_in = session.get(SIGNED_IN_AT)
        seen = session.get(LAST_SEEN)
        if not isinstance(signed_in, int) or not isinstance(seen, int):
            session[SIGNED_IN_AT] = session[LAST_SEEN] = now  # a session from before the timeouts
            return
        idle = now - seen > settings.get("session_idle_minutes") * 60
        if idle or now - signed_in > settings.get("session_absolute_hours") * 3600:
            locale, user_id = session.get("locale"), session.get("_user_id")
            session.clear()
            if locale:
                session["locale"] = locale
            g.pop("_login_user", None)
            security_log.event("session_expired", None, user_id=user_id, reason="idle" if idle else "absolute")
            flash(_("Your session has ended after a period of inactivity: sign in again.") if idle
                  else _("Your session has reached its maximum length: sign in again."), "info")
        elif now - seen >= 60:
            session[LAST_SEEN] = now
