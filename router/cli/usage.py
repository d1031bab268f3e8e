"""`router usage`: usage totals from the terminal, grouped and filtered, as a table, JSON or CSV; and the
operator's `router usage rebuild-rollups`."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import click

from router.cli.common import CliError, cli_errors, open_database, reading, run, settings_of, transaction
from router.observability.logging import redact
from router.settings_light import CommandSettings
from router.store.db import is_sqlite_url
from router.store.models import Tenant
from router.store.usage_chargeback import (
    ChargebackInputError,
    chargeback,
    chargeback_csv,
    chargeback_json,
    parse_groups,
    parse_month,
    usd_text,
)
from router.store.usage_models import UsageRecord
from router.store.usage_records import find_usage_record
from router.store.usage_reports import GROUP_BY_CHOICES, GroupBy, UsageRow, aggregate_usage, resolve_tenant_id
from router.store.usage_retention import prune_raw_usage
from router.store.usage_rollups import rebuild_rollups

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
METRIC_COLUMNS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
)


def parse_moment(text: str, *, now: datetime | None = None) -> datetime:
    """`7d`, `24h`, `30m`, `2w`, `90s` (that long ago) or an ISO date/time (UTC unless it says otherwise)."""
    moment = now or datetime.now(UTC)
    match = _DURATION.match(text)
    if match:
        return moment - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"not a duration (7d, 24h, 30m) or ISO date: {text!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _format_value(column: str, value: Any) -> str:
    if column == "cost_usd":
        return f"{float(value):.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def render_table(rows: list[UsageRow], label: str) -> str:
    headers = [label, *METRIC_COLUMNS]
    body = [
        [_format_value("name", r.name)] + [_format_value(c, getattr(r, c)) for c in METRIC_COLUMNS]
        for r in rows
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(widths[i + 1]) for i, cell in enumerate(cells[1:]))
        return "  ".join([first, *rest]).rstrip()

    return "\n".join([line(headers), *(line(cells) for cells in body)])


def row_objects(rows: list[UsageRow], group_by: str | None) -> list[dict[str, Any]]:
    """Each row with its name under "name" and under the grouping key ("model": …); the cost as exact
    decimal text (the rollups' nano-dollars: no float noise), as the chargeback export writes it."""
    objects = []
    for row in rows:
        data = {**row.as_dict(), "cost_usd": usd_text(row.cost_nanousd)}
        if group_by is not None:
            data = {"name": row.name, group_by: row.name, **{c: data[c] for c in METRIC_COLUMNS}}
        objects.append(data)
    return objects


def render_csv(rows: list[UsageRow], group_by: str | None) -> str:
    objects = row_objects(rows, group_by)
    columns = ["name", *([group_by] if group_by else []), *METRIC_COLUMNS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(objects)
    return buffer.getvalue().rstrip("\n")


async def _query(
    settings: CommandSettings,
    *,
    since: datetime,
    until: datetime | None,
    tenant: str | None,
    key: str | None,
    model: str | None,
    target: str | None,
    group_by: GroupBy | None,
) -> list[UsageRow]:
    async with reading(settings) as session:
        tenant_id = None
        if tenant is not None:
            tenant_id = await resolve_tenant_id(session, tenant)
            if tenant_id is None:
                raise CliError(f"no tenant named {tenant!r}")
        return await aggregate_usage(
            session,
            since=since,
            until=until,
            tenant_id=tenant_id,
            key_prefix=key,
            model=model,
            target=target,
            group_by=group_by,
        )


@click.group("usage", invoke_without_command=True)
@click.option("--tenant", help="Tenant name (or id).")
@click.option("--key", "key_prefix", metavar="PREFIX", help="API key prefix.")
@click.option("--model", help="Requested model name.")
@click.option("--target", help="Target ref, e.g. openai/gpt-4.1.")
@click.option("--since", default="7d", show_default=True, help="Start: 7d, 24h, 30m ago, or an ISO date.")
@click.option("--until", default=None, help="End (exclusive): a duration ago or an ISO date; default now.")
@click.option("--by", "group_by", type=click.Choice(GROUP_BY_CHOICES), help="Group rows by this.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True
)
@click.pass_context
@cli_errors
def usage(
    ctx: click.Context,
    tenant: str | None,
    key_prefix: str | None,
    model: str | None,
    target: str | None,
    since: str,
    until: str | None,
    group_by: str | None,
    fmt: str,
) -> None:
    """Requests, errors, tokens and cost (from the hourly rollups), or one of the commands below."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_of(ctx)
    now = datetime.now(UTC)
    start = parse_moment(since, now=now)
    end = parse_moment(until, now=now) if until else None
    if end is not None and end <= start:
        raise CliError("--until must be after --since")
    rows = run(
        _query(
            settings,
            since=start,
            until=end,
            tenant=tenant,
            key=key_prefix,
            model=model,
            target=target,
            group_by=cast(GroupBy | None, group_by),
        )
    )
    if fmt == "json":
        click.echo(json.dumps(row_objects(rows, group_by), indent=2))
    elif fmt == "csv":
        click.echo(render_csv(rows, group_by))
    else:
        click.echo(render_table(rows, group_by or "name"))


async def _rebuild(settings: CommandSettings, since: datetime | None) -> int:
    async with transaction(settings) as session:
        return await rebuild_rollups(session, since)


@usage.command("rebuild-rollups")
@click.option(
    "--since", default=None, help="First hour to recompute: a duration ago or an ISO date (default: all)."
)
@click.pass_context
@cli_errors
def rebuild_rollups_command(ctx: click.Context, since: str | None) -> None:
    """Recompute the hourly rollups from the raw usage rows (from --since's hour on). Idempotent: a repair
    tool for rows loaded or deleted behind the writer's back."""
    settings = settings_of(ctx)
    start = parse_moment(since) if since else None
    written = run(_rebuild(settings, start))
    hour = start.replace(minute=0, second=0, microsecond=0) if start else None
    where = f"from {hour.isoformat()}" if hour else "for all hours"
    click.echo(f"rebuilt {written} hourly rollup rows {where}")


async def _chargeback(settings: CommandSettings, month: str, by: tuple[str, ...], fmt: str) -> str:
    start, end = parse_month(month)
    async with reading(settings) as session:
        rows = await chargeback(session, start, end, by)
    return chargeback_json(rows, by, month) if fmt == "json" else chargeback_csv(rows, by).rstrip("\n")


@usage.command("export")
@click.option("--month", required=True, metavar="YYYY-MM", help="Calendar month (UTC).")
@click.option(
    "--by",
    "group_by",
    default="tenant,member,model",
    show_default=True,
    help="Comma-separated: tenant, key, member, model, target.",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.pass_context
@cli_errors
def export_command(ctx: click.Context, month: str, group_by: str, fmt: str) -> None:
    """Chargeback: one month's requests, tokens by kind and cost per group, from the hourly rollups (costs
    exact to the nano-dollar)."""
    settings = settings_of(ctx)
    try:
        parse_month(month)
        by = parse_groups(group_by)
    except ChargebackInputError as exc:
        raise CliError(str(exc)) from None
    click.echo(run(_chargeback(settings, month, by, fmt)))


async def _detail(settings: CommandSettings, ref: str) -> dict[str, Any]:
    async with reading(settings) as session:
        record = await find_usage_record(session, ref)
        if record is None:
            raise CliError(f"no request with id {ref!r}")
        tenant = await session.get(Tenant, record.tenant_id) if record.tenant_id is not None else None
        return request_detail(record, tenant.name if tenant is not None else None)


def request_detail(record: UsageRecord, tenant_name: str | None) -> dict[str, Any]:
    """One request as plain data: the record's fields and its attempts, error text masked of credentials
    (providers scrub them already; this is the second lock on the door)."""
    attempts = []
    for number, attempt in enumerate(record.attempts or [], start=1):
        error = attempt.get("error")
        attempts.append(
            {
                "attempt": number,
                "target": attempt.get("target"),
                "pool": attempt.get("pool"),
                "status": attempt.get("status"),
                "error_type": attempt.get("error_type"),
                # Why it failed, as a word a report can filter on ("timeout", "upstream_too_large", ...).
                "failure": attempt.get("failure"),
                "error": redact(error) if isinstance(error, str) else None,
                "latency_ms": attempt.get("latency_ms"),
                # TTFT is measured on the answer, which the last attempt gave when the request succeeded.
                "ttft_ms": record.ttft_ms if number == len(record.attempts) and record.target else None,
            }
        )
    return {
        "id": record.id,
        "request_id": record.request_id,
        "created_at": record.created_at.replace(tzinfo=record.created_at.tzinfo or UTC).isoformat(),
        "tenant": tenant_name or record.tenant_id,
        "key_prefix": record.key_prefix,
        "member": record.member,
        "requested_model": record.requested_model,
        "target": record.target,
        "upstream_model": record.upstream_model,
        "stream": record.stream,
        "outcome": record.outcome,
        "status": record.status,
        "error_type": record.error_type,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cache_read_tokens": record.cache_read_tokens,
        "cache_write_tokens": record.cache_write_tokens,
        "tokens_estimated": record.tokens_estimated,
        "cost_usd": record.cost_usd,
        "latency_ms": record.latency_ms,
        "ttft_ms": record.ttft_ms,
        "attempts": attempts,
    }


def render_detail(detail: dict[str, Any]) -> str:
    fields = [
        (name, detail[name])
        for name in (
            "request_id", "created_at", "tenant", "key_prefix", "member", "requested_model", "target",
            "upstream_model", "stream", "outcome", "status", "error_type", "input_tokens", "output_tokens",
            "cache_read_tokens", "cache_write_tokens", "tokens_estimated", "cost_usd", "latency_ms",
            "ttft_ms",
        )
    ]  # fmt: skip
    width = max(len(name) for name, _ in fields)
    lines = [f"{name.ljust(width)}  {_format_value(name, value)}" for name, value in fields]
    lines.append("")
    headers = ["#", "target", "status", "error_type", "failure", "latency_ms", "ttft_ms", "error"]
    rows = [
        [str(a["attempt"]), a["target"] or "-", str(a["status"]), a["error_type"] or "-", a["failure"] or "-",
         _format_value("latency_ms", a["latency_ms"]), _format_value("ttft_ms", a["ttft_ms"]),
         (a["error"] or "-").replace("\n", " ")]
        for a in detail["attempts"]
    ]  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for cells in [headers, *rows]:
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip())
    if not rows:
        lines.append("(no attempts: the request was refused before any target was tried)")
    return "\n".join(lines)


@usage.command("show")
@click.argument("request_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@cli_errors
def show_command(ctx: click.Context, request_id: str, fmt: str) -> None:
    """One request: its record and every attempt (target, status, error, latency, time to first token)."""
    settings = settings_of(ctx)
    if not request_id.strip() or len(request_id) > 64:
        raise CliError("a request id is 1 to 64 characters")
    detail = run(_detail(settings, request_id.strip()))
    click.echo(json.dumps(detail, indent=2) if fmt == "json" else render_detail(detail))


async def _prune(settings: CommandSettings, before: datetime) -> int:
    async with open_database(settings) as db:
        return await prune_raw_usage(db, before)


@usage.command("prune")
@click.option("--older-than", "older_than", required=True, help="Age: 90d, 12w, … or an ISO date.")
@click.pass_context
@cli_errors
def prune_command(ctx: click.Context, older_than: str) -> None:
    """Delete raw usage rows older than this (PostgreSQL: drop the whole months before it; SQLite: by date,
    in batches); the rollups (and every report) keep them. The service does the same hourly when
    ROUTER_USAGE_RETENTION_DAYS is set."""
    settings = settings_of(ctx)
    before = parse_moment(older_than)
    deleted = run(_prune(settings, before))
    whole = "" if is_sqlite_url(settings.database_url) else " (whole months only: the month holding it stays)"
    click.echo(f"deleted {deleted} raw usage rows created before {before.isoformat()}{whole}")
