"""`router admin`: admin page users and their roles (one transaction per command)."""

from __future__ import annotations

import click

from router.cli.common import CLI_ACTOR, cli_errors, load_settings, print_table, run, stdin_line, transaction
from router.identity import users
from router.identity.roles import Role
from router.store import admins as admin_store
from router.store import api_tokens
from router.store.keys import parse_duration

ROLE_CHOICE = click.Choice([role.value for role in Role])


@click.group("admin")
def admin_group() -> None:
    """Users of the admin page: owner, admin, tenant-admin (of --tenant) or viewer (optionally limited)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return stdin_line("password")
    value: str = click.prompt("password", hide_input=True, confirmation_prompt=True)
    return value


@admin_group.command("create-user")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, default=Role.OWNER.value, show_default=True)
@click.option("--tenant", "tenants", multiple=True, help="A tenant the user is limited to (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@cli_errors
def create_user_command(name: str, role: str, tenants: tuple[str, ...], password_stdin: bool) -> None:
    """Create the admin user NAME (the password is asked for, hidden, unless --password-stdin)."""
    password = _read_password(password_stdin)

    async def go() -> str:
        async with transaction(load_settings()) as session:
            user = await users.create_user(
                session, name, password, role=role, tenants=list(tenants), actor=CLI_ACTOR
            )
            return user.username

    click.echo(f"created admin user {run(go())} ({role})")


@admin_group.command("list")
@cli_errors
def list_command() -> None:
    """Admin users, their roles and tenants."""

    async def go() -> list[admin_store.UserView]:
        async with transaction(load_settings()) as session:
            return await admin_store.list_users(session)

    rows = [
        [
            view.username,
            view.role,
            ",".join(view.tenants) or "-",
            "disabled" if view.disabled else "enabled",
            view.last_login_at.isoformat(timespec="seconds") if view.last_login_at else "never",
        ]
        for view in run(go())
    ]
    print_table(["NAME", "ROLE", "TENANTS", "STATE", "LAST SIGN-IN"], rows)


@admin_group.command("set-role")
@click.argument("name")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--tenant", "tenants", multiple=True, help="A tenant the user is limited to (repeatable).")
@cli_errors
def set_role_command(name: str, role: str, tenants: tuple[str, ...]) -> None:
    """Give NAME a new role (and tenants); their open sessions carry it from their next request."""

    async def go() -> None:
        async with transaction(load_settings()) as session:
            await users.set_role(session, name, role, list(tenants), actor=CLI_ACTOR)

    run(go())
    click.echo(f"{name} is now {role}" + (f" of {', '.join(tenants)}" if tenants else ""))


def _set_disabled(name: str, disabled: bool) -> None:
    async def go() -> None:
        async with transaction(load_settings()) as session:
            await admin_store.set_disabled(session, name, disabled, actor=CLI_ACTOR)

    run(go())


@admin_group.command("disable")
@click.argument("name")
@cli_errors
def disable_command(name: str) -> None:
    """Disable NAME and end their sessions on every replica."""
    _set_disabled(name, True)
    click.echo(f"disabled {name}")


@admin_group.command("enable")
@click.argument("name")
@cli_errors
def enable_command(name: str) -> None:
    """Let NAME sign in again."""
    _set_disabled(name, False)
    click.echo(f"enabled {name}")


@admin_group.command("delete")
@click.argument("name")
@cli_errors
def delete_command(name: str) -> None:
    """Delete NAME (their sessions end everywhere)."""

    async def go() -> None:
        async with transaction(load_settings()) as session:
            await admin_store.delete_user(session, name, actor=CLI_ACTOR)

    run(go())
    click.echo(f"deleted {name}")


@admin_group.command("reset-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@cli_errors
def reset_password_command(name: str, password_stdin: bool) -> None:
    """Set NAME's password and end their sessions everywhere; also lifts a sign-in lock."""
    password = _read_password(password_stdin)

    async def go() -> None:
        async with transaction(load_settings()) as session:
            await admin_store.set_password(session, name, password, actor=CLI_ACTOR)
            await admin_store.clear_sign_in_lock(session, name)

    run(go())
    click.echo(f"password of {name} reset")


@admin_group.group("token")
def token_group() -> None:
    """Management API tokens (/api/v1): `Authorization: Bearer <token>`, the same role checks as the pages."""


@token_group.command("create")
@click.option("--name", default="api", show_default=True, help="What the token is for (shown in lists).")
@click.option("--role", type=ROLE_CHOICE, required=True)
@click.option("--tenant", "tenants", multiple=True, help="A tenant the token is limited to (repeatable).")
@click.option("--expires", default=None, help="Lifetime such as 90d or 12h (default: until revoked).")
@cli_errors
def token_create_command(name: str, role: str, tenants: tuple[str, ...], expires: str | None) -> None:
    """Create a token; it is printed once, on stdout, and stored only as a hash."""
    lifetime = parse_duration(expires) if expires else None

    async def go() -> str:
        async with transaction(load_settings()) as session:
            _row, plaintext = await users.create_api_token(
                session, name=name, role=role, tenants=list(tenants), expires=lifetime, actor=CLI_ACTOR
            )
            return plaintext

    click.echo(run(go()))


@token_group.command("list")
@cli_errors
def token_list_command() -> None:
    """Tokens (their prefixes only), roles, tenants and state."""

    async def go() -> list[api_tokens.TokenView]:
        async with transaction(load_settings()) as session:
            return await api_tokens.list_api_tokens(session)

    rows = [
        [
            view.prefix,
            view.name,
            view.role,
            ",".join(view.tenants) or "-",
            "revoked" if view.revoked else "active",
            view.expires_at.isoformat(timespec="minutes") if view.expires_at else "never",
        ]
        for view in run(go())
    ]
    print_table(["PREFIX", "NAME", "ROLE", "TENANTS", "STATE", "EXPIRES"], rows)


@token_group.command("revoke")
@click.argument("prefix")
@cli_errors
def token_revoke_command(prefix: str) -> None:
    """Revoke the token with this prefix (refused at once on every replica: tokens are not cached)."""

    async def go() -> None:
        async with transaction(load_settings()) as session:
            await api_tokens.revoke_api_token(session, prefix, actor=CLI_ACTOR)

    run(go())
    click.echo(f"revoked {prefix}")
