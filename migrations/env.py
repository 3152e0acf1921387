"""Alembic environment: the app's metadata (FAB's tables and ours), batch mode on SQLite."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
config.set_main_option("sqlalchemy.url",
                       target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def get_metadata():
    import app.models  # noqa: F401  (every model on the metadata)

    return target_db.metadata


def include_name(name, type_, parent_names):
    # APScheduler's job store table, if any, is not ours to migrate.
    return not (type_ == "table" and name == "apscheduler_jobs")


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=get_metadata(),
                      literal_binds=True, render_as_batch=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("render_as_batch", True)
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("compare_server_default", True)
    conf_args.setdefault("include_name", include_name)

    applied = []
    conf_args.setdefault("on_version_apply", lambda **kw: applied.append(kw["step"]))

    with target_db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)
        with context.begin_transaction():
            context.run_migrations()
            if applied:
                _renew_roles_stamp(connection)


def _renew_roles_stamp(connection):
    """A migration may change roles or permissions in SQL, past the ORM's hook: every run that
    applied a step renews the roles' stamp, so running processes reload their permission sets."""
    import sqlalchemy as sa

    from app.permissions import renew_stamp

    if sa.inspect(connection).has_table("settings"):
        renew_stamp(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
