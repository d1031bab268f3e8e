"""`router budget`: list, set and remove budgets of tenants, members and keys, several windows at once.

Windows are UTC calendar windows: `day` (from 00:00 UTC), `week` (ISO week, from Monday 00:00 UTC) and
`month` (from the 1st, 00:00 UTC). A subject has at most one budget per window; all of them apply.
"""

from __future__ import annotations

import click

from router.cli.common import (
    BUDGET_WINDOWS,
    CLI_ACTOR,
    cli_errors,
    fail,
    format_budgets,
    load_settings,
    print_table,
    reading,
    run,
    transaction,
)
from router.store.budgets import list_budgets, set_key_budget, set_member_budget, set_tenant_budget
from router.store.keys import get_key


def parse_budget(text: str) -> tuple[str, float]:
    """ "day=20" -> ("day", 20.0); a one-line error otherwise."""
    window, sep, amount = text.partition("=")
    window = window.strip().lower()
    if not sep or window not in BUDGET_WINDOWS:
        fail(f"invalid budget {text!r}: write WINDOW=USD with a window of day, week or month, e.g. day=20")
    try:
        value = float(amount)
    except ValueError:
        fail(f"invalid budget {text!r}: {amount.strip()!r} is not a number of USD")
    if not 0 <= value < float("inf"):
        fail(f"invalid budget {text!r}: the amount must be a number >= 0")
    return window, value


@click.group("budget")
def budget_group() -> None:
    """Budgets in USD per day, week or month (UTC) of a tenant, a member (all their keys) or a key."""


def _subject_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option("--key", "key_prefix", default=None, help="A key's budget (its prefix).")(func)
    func = click.option("--member", default=None, help="A member's budget: all their keys in the tenant.")(
        func
    )
    return click.option("--tenant", required=True, help="The tenant (alone: the tenant's own budget).")(func)


async def _apply(
    tenant: str, member: str | None, key_prefix: str | None, changes: dict[str, float | None]
) -> str:
    async with transaction(load_settings()) as session:
        if key_prefix is not None:
            key = await get_key(session, key_prefix)
            if key.tenant.name != tenant.strip():
                fail(f"key {key.prefix} is not in tenant {tenant.strip()!r}")
            for window, amount in changes.items():
                await set_key_budget(session, key, window, amount, actor=CLI_ACTOR)
            return f"key {key.prefix}"
        for window, amount in changes.items():
            if member is not None:
                await set_member_budget(session, tenant, member, window, amount, actor=CLI_ACTOR)
            else:
                await set_tenant_budget(session, tenant, window, amount, actor=CLI_ACTOR)
        return (
            f"member {member.strip()} of tenant {tenant.strip()}"
            if member is not None
            else f"tenant {tenant}"
        )


def _check_subject(member: str | None, key_prefix: str | None) -> None:
    if member is not None and key_prefix is not None:
        fail("give --member or --key, not both")


@budget_group.command("set")
@_subject_options
@click.argument("budgets", nargs=-1, required=True, metavar="WINDOW=USD...")
@cli_errors
def set_command(tenant: str, member: str | None, key_prefix: str | None, budgets: tuple[str, ...]) -> None:
    """Set one or more budgets, e.g. `router budget set --tenant acme --member ann day=20 month=300`."""
    _check_subject(member, key_prefix)
    changes: dict[str, float | None] = {}
    for text in budgets:
        window, amount = parse_budget(text)
        changes[window] = amount
    whose = run(_apply(tenant, member, key_prefix, changes))
    shown = format_budgets({w: a for w, a in changes.items() if a is not None})
    click.echo(f"{whose}: budgets set: {shown}")


@budget_group.command("remove")
@_subject_options
@click.argument("windows", nargs=-1, required=True, type=click.Choice(BUDGET_WINDOWS), metavar="WINDOW...")
@cli_errors
def remove_command(tenant: str, member: str | None, key_prefix: str | None, windows: tuple[str, ...]) -> None:
    """Remove budgets by window, e.g. `router budget remove --tenant acme --key sk-rt-AbCd day week`."""
    _check_subject(member, key_prefix)
    whose = run(_apply(tenant, member, key_prefix, dict.fromkeys(windows)))
    click.echo(f"{whose}: budgets removed: {','.join(windows)}")


@budget_group.command("list")
@click.option("--tenant", default=None, help="Only this tenant's budgets.")
@cli_errors
def list_command(tenant: str | None) -> None:
    """List budgets: tenant, members, keys; each subject's by window."""

    async def go() -> list[list[object]]:
        async with reading(load_settings()) as session:
            return [
                [b.tenant, b.subject_kind, b.subject or "-", b.window, f"{b.amount_usd:g}"]
                for b in await list_budgets(session, tenant)
            ]

    print_table(["TENANT", "SUBJECT", "NAME", "WINDOW", "USD"], run(go()))
