"""Compiling a rule's model pattern once: exact names, globs and regexes.

- exact: the requested name must equal the pattern (indexed in a dict by the resolver).
- glob: fnmatch semantics, case-sensitive, anchored at both ends (`*haiku*`, `claude-sonnet-4-*`).
- regex: Python `re`, searched anywhere in the name (anchor with ^ and $ to match the whole name).
  Written with an `re:` prefix in YAML and in the admin page.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, get_args

from router.routing.errors import RuleError

__all__ = [
    "GLOB_CHARS",
    "REGEX_PREFIX",
    "CompiledPattern",
    "MatchKind",
    "compile_pattern",
    "format_match",
    "infer_match_kind",
    "parse_match",
]

# Defined here, not in routing/model.py, so that reading and writing rules (`config export`, the admin
# forms) need not build the routing snapshot's thirty-odd dataclasses (~10 ms of a CLI command).
MatchKind = Literal["exact", "glob", "regex"]
REGEX_PREFIX = "re:"
GLOB_CHARS = frozenset("*?[")
MATCH_KINDS: tuple[str, ...] = get_args(MatchKind)


def infer_match_kind(pattern: str) -> MatchKind:
    """`re:...` is a regex; a pattern with any of `*?[` is a glob; anything else is an exact name."""
    if pattern.startswith(REGEX_PREFIX):
        return "regex"
    if any(c in GLOB_CHARS for c in pattern):
        return "glob"
    return "exact"


def parse_match(text: str) -> tuple[str, MatchKind]:
    """The stored (pattern, kind) for a match as written in YAML or the admin page (`re:` prefix stripped)."""
    kind = infer_match_kind(text)
    if kind == "regex":
        return text[len(REGEX_PREFIX) :], kind
    return text, kind


def format_match(pattern: str, kind: str) -> str:
    """The written form of a stored (pattern, kind): `parse_match(format_match(p, k))` gives them back.

    An exact name that happens to contain glob characters is written as an anchored, escaped regex,
    the only written form that keeps its meaning.
    """
    if kind == "regex":
        return REGEX_PREFIX + pattern
    if kind == "exact" and infer_match_kind(pattern) != "exact":
        return REGEX_PREFIX + "^" + re.escape(pattern) + "$"
    return pattern


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    pattern: str
    kind: MatchKind
    _test: Callable[[str], bool] = field(repr=False, compare=False)

    def matches(self, name: str) -> bool:
        return self._test(name)


def _regex_test(rx: re.Pattern[str]) -> Callable[[str], bool]:
    search = rx.search
    return lambda name: search(name) is not None


def _glob_test(rx: re.Pattern[str]) -> Callable[[str], bool]:
    match = rx.match  # fnmatch.translate already anchors the end with \Z
    return lambda name: match(name) is not None


@lru_cache(maxsize=16384)
def compile_pattern(pattern: str, kind: str) -> CompiledPattern:
    """Compile once (cached across snapshots); an invalid regex or an unknown kind raises `RuleError`."""
    if kind == "exact":
        return CompiledPattern(pattern, "exact", pattern.__eq__)
    if kind == "glob":
        return CompiledPattern(pattern, "glob", _glob_test(re.compile(fnmatch.translate(pattern))))
    if kind == "regex":
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise RuleError(f"invalid regex {pattern!r}: {exc}") from None
        return CompiledPattern(pattern, "regex", _regex_test(rx))
    raise RuleError(
        f"unknown match kind {kind!r} for pattern {pattern!r} (expected one of {', '.join(MATCH_KINDS)})"
    )
