"""Jinja filters for the admin templates: times, money, token counts, JSON."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from litestar.contrib.jinja import JinjaTemplateEngine


def _utc_text(value: datetime | None, pattern: str) -> str:
    if value is None:
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(pattern)


def when(value: datetime | None) -> str:
    """A UTC time as `2025-01-31 14:05`; "never" for None."""
    return _utc_text(value, "%Y-%m-%d %H:%M")


def when_exact(value: datetime | None) -> str:
    """A UTC time to the second, `2025-01-31 14:05:09 UTC` (the audit log and request detail)."""
    return _utc_text(value, "%Y-%m-%d %H:%M:%S UTC")


def usd(value: float | None) -> str:
    """Dollars with enough digits that a small cost never reads as zero ($0.000012, not $0.0000)."""
    if value is None:
        return "—"
    if value == 0:
        return "$0.00"
    magnitude = abs(value)
    if magnitude >= 1:
        return f"${value:,.2f}"
    if magnitude >= 0.01:
        return f"${value:,.4f}"
    # Below a cent: two significant digits, so a cheap request never reads as $0.0000.
    return f"${value:.{1 - math.floor(math.log10(magnitude))}f}"


_CONDITION_WORDS: dict[str, tuple[str, str]] = {
    "thinking": ("with thinking", "without thinking"),
    "tools": ("with tools", "without tools"),
    "stream": ("streaming", "not streaming"),
}


def condition(key: str, value: Any) -> str:
    """A rule condition in words: `with thinking`, `tool Bash present`, `≥ 20,000 input tokens`."""
    if key in _CONDITION_WORDS and isinstance(value, bool):
        yes, no = _CONDITION_WORDS[key]
        return yes if value else no
    if key == "tool":
        return f"tool {value} present"
    if key == "min_input_tokens" and isinstance(value, int):
        return f"≥ {value:,} input tokens"
    if key == "member":
        return f"member {value}"
    return f"{key} {value}"


def override(key: str, value: Any) -> str:
    """A rule override in words: `max_tokens 4,096`, `temperature 0.2`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{key} {value:,}"
    return f"{key} {value}"


def count(value: int | float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(
        {"when": when, "when_exact": when_exact, "usd": usd, "count": count, "pretty_json": pretty_json}
    )
    engine.engine.globals.update({"condition": condition, "override": override})
    engine.engine.globals["now"] = lambda: datetime.now(UTC)
