"""SIGTERM drains: /readyz turns 503 at once, new connections are still served for the drain period, a
stream in flight finishes whole, then the process exits by itself after running its shutdown hooks."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from router.lifecycle import Drain
from tests.deploy.support import configure, free_port, serve, stop, wait_until_answers
from tests.fakes import Reply
from tests.fakes.upstream import FakeUpstream
from tests.fixtures.db import _sqlite_copy

DRAIN = 4.0


def test_sigterm_turns_unready_keeps_serving_for_the_drain_and_finishes_streams(
    sqlite_template: Path, tmp_path: Path, fake_upstream: FakeUpstream
) -> None:
    db_url = _sqlite_copy(sqlite_template, tmp_path)
    key = configure(db_url, fake_upstream.base_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = serve(db_url, port, tmp_path, ROUTER_SHUTDOWN_DRAIN_SECONDS=str(DRAIN))
    try:
        wait_until_answers(f"{base}/readyz", process)
        # A stream that lasts beyond the drain: 60 chunks 0.1 s apart.
        fake_upstream.script(Reply(text="x" * 60, chunk_size=1, chunk_delay=0.1), Reply(text="still here"))
        client = anthropic.Anthropic(api_key=key, base_url=base, max_retries=0)
        streamed: dict[str, object] = {}

        def consume() -> None:
            with client.messages.stream(
                model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                message = stream.get_final_message()
            streamed["text"] = "".join(b.text for b in message.content if b.type == "text")
            streamed["stop"] = message.stop_reason

        reader = threading.Thread(target=consume)
        reader.start()
        deadline = time.monotonic() + 10
        while not fake_upstream.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake_upstream.requests, "the stream never reached the upstream"

        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        ready = None
        while time.monotonic() - signalled < 1.0:
            ready = httpx.get(f"{base}/readyz", timeout=2)
            if ready.status_code == 503:
                break
            time.sleep(0.02)
        assert ready is not None and ready.status_code == 503 and ready.json()["draining"] is True

        # A new connection during the drain is still served.
        with httpx.Client(base_url=base, timeout=10) as fresh:
            answer = fresh.post(
                "/v1/messages",
                headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                json={
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - signalled < DRAIN

        reader.join(timeout=30)
        assert streamed == {"text": "x" * 60, "stop": "end_turn"}
        # uvicorn re-raises the SIGTERM it handled once it is done, as servers conventionally do.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert time.monotonic() - signalled >= DRAIN
        # After the drain the listener is closed: nothing answers any more.
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            refused = False
        except httpx.ConnectError:
            refused = True
        assert refused
    finally:
        output = stop(process)
    assert "Traceback" not in output, output
    assert "Application shutdown complete" in output, output


def test_the_sigterm_handler_only_queues_the_drain_on_the_event_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A signal handler runs inside whatever the main thread was doing, even inside a write to stderr: CI
    caught the old handler logging from within an access-log line's write ("reentrant call inside
    BufferedWriter"), which raised out of the handler before the drain was scheduled. So the handler itself
    must neither log nor change state; the loop does both, then hands the signal on after the drain."""
    handed_over: list[int] = []
    original = signal.signal(signal.SIGTERM, lambda sig, _frame: handed_over.append(sig))
    try:

        async def main() -> None:
            drain = Drain(0.05)
            assert drain.install()
            handler = signal.getsignal(signal.SIGTERM)
            assert callable(handler)
            with caplog.at_level(logging.WARNING, logger="router.lifecycle"):
                handler(signal.SIGTERM, None)  # as the interpreter would call it, mid-write
                assert caplog.records == [] and drain.draining is False
                await asyncio.sleep(0)
                assert drain.draining is True
                assert [r.getMessage()[:39] for r in caplog.records] == [
                    "SIGTERM: not ready from now on; serving"
                ]
                await asyncio.sleep(0.2)
            assert handed_over == [signal.SIGTERM]

        asyncio.run(main())
    finally:
        signal.signal(signal.SIGTERM, original)
