"""Reading admin forms: typed values out of strings, one error message per field, the typed text kept.

Every helper records a readable message under the field's name instead of raising, so a controller can
re-render the form once with every error next to its field (status 422).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from router.admin.messages import sentence
from router.config.lengths import API_BASE_CHARS, NAME_CHARS

NAME_MAX = NAME_CHARS


class Form:
    """One submitted form: raw values (kept for re-rendering) and the errors found while reading it."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.values: dict[str, str] = {}
        for key in data:
            value = data.get(key)
            self.values[key] = value if isinstance(value, str) else ""
        self.lists: dict[str, list[str]] = {}
        getall = getattr(data, "getall", None)
        if getall is not None:
            for key in data:
                self.lists[key] = [v for v in getall(key) if isinstance(v, str)]
        self.errors: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def check(self, name: str, problem: str | None) -> None:
        """Record a validator's problem (None: no problem) as this field's readable error."""
        if problem is not None:
            self.error(name, sentence(problem))

    def raw(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def text(
        self, name: str, *, required: bool = False, max_len: int = NAME_MAX, label: str = "This"
    ) -> str | None:
        value = self.raw(name)
        if not value:
            if required:
                self.error(name, f"{label} is required.")
            return None
        if len(value) > max_len:
            self.error(name, f"{label} must be at most {max_len} characters.")
        if any(ord(ch) < 32 for ch in value):
            self.error(name, f"{label} must not contain control characters.")
        return value

    def integer(
        self,
        name: str,
        *,
        minimum: int = 0,
        maximum: int = 10**12,
        required: bool = False,
        label: str = "This",
    ) -> int | None:
        value = self.raw(name)
        if not value:
            if required:
                self.error(name, f"{label} is required.")
            return None
        try:
            number = int(value)
        except ValueError:
            self.error(name, f"{label} must be a whole number.")
            return None
        if not minimum <= number <= maximum:
            self.error(name, f"{label} must be between {minimum} and {maximum}.")
            return None
        return number

    def decimal(
        self, name: str, *, minimum: float = 0.0, maximum: float = 1e12, label: str = "This"
    ) -> float | None:
        value = self.raw(name)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            self.error(name, f"{label} must be a number.")
            return None
        if math.isnan(number) or math.isinf(number) or not minimum <= number <= maximum:
            self.error(name, f"{label} must be between {minimum:g} and {maximum:g}.")
            return None
        return number

    def checkbox(self, name: str) -> bool:
        return self.raw(name).lower() in {"on", "true", "1", "yes"}

    def tristate(self, name: str) -> bool | None:
        """A select with "", "yes", "no": don't care, required true, required false."""
        value = self.raw(name).lower()
        if value in {"yes", "true", "1"}:
            return True
        if value in {"no", "false", "0"}:
            return False
        return None

    def url(self, name: str, *, label: str = "URL", max_len: int = API_BASE_CHARS) -> str | None:
        value = self.text(name, max_len=max_len, label=label)
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            self.error(name, f"{label} must be an http:// or https:// URL.")
        return value

    def datetime_local(self, name: str, *, label: str = "Date") -> datetime | None:
        """An <input type=datetime-local> value, read as UTC."""
        value = self.raw(name)
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.error(name, f"{label} must be a date and time like 2030-01-31T12:00.")
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def lines(
        self, name: str, *, max_items: int = 200, max_len: int = 300, label: str = "Each entry"
    ) -> list[str]:
        """Comma- or newline-separated entries, blanks dropped."""
        items = [part.strip() for part in self.raw(name).replace(",", "\n").splitlines()]
        items = [item for item in items if item]
        if len(items) > max_items:
            self.error(name, f"At most {max_items} entries.")
        for item in items:
            if len(item) > max_len:
                self.error(name, f"{label} must be at most {max_len} characters.")
                break
        return items
