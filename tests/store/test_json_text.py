"""JSON columns are written as json.dumps writes them (store/json_text.py, the engines' json_serializer): the
same text for any value, and the same bytes stored on SQLite and PostgreSQL, so readers of usage records
(request detail, `router usage show`) see what they saw before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from router.store.db import Database
from router.store.json_text import dumps
from router.store.usage_writes import write_usage_batch
from tests.usage.helpers import event

VALUES: list[Any] = [
    [{"target": "openai/gpt-4.1", "status": 200, "error_type": None, "latency_ms": 800}],
    [
        {"target": "azure/gpt4o", "status": 429, "error_type": "rate_limit_error", "latency_ms": 12,
         "pool": "eu", "error": 'quota "exceeded": retry, later\n\ttab', "failure": "rate_limited"},
        {"target": "ollama/llama3:8b", "status": 200, "error_type": None, "latency_ms": 2**40},
    ],
    [],
    {},
    "plain",
    "caf\u00e9 \u2028 \U0001f600 \x7f \x01",
    0,
    -(2**70),
    1.5,
    1e300,
    -0.0,
    0.1 + 0.2,
    float("inf"),
    float("-inf"),
    True,
    None,
    {"nested": [1, [2, [3, {"k": None}]]], "z": 1, "a": 2},  # key order kept, not sorted
    {1: "int key", 2.5: "float key", None: "none key"},
    {True: "bool key", False: 0},
    ("a", "tuple"),
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_text_is_json_dumps_text_for_any_value(value: Any) -> None:
    assert dumps(value) == json.dumps(value)


def test_nan_is_written_as_json_dumps_writes_it() -> None:
    assert dumps([float("nan")]) == json.dumps([float("nan")]) == "[NaN]"


def test_a_value_json_dumps_refuses_is_refused() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps([{"when": datetime(2025, 1, 1, tzinfo=UTC)}])
    # Refusing one value leaves nothing behind: the next is written as before.
    assert dumps(VALUES[0]) == json.dumps(VALUES[0])


def test_a_value_that_contains_itself_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises((RecursionError, ValueError)):
        dumps(loop)


async def test_the_stored_attempts_are_json_dumps_bytes_on_both_backends(usage_db: Database) -> None:
    attempts = VALUES[1]
    async with usage_db.transaction() as session:
        await write_usage_batch(session, [event(request_id="r-json", attempts=attempts)])
    async with usage_db.session() as session:
        stored = await session.scalar(
            text("SELECT CAST(attempts AS TEXT) FROM usage_records WHERE request_id = 'r-json'")
        )
    assert stored == json.dumps(attempts)
