"""Flask CLI commands for operators: `flask sportello backup | restore | prune-backups`."""
from __future__ import annotations

import click
from flask import current_app


def _url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=False)


@click.command("backup")
@click.option("--to", "target", required=True, type=click.Path(file_okay=False),
              help="Directory receiving the backup (a new sportello-<time> directory inside it).")
def backup_command(target: str) -> None:
    """Back up the database, stored documents included, while the system runs."""
    from app.services.ops.backup import BackupError, backup

    try:
        made = backup(_url(), target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backup of the {made.engine} database written to {made.path} "
               f"({sum(made.rows.values())} rows in {len(made.rows)} tables, migration {', '.join(made.revision)})")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
def restore_command(path: str) -> None:
    """Restore a backup into the configured database, which must be new and empty."""
    from app.services.ops.backup import BackupError, restore

    try:
        manifest = restore(path, _url())
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored the backup of {manifest['created_at']} (migration {', '.join(manifest['revision'])}). "
               "Run `flask db upgrade` if this release is newer, then start the processes.")


@click.command("prune-backups")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--keep-daily", default=14, show_default=True, type=click.IntRange(1, 3650))
@click.option("--keep-monthly", default=12, show_default=True, type=click.IntRange(0, 1200))
def prune_command(directory: str, keep_daily: int, keep_monthly: int) -> None:
    """Delete old backups: keep the newest of each of the last N days and the first of each month."""
    from app.services.ops.backup import prune

    gone = prune(directory, keep_daily, keep_monthly)
    click.echo(f"{len(gone)} old backups deleted")


def register(group) -> None:
    for command in (backup_command, restore_command, prune_command):
        group.add_command(command)
