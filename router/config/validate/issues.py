"""What every entity's check gathers its problems in, and what the checks may refer to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from router.config.drafts import ValidationIssue


@dataclass(frozen=True, slots=True)
class KnownNames:
    """What a draft may refer to: the names in the file being applied, or in the database."""

    providers: frozenset[str] = frozenset()
    deployments: frozenset[str] = frozenset()
    chains: frozenset[str] = frozenset()
    pools: frozenset[str] = frozenset()
    # Each provider's kind, where known (a deployment needs an azure provider).
    provider_kinds: Mapping[str, str] = field(default_factory=dict)


class Issues(list[ValidationIssue]):
    """One entity's problems, each at a path relative to the entity ("" is the entity as a whole)."""

    def add(self, path: str, message: str | None) -> None:
        if message is not None:
            self.append(ValidationIssue(path, message))

    def under(self, path: str, issues: Iterable[ValidationIssue]) -> None:
        """A part's issues, placed at the part's path."""
        for issue in issues:
            self.append(ValidationIssue(f"{path}.{issue.path}" if issue.path else path, issue.message))


def is_number(value: object) -> bool:
    """An int or a float, not a bool, not NaN."""
    return not isinstance(value, bool) and isinstance(value, int | float) and value == value


def is_whole(value: object, low: int, high: int | None = None) -> bool:
    """An int (not a bool) from `low` to `high` (no upper bound when None)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, int)
        and value >= low
        and (high is None or value <= high)
    )


def amount_error(value: object) -> str | None:
    """A limit or a price: a number >= 0 (None, no limit or no price, is checked by the caller)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return f"must be a number >= 0, not {value!r}"
    return None
