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

    from app.extensions import csrf, db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config["MIGRATIONS_DIR"]))
    # CSRF before AppBuilder: FAB then exempts its API and its forms keep working.
    csrf.init_app(app)

    from flask_appbuilder import AppBuilder

    from app.passwords import password_complexity

    app.config["FAB_PASSWORD_COMPLEXITY_VALIDATOR"] = password_complexity
    with app.app_context():
        _configure_engine(db.engine)
        # A new AppBuilder per app: a shared one registers no views for a second app.
        appbuilder = AppBuilder(update_perms=False)
        appbuilder.init_app(app, db.session)
        from app.views import register_views

        register_views(appbuilder)
    _register_service_hooks()
    _register_blueprints(app)
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
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        migration = logging.getLogger("alembic.runtime.migration")
        if _migration_steps_only not in migration.filters:
            migration.addFilter(_migration_steps_only)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, LogFilter) for f in handler.filters):
            handler.addFilter(LogFilter())


def _configure_engine(engine: Engine) -> None:
    """SQLite: WAL, a busy timeout and enforced foreign keys on every connection."""
    if engine.dialect.name != "sqlite":
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

    register_hooks()
    for module in ("app.services.portal.readings", "app.services.sales.contracts",
                   "app.services.sales.commissions"):
        importlib.import_module(module)


def _register_blueprints(app: Flask) -> None:
    """Hand-written blueprints (portal, API) are registered here, one place."""
    from app.views.portal import bp as portal_bp

    app.register_blueprint(portal_bp)
    from app.views.sales import bp as sales_bp

    app.register_blueprint(sales_bp)


def _register_template_globals(app: Flask) -> None:
    """Locale-aware formatting and translation in every template (pages, e-mails, PDFs)."""
    from flask_babel import get_locale

    from app import i18n
    from app.formatting import format_currency, format_date, format_datetime, format_decimal

    i18n.init_app(app)

    app.jinja_env.globals.update(format_date=format_date, format_datetime=format_datetime,
                                 format_currency=format_currency, format_decimal=format_decimal,
                                 get_locale=get_locale)
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

    @app.teardown_request
    def _unbind_request_id(exc):
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id.reset(token)

    @app.after_request
    def _security_headers(response):
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
