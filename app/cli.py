"""Flask CLI commands: `flask sportello init | align | reset-role | demo-users | totp-code | scheduler` (jobs in
cli_jobs, backup and restore in cli_ops)."""
from __future__ import annotations

import getpass
import secrets

import click
from flask import Flask, current_app
from flask.cli import AppGroup

sportello = AppGroup("sportello", help="Sportello administration commands.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(sportello)
    __import__("app.cli_jobs", fromlist=["register"]).register(sportello)
    __import__("app.cli_ops", fromlist=["register"]).register(sportello)


@sportello.command("init")
@click.option("--no-migrate", is_flag=True, help="Skip `flask db upgrade`.")
def init_command(no_migrate: bool) -> None:
    """Apply migrations, create/update permissions and roles, create the first admin."""
    from flask_migrate import upgrade

    from app.roles import ADMIN
    from app.security import init_security

    if not no_migrate:
        upgrade(directory=current_app.config["MIGRATIONS_DIR"], revision="heads")
        click.echo("Database schema is up to date.")
    appbuilder = current_app.appbuilder
    added = init_security(appbuilder)
    click.echo("Roles: " + ", ".join(f"{name} (+{n})" for name, n in added.items()))
    sm = appbuilder.sm
    if sm.get_first_user() is not None:
        click.echo("Users exist already: no admin created.")
        return
    cfg = current_app.config
    username = cfg.get("ADMIN_USERNAME") or click.prompt("First admin username", default="admin")
    email = cfg.get("ADMIN_EMAIL") or click.prompt("First admin e-mail")
    password = cfg.get("ADMIN_PASSWORD")
    if not password:
        password = getpass.getpass("First admin password: ")
        if password != getpass.getpass("Repeat the password: "):
            raise click.ClickException("The passwords differ.")
    _validate_password(password)
    user = sm.add_user(username, "Admin", "Sportello", email, sm.find_role(ADMIN), password)
    if not user:
        raise click.ClickException("Could not create the admin user (username or e-mail taken?).")
    click.echo(f"Admin user {username!r} created.")


def _validate_password(password: str) -> None:
    from flask_appbuilder.exceptions import PasswordComplexityValidationError

    from app.passwords import password_complexity

    try:
        password_complexity(password)
    except PasswordComplexityValidationError as exc:
        raise click.ClickException(str(exc)) from exc


@sportello.command("reset-role")
@click.argument("name")
def reset_role_command(name: str) -> None:
    """Restore a built-in role to exactly its default permissions."""
    from app.roles import BUILTIN_ROLES
    from app.security import init_security

    if name not in BUILTIN_ROLES:
        raise click.ClickException(f"{name!r} is not a built-in role: {', '.join(BUILTIN_ROLES)}")
    init_security(current_app.appbuilder, reset=(name,))
    click.echo(f"Role {name!r} restored to its defaults.")


@sportello.command("demo-users")
def demo_users_command() -> None:
    """Create one staff account per role with a random password (demo mode only)."""
    from app.roles import ADMIN, STAFF_ROLES

    if not current_app.config.get("DEMO_MODE"):
        raise click.ClickException("Demo accounts exist only in demo mode (SPORTELLO_DEMO=1).")
    sm = current_app.appbuilder.sm
    click.echo("  Demo staff accounts (passwords are new at every start):")
    admin_name, admin_password = current_app.config.get("ADMIN_USERNAME"), current_app.config.get("ADMIN_PASSWORD")
    admin = sm.find_user(username=admin_name) if admin_name else None
    if admin is not None and admin_password:
        sm.reset_password(admin.id, admin_password)
        click.echo(f"  {'Admin':<13} {admin_name:<22} {admin_password}")
        _demo_two_factor(admin, DEMO_TOTP_SECRETS[ADMIN])
    from app.roles import AGENT

    for role_name in STAFF_ROLES + (AGENT,):
        username = "demo-" + role_name.lower().replace(" ", "-")
        password = secrets.token_urlsafe(12)
        user = sm.find_user(username=username)
        if user is None:
            user = sm.add_user(username, role_name, "Demo", f"{username}@sportello.localhost",
                               sm.find_role(role_name), password)
        else:
            sm.reset_password(user.id, password)
        click.echo(f"  {role_name:<13} {username:<22} {password}")
        if role_name in DEMO_TOTP_SECRETS:
            _demo_two_factor(user, DEMO_TOTP_SECRETS[role_name])
        if role_name == AGENT:
            _demo_agent(user)
    from app.services.catalog.offers import seed_demo

    added = seed_demo()
    if added:
        click.echo(f"  Demo offer catalogue: {added} offers added (Sales network → Offer catalogue)")
    from app.services.sales.commissions import seed_demo_rules

    if seed_demo_rules():
        click.echo("  Demo commission rules added (Sales network → Commission rules)")
    _demo_registration_hint()


# The demo's Admin and Manager must sign in with a second factor (F-65): fixed secrets, printed
# at start-up, to add to an authenticator app (or `flask sportello totp-code USER`).
DEMO_TOTP_SECRETS = {"Admin": "SPORTELLODEMOADMINTOTPSECRET2345", "Manager": "SPORTELLODEMOMANAGERTOTPSECRET23"}


def _demo_two_factor(user, secret: str) -> None:
    from app.services.core import two_factor

    two_factor.enrol_with_secret(user, secret)
    click.echo(f"  {'':<13} {'':<22} two-factor key {two_factor.grouped_secret(secret)} (current code: "
               f"SPORTELLO_DEMO=1 .venv/bin/flask --app app.py sportello totp-code {user.username})")


@sportello.command("totp-code")
@click.argument("username")
def totp_code_command(username: str) -> None:
    """Print the current two-factor code of a user (to try the demo without a phone)."""
    from app.services.core import two_factor

    if not current_app.config.get("DEMO_MODE"):
        raise click.ClickException("Codes are printed only in demo mode (SPORTELLO_DEMO=1).")
    user = current_app.appbuilder.sm.find_user(username=username)
    code = two_factor.current_code(user) if user is not None and two_factor.is_enrolled(user) else None
    if code is None:
        raise click.ClickException(f"{username!r} has no two-factor sign-in.")
    click.echo(code)


def _demo_agent(user) -> None:
    """The demo agent's sales-network record (contracts are entered at /sales/)."""
    from app.extensions import db
    from app.models import Agent

    if db.session.query(Agent).filter_by(user_id=user.id).first() is None:
        db.session.add(Agent(code="AG-DEMO", name="Agente Demo", email=user.email, user_id=user.id))
        db.session.commit()


def _demo_registration_hint() -> None:
    """A web code and tax code from the aligned demo data, to try the portal's first access."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import Customer, Invoice, SportelloUser

    registered = sa.select(SportelloUser.customer_id).where(SportelloUser.customer_id.is_not(None))
    row = db.session.execute(
        sa.select(Invoice.web_code, Customer.tax_code, Customer.last_name)
        .join(Customer, Invoice.customer_id == Customer.id)
        .where(Customer.email != "", Customer.tax_code != "", Invoice.web_code != "",
               Customer.id.not_in(registered))
        .order_by(Invoice.invoice_date.desc()).limit(1)).first()
    if row is not None:
        click.echo(f"  Try the customer portal: /portal/register with web code {row[0]} "
                   f"and tax code {row[1]} ({row[2]})")


@sportello.command("align")
@click.option("--full", is_flag=True, help="Read everything again, not only changes.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def align_command(full: bool, quiet: bool) -> None:
    """Align the local copy with billing (incremental by the change watermark)."""
    from app.services.sync.alignment import align

    run = align(full=full, trigger="cli", progress=not quiet)
    click.echo(f"Alignment {run.status}: " + ", ".join(f"{k} {v}" for k, v in (run.counts or {}).items()))
    if run.status != "ok":
        raise click.ClickException(run.error or "alignment failed")


@sportello.command("scheduler")
def scheduler_command() -> None:
    """Run the job scheduler in this process (one dedicated process, never in web workers)."""
    from app.jobs import run_scheduler

    run_scheduler(current_app._get_current_object())
