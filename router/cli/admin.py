"""`router admin`: admin page users."""

from __future__ import annotations

import sys

import click

from router.cli.common import CLI_ACTOR, cli_errors, fail, load_settings, run, transaction
from router.store.admins import create_user


@click.group("admin")
def admin_group() -> None:
    """Users of the admin page."""


@admin_group.command("create-user")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@cli_errors
def create_user_command(name: str, password_stdin: bool) -> None:
    """Create the admin user NAME (the password is asked for, hidden, unless --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on stdin")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)

    async def go() -> str:
        async with transaction(load_settings()) as session:
            user = await create_user(session, name, password, actor=CLI_ACTOR)
            return user.username

    click.echo(f"created admin user {run(go())}")
