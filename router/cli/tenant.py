"""`router tenant`: create and list tenants (teams)."""

from __future__ import annotations

import click

from router.cli.common import (
    CLI_ACTOR,
    FLOAT_LIMIT,
    INT_LIMIT,
    cli_errors,
    format_limit,
    load_settings,
    print_table,
    reading,
    run,
    transaction,
)
from router.store.tenants import count_keys_by_tenant, create_tenant, list_tenants


@click.group("tenant")
def tenant_group() -> None:
    """Tenants (teams): each has its own keys, rules and limits."""


@tenant_group.command("create")
@click.argument("name")
@click.option("--rpm", type=INT_LIMIT, default=None, help="Requests per minute for the whole tenant.")
@click.option("--tpm", type=INT_LIMIT, default=None, help="Tokens per minute for the whole tenant.")
@click.option("--budget-usd", type=FLOAT_LIMIT, default=None, help="Monthly budget in USD.")
@cli_errors
def create_command(name: str, rpm: int | None, tpm: int | None, budget_usd: float | None) -> None:
    """Create the tenant NAME."""

    async def go() -> str:
        async with transaction(load_settings()) as session:
            tenant = await create_tenant(
                session, name, rpm=rpm, tpm=tpm, budget_usd=budget_usd, actor=CLI_ACTOR
            )
            return tenant.name

    click.echo(f"created tenant {run(go())}")


@tenant_group.command("list")
@cli_errors
def list_command() -> None:
    """List tenants with their limits and number of active keys."""

    async def go() -> list[list[object]]:
        async with reading(load_settings()) as session:
            counts = await count_keys_by_tenant(session)
            return [
                [
                    t.name,
                    "yes" if t.enabled else "no",
                    counts.get(t.id, 0),
                    format_limit(t.rpm),
                    format_limit(t.tpm),
                    format_limit(t.budget_usd),
                ]
                for t in await list_tenants(session)
            ]

    print_table(["NAME", "ENABLED", "KEYS", "RPM", "TPM", "BUDGET_USD"], run(go()))
