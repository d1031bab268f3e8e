"""`router key`: issue, list, revoke and limit members' proxy keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from router.cli.common import (
    BUDGET_WINDOW_HELP,
    BUDGET_WINDOWS,
    CLI_ACTOR,
    FLOAT_LIMIT,
    INT_LIMIT,
    UNSET,
    budget_window_of,
    cli_errors,
    fail,
    format_budgets,
    format_limit,
    keep_if_unset,
    load_settings,
    print_table,
    reading,
    run,
    transaction,
)
from router.store.budgets import own_budgets, set_key_budget
from router.store.db import as_utc
from router.store.keys import (
    create_key,
    get_key,
    is_expired,
    list_keys,
    parse_duration,
    revoke_key,
    set_key_limits,
)


def _when(value: datetime | None) -> str:
    moment = as_utc(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "never"


def _models(text: str | None) -> list[str] | None:
    """ "a*,b" -> ["a*", "b"]; "none" or "*" -> None (any model)."""
    if text is None:
        return None
    patterns = [p.strip() for p in text.split(",") if p.strip()]
    if not patterns:
        fail("--models needs at least one pattern (or 'none' for any model)")
    if patterns in (["none"], ["*"]):
        return None
    return patterns


@click.group("key")
def key_group() -> None:
    """Members' proxy keys (sk-rt-…): shown once at creation, stored only as a hash."""


@key_group.command("create")
@click.option("--tenant", required=True, help="The tenant the key belongs to.")
@click.option("--member", required=True, help="Who the key is for (shown in usage).")
@click.option("--expires", default=None, help="Lifetime, e.g. 90m, 12h, 30d, 2w (default: never).")
@click.option("--rpm", type=INT_LIMIT, default=None, help="Requests per minute.")
@click.option("--tpm", type=INT_LIMIT, default=None, help="Tokens per minute.")
@click.option("--budget-usd", type=FLOAT_LIMIT, default=None, help="Budget in USD (monthly by default).")
@click.option("--budget-window", type=click.Choice(BUDGET_WINDOWS), default=None, help=BUDGET_WINDOW_HELP)
@click.option("--models", default=None, help="Comma-separated model name patterns the key may request.")
@cli_errors
def create_command(
    tenant: str,
    member: str,
    expires: str | None,
    rpm: int | None,
    tpm: int | None,
    budget_usd: float | None,
    budget_window: str | None,
    models: str | None,
) -> None:
    """Create a key; the key itself is printed once, alone on the last line."""
    lifetime = parse_duration(expires) if expires is not None else None
    allowed = _models(models)
    window = budget_window_of(budget_window, budget_usd is not None)

    async def go() -> tuple[str, str, str]:
        async with transaction(load_settings()) as session:
            key, plaintext = await create_key(
                session,
                tenant,
                member,
                lifetime,
                rpm=rpm,
                tpm=tpm,
                budget_usd=budget_usd if window == "month" else None,
                allowed_models=allowed,
                actor=CLI_ACTOR,
            )
            if window != "month" and budget_usd is not None:
                await set_key_budget(session, key, window, budget_usd, actor=CLI_ACTOR)
            return key.prefix, _when(key.expires_at), plaintext

    prefix, expiry, plaintext = run(go())
    click.echo(f"created key {prefix} for {member} in tenant {tenant} (expires: {expiry})")
    click.echo("store it now: it is not shown again")
    click.echo(plaintext)


@key_group.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
@cli_errors
def list_command(tenant: str | None) -> None:
    """List keys by prefix (never the key or its hash)."""

    async def go() -> list[list[object]]:
        async with reading(load_settings()) as session:
            rows: list[list[object]] = []
            for key in await list_keys(session, tenant):
                if key.revoked_at is not None:
                    status = "revoked"
                elif is_expired(key):
                    status = "expired"
                else:
                    status = "active"
                rows.append(
                    [
                        key.prefix,
                        key.tenant.name,
                        key.member,
                        status,
                        _when(key.created_at),
                        _when(key.expires_at),
                        format_limit(key.rpm),
                        format_limit(key.tpm),
                        format_budgets(own_budgets(key.budgets, "key")),
                        ",".join(key.allowed_models) if key.allowed_models is not None else "*",
                    ]
                )
            return rows

    print_table(
        ["PREFIX", "TENANT", "MEMBER", "STATUS", "CREATED", "EXPIRES", "RPM", "TPM", "BUDGETS_USD", "MODELS"],
        run(go()),
    )


@key_group.command("revoke")
@click.argument("prefix")
@cli_errors
def revoke_command(prefix: str) -> None:
    """Revoke the key with PREFIX (e.g. sk-rt-AbCdEf); it stops working within seconds everywhere."""

    async def go() -> tuple[str, bool]:
        async with transaction(load_settings()) as session:
            key = await revoke_key(session, prefix, actor=CLI_ACTOR)
            was_revoked = key.revoked_at is not None
            return key.prefix, was_revoked

    revoked_prefix, _ = run(go())
    click.echo(f"revoked key {revoked_prefix}")


@key_group.command("limits")
@click.argument("prefix")
@click.option("--rpm", type=INT_LIMIT, default=UNSET, help="Requests per minute ('none' removes the limit).")
@click.option("--tpm", type=INT_LIMIT, default=UNSET, help="Tokens per minute ('none' removes the limit).")
@click.option(
    "--budget-usd",
    type=FLOAT_LIMIT,
    default=UNSET,
    help="Budget in USD (monthly by default; 'none' removes that window's budget).",
)
@click.option("--budget-window", type=click.Choice(BUDGET_WINDOWS), default=None, help=BUDGET_WINDOW_HELP)
@click.option("--models", default=None, help="Comma-separated model patterns ('none' allows any model).")
@cli_errors
def limits_command(
    prefix: str, rpm: Any, tpm: Any, budget_usd: Any, budget_window: str | None, models: str | None
) -> None:
    """Set the limits of the key with PREFIX; options not given stay as they are."""
    allowed: Any = _models(models) if models is not None else ...
    if all(v is UNSET for v in (rpm, tpm, budget_usd)) and models is None:
        fail("nothing to change: give --rpm, --tpm, --budget-usd or --models")
    window = budget_window_of(budget_window, budget_usd is not UNSET)

    async def go() -> list[str]:
        async with transaction(load_settings()) as session:
            key = await set_key_limits(
                session,
                prefix,
                rpm=keep_if_unset(rpm),
                tpm=keep_if_unset(tpm),
                budget_usd=keep_if_unset(budget_usd) if window == "month" else ...,
                allowed_models=allowed,
                actor=CLI_ACTOR,
            )
            if window != "month" and budget_usd is not UNSET:
                await set_key_budget(
                    session, await get_key(session, prefix), window, budget_usd, actor=CLI_ACTOR
                )
            return [
                key.prefix,
                format_limit(key.rpm),
                format_limit(key.tpm),
                format_budgets(own_budgets(key.budgets, "key")),
                ",".join(key.allowed_models) if key.allowed_models is not None else "*",
            ]

    shown = run(go())
    click.echo(f"key {shown[0]}: rpm {shown[1]}, tpm {shown[2]}, budgets_usd {shown[3]}, models {shown[4]}")
