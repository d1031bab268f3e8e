"""Rules no request can reach: an earlier enabled rule at the same level matches everything they match.

The check is sound but deliberately incomplete: it reports a rule as shadowed only when that is certain
(a catch-all, an equal pattern, a plain prefix glob such as `claude-*` covering `claude-sonnet-*`, a glob
covering an exact name), and only when the earlier rule's conditions are implied by the later rule's.
Regexes other than a catch-all are never claimed to cover anything.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["RuleShape", "Shadow", "covers", "find_shadows", "shadowed_by"]

_CATCH_ALL_REGEXES = frozenset({"", ".*", "^.*", ".*$", "^.*$", ".+", "^.+$", "^.+"})
_PLAIN = re.compile(r"[^*?\[\]]*")


class RuleShape(Protocol):
    """What the check reads of a rule (store rows and drafts both have these)."""

    @property
    def match(self) -> str: ...
    @property
    def match_kind(self) -> str: ...
    @property
    def conditions(self) -> Mapping[str, Any] | None: ...
    @property
    def enabled(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Shadow:
    """Rule `index` can never match because rule `by` (both 0-based, one level) matches first."""

    index: int
    by: int


def _catch_all(pattern: str, kind: str) -> bool:
    if kind == "glob":
        return pattern.strip("*") == "" and pattern != ""
    if kind == "regex":
        return pattern in _CATCH_ALL_REGEXES
    return False


def _pattern_covers(earlier: tuple[str, str], later: tuple[str, str]) -> bool:
    (p1, k1), (p2, k2) = earlier, later
    if _catch_all(p1, k1):
        return True
    if (p1, k1) == (p2, k2):
        return True
    if k1 != "glob":
        return False
    if k2 == "exact":
        return fnmatch.fnmatchcase(p2, p1)
    if k2 == "glob":
        # `prefix*` covers any glob that starts with the same literal prefix.
        prefix = p1[:-1]
        return p1.endswith("*") and _PLAIN.fullmatch(prefix) is not None and p2.startswith(prefix)
    return False


def _conditions_implied(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> bool:
    """Every request meeting `later`'s conditions also meets `earlier`'s."""
    for key, value in earlier.items():
        if value is None:
            continue
        if key == "min_input_tokens":
            if not isinstance(later.get(key), int) or later[key] < value:
                return False
        elif later.get(key) != value:
            return False
    return True


def covers(earlier: RuleShape, later: RuleShape) -> bool:
    """True when `earlier` (enabled) matches every request `later` matches."""
    if not earlier.enabled:
        return False
    return _pattern_covers((earlier.match, earlier.match_kind), (later.match, later.match_kind)) and (
        _conditions_implied(earlier.conditions or {}, later.conditions or {})
    )


def shadowed_by(rules: Sequence[RuleShape], candidate: RuleShape, position: int) -> int | None:
    """Index of the first rule before `position` that leaves `candidate` unreachable, else None."""
    for index, earlier in enumerate(rules[:position]):
        if covers(earlier, candidate):
            return index
    return None


def find_shadows(rules: Sequence[RuleShape]) -> list[Shadow]:
    """Each unreachable rule of one level (in evaluation order) and the first rule that hides it."""
    found = []
    for index, rule in enumerate(rules):
        by = shadowed_by(rules, rule, index)
        if by is not None:
            found.append(Shadow(index=index, by=by))
    return found
