"""Readiness through a database outage: a replica that has reached its database stays ready for a grace
period while the database does not answer (requests are served from memory, usage waits in the spool), so a
database restart does not take every replica out of the load balancer at once; past the grace, or when it
never reached the database, or finds the schema behind, it is not ready."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from router.lifecycle import DatabaseOutageGrace
from tests.fixtures.app import LiveRouter
from tests.usage.conftest import TcpProxy

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
"""
ASK = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_replica_that_reached_its_database_stays_ready_through_an_outage_shorter_than_the_grace() -> None:
    clock = Clock()
    grace = DatabaseOutageGrace(30, clock)
    assert grace.ready(reachable=True, schema_current=True)
    clock.now += 29
    assert grace.ready(reachable=False, schema_current=False)
    clock.now += 2  # 31 s since the database last answered
    assert not grace.ready(reachable=False, schema_current=False)
    # Back: ready at once, and the grace counts again from now.
    assert grace.ready(reachable=True, schema_current=True)
    clock.now += 10
    assert grace.ready(reachable=False, schema_current=False)


def test_a_replica_that_never_reached_its_database_or_finds_the_schema_behind_is_not_ready() -> None:
    clock = Clock()
    grace = DatabaseOutageGrace(30, clock)
    assert not grace.ready(reachable=False, schema_current=False)
    # A schema behind is not an outage to ride out: the replica must not serve on it.
    assert not grace.ready(reachable=True, schema_current=False)
    assert grace.ready(reachable=True, schema_current=True)
    assert not grace.ready(reachable=True, schema_current=False)
    # And with no grace at all, the first missed check is enough.
    strict = DatabaseOutageGrace(0, clock)
    assert strict.ready(reachable=True, schema_current=True)
    clock.now += 0.5
    assert not strict.ready(reachable=False, schema_current=False)


class ThreadedProxy:
    """tests.usage's TcpProxy on an event loop of its own thread, for a test that is not async."""

    def __init__(self, host: str, port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = TcpProxy(host, port)
        self._call(self.proxy.start)

    def _call(self, step: Callable[[], Coroutine[Any, Any, None]]) -> None:
        asyncio.run_coroutine_threadsafe(step(), self.loop).result(timeout=10)

    def cut(self) -> None:
        """Every connection closed, the port refused (a database restarting)."""
        self._call(self.proxy.stop)

    def restore(self) -> None:
        self._call(self.proxy.start)

    def close(self) -> None:
        self._call(self.proxy.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
def pg_proxy_url(db_url: str) -> Iterator[tuple[str, ThreadedProxy]]:
    url = make_url(db_url)
    proxy = ThreadedProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        yield url.set(port=proxy.proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.close()


def _ready(http: httpx.Client) -> tuple[int, dict[str, Any]]:
    response = http.get("/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_database_outage_keeps_a_ready_replica_serving_until_the_grace_runs_out(
    start_router: Callable[..., LiveRouter], pg_proxy_url: tuple[str, ThreadedProxy]
) -> None:
    url, proxy = pg_proxy_url
    grace = 6.0
    router = start_router(database_url=url, readiness_database_grace_seconds=grace)
    router.apply(CONFIG)
    key = router.key("acme", "alice")
    with router.http() as http:
        deadline = time.monotonic() + 60
        while _ready(http)[0] != 200:  # LiteLLM, which OpenAI-wire targets need, loads in the background
            assert time.monotonic() < deadline, _ready(http)
            time.sleep(0.1)
        # The grace counts from the server's last check that reached the database, this one: it ran after
        # `reached_at` (one monotonic clock for the machine), so the server's "seconds since" is never more
        # than ours counted from here. Counted from the cut instead, a loaded machine's slow cut made the
        # grace look short (5.96 s for 6.0).
        reached_at = time.monotonic()
        assert _ready(http) == (
            200,
            {
                "ready": True,
                "database": True,
                "schema_current": True,
                "snapshot": True,
                "providers": True,
                "routes": True,
            },
        )
        proxy.cut()
        status, body = _ready(http)
        if time.monotonic() - reached_at <= grace:  # a machine slower than the grace proves nothing here
            assert (status, body["ready"], body["database"]) == (200, True, False), body
        # Requests need no database: served through the outage.
        answer = http.post("/v1/messages", json=ASK, headers={"x-api-key": key})
        assert answer.status_code == 200, answer.text
        # Past the grace: a replica cut off from its database for long leaves the rotation.
        deadline = time.monotonic() + 60
        while (checked := _ready(http))[0] != 503:
            assert not checked[1]["database"], "the database answered through the cut proxy"
            assert time.monotonic() < deadline, "still ready long after the grace"
            time.sleep(0.2)
        # Not ready before the grace ran out (an outage taken at once would be well under it).
        assert time.monotonic() - reached_at > grace
        proxy.restore()
        deadline = time.monotonic() + 60
        while _ready(http)[0] != 200:
            assert time.monotonic() < deadline, "not ready again after the database came back"
            time.sleep(0.2)
