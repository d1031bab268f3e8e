"""Jinja filters for the admin templates: times, money, token counts, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from litestar.contrib.jinja import JinjaTemplateEngine


def when(value: datetime | None) -> str:
    """A UTC time as `2025-01-31 14:05`; "never" for None."""
    if value is None:
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def usd(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.4f}" if 0 < abs(value) < 1 else f"${value:,.2f}"


def count(value: int | float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update({"when": when, "usd": usd, "count": count, "pretty_json": pretty_json})
    engine.engine.globals["now"] = lambda: datetime.now(UTC)
