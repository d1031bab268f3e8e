"""An upstream cannot exhaust the router's memory: a non-streamed body past ROUTER_UPSTREAM_MAX_BODY_BYTES and
an SSE line past ROUTER_UPSTREAM_MAX_LINE_BYTES end the call with a clear Anthropic error, read no further,
and the usage record says the request failed; the service keeps answering."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from router.cli.usage import render_detail, request_detail
from router.store.db import Database
from router.store.usage_models import UsageRecord
from router.store.usage_records import UsageFilters, export_usage_csv
from tests.fakes.upstream_script import Reply
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async

BODY_CAP = 256 * 1024
LINE_CAP = 64 * 1024
HUGE = 8 * 1024 * 1024  # what the hostile upstream offers (it would go on; the router must stop reading)


class HostileUpstream:
    """A raw HTTP server on its own thread: every answer is far larger than the caps allow."""

    def __init__(self) -> None:
        self.port = 0
        self.sent: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            stream = b'"stream":true' in body.replace(b" ", b"")
            kind = "line" if stream else ("declared" if b"declared" in body else "chunked")
            self.sent[kind] = 0
            if kind == "declared":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
                writer.write(f"content-length: {HUGE}\r\n\r\n".encode())
                writer.write(b'{"x": "' + b"a" * 1024)
            else:
                ctype = b"text/event-stream" if stream else b"application/json"
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: " + ctype + b"\r\ntransfer-encoding: chunked\r\n\r\n"
                )
                first = b'data: {"id": "' if stream else b'{"id": "'
                writer.write(b"%x\r\n%s\r\n" % (len(first), first))
            piece = b"a" * 65536
            while self.sent[kind] < HUGE:
                if kind == "declared":
                    writer.write(piece)
                else:
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.sent[kind] += len(piece)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
def hostile() -> Iterator[HostileUpstream]:
    upstream = HostileUpstream()
    upstream.start()
    yield upstream
    upstream.stop()


def _records(database_url: str) -> list[UsageRecord]:
    async def read() -> list[UsageRecord]:
        db = Database(database_url)
        try:
            async with db.session() as session:
                return list((await session.scalars(select(UsageRecord).order_by(UsageRecord.id))).all())
        finally:
            await db.dispose()

    return run_async(read())


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_answers_past_the_caps_fail_clearly_and_are_not_read_to_the_end(
    start_router: Callable[..., LiveRouter], hostile: HostileUpstream
) -> None:
    router = start_router(
        upstream_max_body_bytes=BODY_CAP, upstream_max_line_bytes=LINE_CAP, upstream_first_byte_timeout=30.0
    )
    router.apply(
        "providers:\n"
        f'  - {{name: bad, kind: openai, api_base: "http://127.0.0.1:{hostile.port}/v1", api_key: "sk-x"}}\n'
        'rules:\n  - {match: "*", target: bad/gpt-4.1}\n'
    )
    key = router.key("acme", "alice")
    cases = {
        "declared": {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "declared"}]},
        "chunked": {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "chunked"}]},
    }
    with router.http() as http:
        for name, body in cases.items():
            response = http.post("/v1/messages", json=body, headers={"x-api-key": key})
            assert response.status_code >= 500, (name, response.text)
            error = response.json()["error"]
            assert "larger than the router accepts" in error["message"], error
            # It stopped reading soon after the cap, not at the upstream's 8 MB.
            assert hostile.sent[name] < HUGE
        streamed = {**cases["chunked"], "stream": True}
        with http.stream("POST", "/v1/messages", json=streamed, headers={"x-api-key": key}) as response:
            text = response.read().decode()
        assert "larger than the router accepts" in text  # an error status or an `error` event
        assert hostile.sent["line"] < HUGE
        assert http.get("/healthz").status_code == 200
    deadline = time.monotonic() + 10
    while len(rows := _records(router.settings.database_url)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [r.outcome for r in rows] == ["error", "error", "error"]
    assert all(r.status >= 500 for r in rows)
    assert [r.attempts[-1]["failure"] for r in rows] == ["upstream_too_large"] * 3
    assert httpx.get(f"{router.base_url}/healthz").status_code == 200


GEMINI = """
providers:
  - {name: gem, kind: gemini, api_base: "${UPSTREAM}", api_key: "${GEMINI_API_KEY}"}
rules:
  - {match: "*", target: gem/gemini-2.5-pro}
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_oversized_gemini_answer_through_litellm_fails_clearly_and_the_record_says_why(
    start_router: Callable[..., LiveRouter],
) -> None:
    """The LiteLLM path (Gemini through `acompletion`) has the same caps: a non-streamed answer past the body
    cap and a stream whose one event line passes the line cap end in a clear Anthropic error, and each usage
    record's attempt says `upstream_too_large`; an answer within the caps still arrives."""
    router = start_router(upstream_max_body_bytes=BODY_CAP, upstream_max_line_bytes=LINE_CAP)
    router.apply(GEMINI)
    key = router.key("acme", "alice")
    huge = "b" * (
        2 * BODY_CAP
    )  # one text part: the body past the body cap, its one SSE line past the line cap
    # A chain's retries and a cooled target must not hide the first failure: one reply per request.
    router.upstream.script(Reply(text=huge), model="gemini-2.5-pro")
    body = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    with router.http() as http:
        response = http.post("/v1/messages", json=body, headers={"x-api-key": key})
        assert response.status_code >= 500, response.text
        error = response.json()
        assert error["type"] == "error" and error["error"]["type"] == "api_error"
        assert "larger than the router accepts" in error["error"]["message"]
        assert f"{BODY_CAP:,} bytes" in error["error"]["message"]

        router.upstream.script(Reply(text=huge, chunk_size=len(huge)), model="gemini-2.5-pro")
        with http.stream(
            "POST", "/v1/messages", json={**body, "stream": True}, headers={"x-api-key": key}
        ) as r:
            text = r.read().decode()
        assert "larger than the router accepts" in text and f"{LINE_CAP:,} bytes" in text

        router.upstream.script(Reply(text="small enough"), model="gemini-2.5-pro")
        fine = http.post("/v1/messages", json=body, headers={"x-api-key": key})
        assert fine.status_code == 200 and fine.json()["content"][0]["text"] == "small enough"
    deadline = time.monotonic() + 10
    while len(rows := _records(router.settings.database_url)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [r.outcome for r in rows] == ["error", "error", "ok"]
    for row in rows[:2]:
        assert row.attempts[-1]["failure"] == "upstream_too_large", row.attempts
        assert "larger than the router accepts" in row.attempts[-1]["error"]
    # The request detail (page and `router usage show`) names the reason too.
    detail = request_detail(rows[0], "acme")
    assert detail["attempts"][-1]["failure"] == "upstream_too_large"
    assert "upstream_too_large" in render_detail(detail)
    # ...and so does the usage CSV export (its attempts column).
    exported = _export_csv(router.settings.database_url)
    assert exported.count("upstream_too_large") == 2, exported


def _export_csv(database_url: str) -> str:
    async def read() -> str:
        db = Database(database_url)
        try:
            async with db.session() as session:
                since = datetime.now(UTC) - timedelta(hours=1)
                return "".join([line async for line in export_usage_csv(session, UsageFilters(since=since))])
        finally:
            await db.dispose()

    return run_async(read())
