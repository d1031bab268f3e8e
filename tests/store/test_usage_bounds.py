"""UsageEvent.bounded() (store/usage_writes.py, with store/usage_bounds.py), the request path's check that every value fits its column:
for any values at all it gives what bounding every value in full gives (texts cut to width and cleaned of
NUL, controls and lone surrogates; counts, status and cost clamped; attempts cut to MAX_ATTEMPTS and
cleaned), whether they take its quick checks or not."""

from __future__ import annotations

import copy
import math
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from router.store.usage_bounds import (
    COUNT_FIELDS,
    MAX_ATTEMPTS,
    MAX_COUNT,
    TEXT_LIMITS,
    as_int,
    bound_attempt,
    bound_count,
    bound_text,
    unbounded_attempt,
)
from router.store.usage_writes import EVENT_FIELDS, UsageEvent


class _Text(str):
    """A str subclass: not the plain type the quick checks look for."""


def _bound_in_full(event: UsageEvent) -> UsageEvent:
    """Every value through its bounding function, checked or not: the reference."""
    for name, limit in TEXT_LIMITS.items():
        value = getattr(event, name)
        if value is not None:
            setattr(event, name, bound_text(value, limit))
    for name in COUNT_FIELDS:
        setattr(event, name, bound_count(getattr(event, name)))
    if event.ttft_ms is not None:
        event.ttft_ms = bound_count(event.ttft_ms)
    event.status = min(max(as_int(event.status), 0), 999)
    cost = event.cost_usd
    if not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0:
        event.cost_usd = 0.0
    if len(event.attempts) > MAX_ATTEMPTS or any(unbounded_attempt(a) for a in event.attempts):
        event.attempts = [bound_attempt(a) for a in event.attempts[:MAX_ATTEMPTS]]
    return event


# Characters of every kind the checks tell apart: plain, allowed controls (tab, newline, CR), unstorable (C0
# controls, DEL, lone surrogates), storable but not printable (NEL, NBSP, line separator, zero-width space,
# private use), printable beyond ASCII.
_CHARS = ["a", "Z", "0", " ", "/", ":", "\t", "\n", "\r", "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f",
          "\ud800", "\udfff", "\x85", "\xa0", "\u2028", "\u200b", "\ue000", "\u00e9", "\u4e2d", "\U0001f600"]  # fmt: skip


_STATUSES: list[Any] = [200, 0, 999, 1000, -1, True, 404.5, None, "500"]
_COSTS: list[Any] = [
    0.0042,
    0.0,
    -0.0,
    0,
    3,
    True,
    -1e-9,
    float("nan"),
    float("inf"),
    -math.inf,
    1e308,
    None,
    "0.1",
]


def _text(rng: random.Random, limit: int) -> Any:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.12:
        return rng.choice([5, 0, b"bytes", 1.5, False, _Text("sub"), ["x"]])
    size = rng.choice([0, 1, limit - 1, limit, limit + 1, rng.randrange(0, 2 * limit + 2)])
    if rng.random() < 0.6:
        return "".join(rng.choice("abcdefghij-./@") for _ in range(size))
    return "".join(rng.choice(_CHARS) for _ in range(size))


def _count(rng: random.Random) -> Any:
    return rng.choice([0, 1, 1200, MAX_COUNT, MAX_COUNT + 1, -1, 2**70, True, False, 3.7, -2.5, float("nan"),
                       float("inf"), None, "12", 2**31])  # fmt: skip


def _attempt(rng: random.Random) -> Any:
    if rng.random() < 0.05:
        return rng.choice(["not a dict", None, 7, ["target"]])
    attempt: dict[Any, Any] = {
        "target": _text(rng, 300),
        "status": rng.choice([200, 429, -1, MAX_COUNT + 1, True, 2.5]),
        "error_type": rng.choice([None, "rate_limit_error", "x" * 301]),
        "latency_ms": _count(rng),
    }
    for _ in range(rng.choice([0, 0, 1, 6])):
        attempt[rng.choice(["pool", "error", "failure", "k" * 50, 3])] = rng.choice(
            [_text(rng, 300), {"nested": 1}, [1, 2], 0.5, None, _Text("e"), _Text("e" * 301), _Text("\x00")]
        )
    return attempt


def _event(rng: random.Random) -> UsageEvent:
    fields: dict[str, Any] = {name: _text(rng, limit) for name, limit in TEXT_LIMITS.items()}
    fields["requested_model"] = fields["requested_model"] or "m"
    fields["outcome"] = fields["outcome"] or "ok"
    fields.update({name: _count(rng) for name in COUNT_FIELDS})
    return UsageEvent(
        created_at=datetime(2025, 6, 2, tzinfo=UTC),
        ttft_ms=rng.choice([None, _count(rng)]),
        status=rng.choice(_STATUSES),
        cost_usd=rng.choice(_COSTS),
        attempts=[_attempt(rng) for _ in range(rng.choice([0, 1, 2, MAX_ATTEMPTS, MAX_ATTEMPTS + 1]))],
        **fields,
    )


def _typed(event: UsageEvent) -> list[tuple[str, type, Any]]:
    return [(name, type(getattr(event, name)), getattr(event, name)) for name in EVENT_FIELDS]


@pytest.mark.parametrize("seed", range(4))
def test_any_values_are_bounded_as_bounding_every_value_in_full_bounds_them(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        event = _event(rng)
        reference = _bound_in_full(copy.deepcopy(event))
        assert _typed(event.bounded()) == _typed(reference)


def test_a_record_already_inside_its_columns_is_left_as_it_is() -> None:
    attempts = [{"target": "openai/gpt-4.1", "status": 429, "error_type": "rate_limit_error", "latency_ms": 12,
                 "error": "upstream said:\n\tslow down", "pool": "eu"}]  # fmt: skip
    event = UsageEvent(datetime(2025, 6, 2, tzinfo=UTC), "req_1", 1, 2, "sk-rt-0001", "ann@example.com",
                       "claude-sonnet-4", "openai/gpt-4.1", "openai", "gpt-4.1", attempts, True, 1200, 300,
                       0, 0, False, 0.0042, 900, 150, 200, None, "ok")  # fmt: skip
    before = _typed(copy.deepcopy(event))
    assert _typed(event.bounded()) == before
    assert event.attempts is attempts  # not rebuilt


@pytest.mark.parametrize("name", list(TEXT_LIMITS))
def test_every_text_is_checked_for_width_and_unstorable_characters(name: str) -> None:
    too_long: dict[str, Any] = {"request_id": "r", name: "x" * (TEXT_LIMITS[name] + 1)}
    long = UsageEvent(datetime(2025, 6, 2, tzinfo=UTC), **too_long)
    assert len(getattr(long.bounded(), name)) == TEXT_LIMITS[name]
    with_nul: dict[str, Any] = {"request_id": "r", name: "a\x00b"}
    dirty = UsageEvent(datetime(2025, 6, 2, tzinfo=UTC), **with_nul)
    assert getattr(dirty.bounded(), name) == "a\ufffdb"
