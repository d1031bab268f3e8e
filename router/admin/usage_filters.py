"""The usage page's filters, read from the query string (shared by the page, the CSV and the JSON API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

Bucket = Literal["hour", "day", "month"]
RANGES: dict[str, tuple[str, timedelta | None]] = {
    "today": ("Today (UTC)", None),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "custom": ("Custom dates", None),
}
GROUPS = ("model", "key", "target", "tenant", "day", "hour", "month")
MAX_TEXT = 300


@dataclass
class UsageQuery:
    since: datetime
    until: datetime | None
    bucket: Bucket
    tenant_id: int | None = None
    key_prefix: str | None = None
    model: str | None = None
    target: str | None = None
    # What the admin typed, to fill the filter form again, and what was wrong with it.
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def store_filters(self) -> dict[str, Any]:
        """Keyword arguments shared by aggregate_usage and usage_timeseries."""
        return {
            "since": self.since,
            "until": self.until,
            "tenant_id": self.tenant_id,
            "key_prefix": self.key_prefix,
            "model": self.model,
            "target": self.target,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "bucket": self.bucket,
            "tenant_id": self.tenant_id,
            "key_prefix": self.key_prefix,
            "model": self.model,
            "target": self.target,
        }


def _day(value: str, name: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "Use a date like 2025-01-31."
        return None


def parse_usage_query(params: Any, *, now: datetime | None = None, default_range: str = "7d") -> UsageQuery:
    """Filters from query parameters; bad values become errors and fall back to the defaults."""
    now = now or datetime.now(UTC)
    values = {
        k: str(params.get(k) or "").strip()
        for k in ("range", "since", "until", "tenant_id", "key_prefix", "model", "target", "bucket")
    }
    errors: dict[str, str] = {}
    chosen = values["range"] or default_range
    if chosen not in RANGES:
        errors["range"] = "Choose one of the listed ranges."
        chosen = default_range
    values["range"] = chosen
    until: datetime | None = None
    midnight = datetime.combine(now.date(), time(), tzinfo=UTC)
    if chosen == "today":
        since = midnight
    elif chosen == "custom":
        first = _day(values["since"], "since", errors)
        last = _day(values["until"], "until", errors)
        if first is None and "since" not in errors:
            errors["since"] = "Give a start date for a custom range."
        since = datetime.combine(first, time(), tzinfo=UTC) if first else midnight - timedelta(days=6)
        if last is not None:
            until = datetime.combine(last, time(), tzinfo=UTC) + timedelta(days=1)
            if until <= since:
                errors["until"] = "The end date must not be before the start date."
                until = None
    else:
        span = RANGES[chosen][1]
        since = now - span if span else midnight
    tenant_id: int | None = None
    if values["tenant_id"]:
        if values["tenant_id"].isdigit() and len(values["tenant_id"]) < 18:
            tenant_id = int(values["tenant_id"])
        else:
            errors["tenant_id"] = "Choose a tenant from the list."
    for name in ("key_prefix", "model", "target"):
        if len(values[name]) > MAX_TEXT:
            errors[name] = f"At most {MAX_TEXT} characters."
            values[name] = values[name][:MAX_TEXT]
    span_hours = ((until or now) - since).total_seconds() / 3600
    bucket: Bucket = "hour" if span_hours <= 48 else ("day" if span_hours <= 24 * 120 else "month")
    if values["bucket"] in ("hour", "day", "month"):
        requested: Bucket = values["bucket"]  # type: ignore[assignment]
        # Keep a chart readable and a query bounded: at most ~800 hourly buckets.
        if requested != "hour" or span_hours <= 800:
            bucket = requested
    return UsageQuery(
        since=since,
        until=until,
        bucket=bucket,
        tenant_id=tenant_id,
        key_prefix=values["key_prefix"] if "key_prefix" not in errors and values["key_prefix"] else None,
        model=values["model"] if "model" not in errors and values["model"] else None,
        target=values["target"] if "target" not in errors and values["target"] else None,
        values=values,
        errors=errors,
    )
