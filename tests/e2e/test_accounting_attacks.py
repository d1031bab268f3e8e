"""Attacks on accounting through the running service: hostile model names, refusals and absurd upstream token
counts must neither halt the usage writer nor lose the records behind them (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import pytest
from sqlalchemy import select

from router.store.db import Database
from router.store.usage_models import UsageRecord
from tests.fakes import Reply
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
"""


def _records(router: LiveRouter) -> list[UsageRecord]:
    async def read() -> list[UsageRecord]:
        db = Database(router.settings.database_url)
        try:
            async with db.session() as session:
                return list((await session.scalars(select(UsageRecord).order_by(UsageRecord.id))).all())
        finally:
            await db.dispose()

    return run_async(read())


def _wait(router: LiveRouter, count: int) -> list[UsageRecord]:
    deadline = time.monotonic() + 15
    while len(rows := _records(router)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return rows


def _post(http: httpx.Client, key: str, model: str) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    return http.post("/v1/messages", json=body, headers={"x-api-key": key})


@pytest.mark.postgres
def test_hostile_values_leave_every_record_written_and_the_writer_running(
    start_router: Callable[..., LiveRouter],
) -> None:
    router = start_router(metrics_token="metrics-token")
    router.apply(CONFIG)
    open_key = router.key("acme", "alice")
    narrow_key = router.key("acme", "bob", allowed_models=["claude-haiku-*"])
    client = router.client(open_key)
    with router.http() as http:
        # Refused at the wire edge (400) and by the key's model list: all still recorded.
        assert _post(http, open_key, "claude-" + "a" * 100_000).status_code == 400
        assert _post(http, open_key, "claude\u0000sonnet").status_code == 400
        refused = _post(http, narrow_key, "claude-opus-" + "z" * 240)
        assert refused.status_code in (400, 403), refused.text
        # An upstream that reports token counts past 2^31 and past 2^63.
        router.upstream.script(Reply(text="a", input_tokens=2**31 + 7, output_tokens=2**40), model="gpt-4.1")
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "x"}]
        )
        router.upstream.script(Reply(text="b", input_tokens=2**70, output_tokens=3), model="gpt-4.1")
        with client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            stream.get_final_message()
        # Ordinary traffic behind all of it.
        for _ in range(5):
            client.messages.create(
                model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "ok"}]
            )

        rows = _wait(router, 10)
        assert len(rows) == 10
        outcomes = [(r.status, r.outcome) for r in rows]
        assert outcomes[:3] == [(400, "rejected"), (400, "rejected"), (refused.status_code, "rejected")]
        assert len(rows[2].requested_model) <= 300
        assert rows[3].input_tokens == 2**31 + 7 and rows[3].output_tokens == 2**40
        assert rows[4].input_tokens == 2**63 - 1
        assert all(r.outcome == "ok" for r in rows[3:])

        metrics = http.get("/metrics", headers={"authorization": "Bearer metrics-token"}).text
        for line in (
            "router_usage_written_total 10.0",
            "router_usage_dead_lettered_total 0.0",
            "router_usage_dropped_total 0.0",
            "router_usage_queue_pending 0.0",
        ):
            assert line in metrics
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="m" * 300, max_tokens=5, messages=[{"role": "user", "content": "x"}])
