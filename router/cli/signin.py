"""`router signin`: the members signed in through the IdP (Claude Code's /login), and signing them out.

Signing a member out ends every one of their sign-ins at once: their access tokens are refused on every
replica within the config poll interval, and their refresh tokens no longer work.
"""

from __future__ import annotations

import click

from router.cli.common import (
    CLI_ACTOR,
    cli_errors,
    fail,
    load_settings,
    print_table,
    reading,
    run,
    transaction,
)
from router.store.member_signin import list_signin_sessions, revoke_signin_sessions
from router.store.tenants import get_tenant, list_tenants


@click.group("signin")
def signin_group() -> None:
    """Members signed in with the company identity provider."""


@signin_group.command("list")
@click.option("--tenant", default=None, help="Only this tenant's members.")
@cli_errors
def list_command(tenant: str | None) -> None:
    """List live sign-ins: member, tenant, IdP groups, when signed in and last refreshed."""

    async def go() -> list[list[object]]:
        async with reading(load_settings()) as session:
            names = {t.id: t.name for t in await list_tenants(session)}
            tenant_id = (await get_tenant(session, tenant)).id if tenant else None
            return [
                [
                    s.member,
                    names.get(s.tenant_id, "?"),
                    ",".join(s.groups or []),
                    s.created_at.strftime("%Y-%m-%d %H:%M"),
                    s.refreshed_at.strftime("%Y-%m-%d %H:%M") if s.refreshed_at else "-",
                    s.id[:8],
                ]
                for s in await list_signin_sessions(session, tenant_id=tenant_id)
            ]

    print_table(["MEMBER", "TENANT", "GROUPS", "SIGNED_IN", "REFRESHED", "SESSION"], run(go()))


@signin_group.command("sign-out")
@click.argument("member")
@click.option("--tenant", default=None, help="Only their sign-ins to this tenant.")
@cli_errors
def sign_out_command(member: str, tenant: str | None) -> None:
    """End every sign-in of MEMBER (their e-mail)."""

    async def go() -> int:
        async with transaction(load_settings()) as session:
            tenant_id = (await get_tenant(session, tenant)).id if tenant else None
            return await revoke_signin_sessions(
                session,
                reason="signed out by an administrator",
                actor=CLI_ACTOR,
                tenant_id=tenant_id,
                member=member.strip().lower(),
            )

    count = run(go())
    if count == 0:
        fail(f"{member} has no live sign-in")
    click.echo(f"signed out {member}: {count} sign-in{'s' if count != 1 else ''} ended")
