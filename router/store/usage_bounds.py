"""What fits a usage_records row: the columns' widths and ranges, and the checks and cuts that make any
value fit them (`UsageEvent.bounded()` in usage_writes.py applies them to every record on the request path).

A usage record carries values an upstream or a client controls (model names, error text, token counts); none
may make the row unstorable: text is cut to its column and cleaned of what PostgreSQL refuses, counts are
clamped, attempts are kept to plain values. The quick checks (`texts_fit`, `attempt_fits`) accept what is
already inside; the rest is bounded in full.
"""

from __future__ import annotations

import math
import re
from operator import le
from typing import Any, cast

from sqlalchemy import String, Table

from router.store.usage_models import UsageRecord

# Column widths of usage_records (read from the table: models.py's numbers, router/config/lengths.py);
# `bounded()` makes every event fit them.
TEXT_LIMITS: dict[str, int] = {
    column.name: column.type.length
    for column in cast(Table, UsageRecord.__table__).columns
    if isinstance(column.type, String) and column.type.length is not None
}
COUNT_FIELDS: tuple[str, ...] = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "latency_ms",
)
# BIGINT's ceiling: an upstream may report any token count; the row stores at most this.
MAX_COUNT = 2**63 - 1
MAX_ATTEMPTS = 32
# An attempt's text values are cut to this many characters.
ATTEMPT_TEXT = 300
STATUS_RANGE = (0, 999)
# NUL (PostgreSQL text refuses it), other C0 controls and DEL; lone surrogates cannot be encoded as UTF-8.
UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def bound_text(value: object, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    if UNSTORABLE.search(text):
        text = UNSTORABLE.sub("\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def bound_count(value: object) -> int:
    number = as_int(value)
    return 0 if number < 0 else min(number, MAX_COUNT)


def as_int(value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return 0


def texts_fit(texts: tuple[Any, ...]) -> bool:
    """Every text None or a str within its width, with no unstorable character: in C calls, one pass each
    (None read as "", any value not a str raises TypeError on the way: len() or join() refuses it)."""
    try:
        present: tuple[Any, ...] = tuple(map(_NONE_AS_EMPTY, texts, texts))
        return all(map(le, map(len, present), _TEXT_WIDTHS)) and storable("".join(present))
    except TypeError:
        return False


_NONE_AS_EMPTY = {None: ""}.get
_TEXT_WIDTHS = tuple(TEXT_LIMITS.values())


def storable(text: str) -> bool:
    """No NUL, other control or lone surrogate: printable text never has one (the common case, one C scan)."""
    return text.isprintable() or not UNSTORABLE.search(text)


def attempt_fits(attempt: Any) -> bool:
    """`not unbounded_attempt(attempt)`, checking the plain values (str, int, None) of a plain dict without
    isinstance() or the pattern, and anything else as _unbounded_attempt does."""
    if type(attempt) is not dict:
        return not unbounded_attempt(attempt)
    for value in attempt.values():
        kind = type(value)
        if kind is str:
            if len(value) > ATTEMPT_TEXT or not storable(value):
                return False
        elif kind is int:
            if not 0 <= value <= MAX_COUNT:
                return False
        elif value is not None:  # subclasses, bool, floats, containers: rare, checked in full
            return not unbounded_attempt(attempt)
    return True


def unbounded_attempt(attempt: Any) -> bool:
    """Whether an attempt holds anything but plain values inside their bounds. Only str, int, bool, None
    and finite floats pass: PostgreSQL's json type refuses NaN and Infinity (the row would go to the dead
    letters), and a container could hide either."""
    if not isinstance(attempt, dict):
        return True
    for value in attempt.values():
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            if len(value) > ATTEMPT_TEXT or UNSTORABLE.search(value):
                return True
        elif isinstance(value, int):
            if not 0 <= value <= MAX_COUNT:
                return True
        elif not isinstance(value, float) or not math.isfinite(value):
            return True
    return False


def bound_attempt(attempt: Any) -> dict[str, Any]:
    if not isinstance(attempt, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in list(attempt.items())[:8]:
        name = bound_text(key, 40)
        if isinstance(value, str):
            out[name] = bound_text(value, ATTEMPT_TEXT)
        elif isinstance(value, bool) or value is None:
            out[name] = value
        elif isinstance(value, float):
            out[name] = value if math.isfinite(value) else None
        elif isinstance(value, int):
            out[name] = bound_count(value)
        else:
            out[name] = bound_text(value, ATTEMPT_TEXT)
    return out
