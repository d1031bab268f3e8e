"""`router tenant`: create and list tenants (teams)."""

from __future__ import annotations

import click

from router.cli.common import (
    BUDGET_WINDOW_HELP,
    BUDGET_WINDOWS,
    CLI_ACTOR,
    FLOAT_LIMIT,
    INT_LIMIT,
    budget_window_of,
    cli_errors,
    format_budgets,
    format_limit,
    load_settings,
    print_table,
    reading,
    run,
    transaction,
)
from router.store.budgets import own_budgets, set_tenant_budget
from router.store.tenants import count_keys_by_tenant, create_tenant, list_tenants


@click.group("tenant")
def tenant_group() -> None:
    """Tenants (teams): each has its own keys, rules and limits."""


@tenant_group.command("create")
@click.argument("name")
@click.option("--rpm", type=INT_LIMIT, default=None, help="Requests per minute for the whole tenant.")
@click.option("--tpm", type=INT_LIMIT, default=None, help="Tokens per minute for the whole tenant.")
@click.option("--budget-usd", type=FLOAT_LIMIT, default=None, help="Budget in USD (monthly by default).")
@click.option("--budget-window", type=click.Choice(BUDGET_WINDOWS), default=None, help=BUDGET_WINDOW_HELP)
@cli_errors
def create_command(
    name: str, rpm: int | None, tpm: int | None, budget_usd: float | None, budget_window: str | None
) -> None:
    """Create the tenant NAME (more budgets: `router budget set --tenant NAME day=100 month=2000`)."""
    window = budget_window_of(budget_window, budget_usd is not None)

    async def go() -> str:
        async with transaction(load_settings()) as session:
            monthly = budget_usd if window == "month" else None
            tenant = await create_tenant(session, name, rpm=rpm, tpm=tpm, budget_usd=monthly, actor=CLI_ACTOR)
            if window != "month" and budget_usd is not None:
                await set_tenant_budget(session, tenant.name, window, budget_usd, actor=CLI_ACTOR)
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
                    format_budgets(own_budgets(t.budgets, "tenant")),
                ]
                for t in await list_tenants(session)
            ]

    print_table(["NAME", "ENABLED", "KEYS", "RPM", "TPM", "BUDGETS_USD"], run(go()))
