"""`router db`: apply, undo and show schema migrations."""

from __future__ import annotations

import click

from router.cli.common import announce_new_database, cli_errors, fail, load_settings, run
from router.store.db import redact_url
from router.store.revisions import current, script_heads

# Alembic (store/migrate.py) is imported by the commands that migrate only: `db current` reads the version
# table and the revision files without it.


@click.group("db")
def db_group() -> None:
    """Database schema migrations (Alembic)."""


@db_group.command("upgrade")
@cli_errors
def upgrade_command() -> None:
    """Apply every pending migration (PostgreSQL: under an advisory lock, so jobs never race)."""
    from router.store.migrate import upgrade_to_head

    settings = load_settings()
    announce_new_database(settings)
    # Both read under the migration lock: of two jobs started together, the second reports nothing to do.
    before, after = run(upgrade_to_head(settings.database_url))
    where = redact_url(settings.database_url)
    if before == after:
        click.echo(f"{where} is already at revision {after} (head)")
    else:
        click.echo(f"{where} upgraded from {before or 'an empty schema'} to {after} (head)")


@db_group.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@cli_errors
def downgrade_command(revision: str, yes: bool) -> None:
    """Undo migrations down to REVISION ("-1" for one step, "base" drops every table and its data)."""
    from router.store.migrate import downgrade

    settings = load_settings()
    where = redact_url(settings.database_url)
    if settings.sqlite_path is not None and not settings.sqlite_path.exists():
        fail(f"no database at {settings.sqlite_path.resolve()}")
    if not yes:
        click.confirm(f"downgrade {where} to {revision}? Data in dropped tables is lost", abort=True)
    run(downgrade(settings.database_url, revision))
    click.echo(f"{where} is now at revision {run(current(settings.database_url)) or 'base (empty)'}")


@db_group.command("current")
@cli_errors
def current_command() -> None:
    """Show the database's schema revision."""
    settings = load_settings()
    head = ", ".join(script_heads())
    if settings.sqlite_path is not None and not settings.sqlite_path.exists():
        click.echo(f"none (no database at {settings.sqlite_path.resolve()}; head is {head})")
        return
    revision = run(current(settings.database_url))
    if revision is None:
        click.echo(f"none (not migrated; head is {head})")
    elif revision == head:
        click.echo(f"{revision} (head)")
    else:
        click.echo(f"{revision} (behind head {head}: run `router db upgrade`)")
