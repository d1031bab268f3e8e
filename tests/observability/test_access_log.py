"""One access-log line per request: who asked for what, where it went, how it ended, how long it took, and
never the prompt unless ROUTER_LOG_REQUESTS is on."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from router.observability.logging import JsonFormatter, RedactingFilter, use_json
from tests.fakes import Reply
from tests.fixtures.app import LiveRouter

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
"""
SECRET_PROMPT = "the launch code is 0000"


def _access_lines(caplog: pytest.LogCaptureFixture, wait: float = 5.0) -> list[logging.LogRecord]:
    """The /v1 access lines. A line is written once its response is sent, so the client may read the body a
    moment before the server's thread logs it: wait for it, briefly."""
    deadline = time.monotonic() + wait
    while True:
        lines = [
            r
            for r in caplog.records
            if r.name == "router.access" and getattr(r, "path", "").startswith("/v1")
        ]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def _ask(router: LiveRouter, key: str, *, stream: bool) -> str:
    with router.http() as http:
        response = http.post(
            "/v1/messages",
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
            json={
                "model": "claude-sonnet-4-5",
                "max_tokens": 32,
                "stream": stream,
                "messages": [{"role": "user", "content": SECRET_PROMPT}],
            },
        )
    assert response.status_code == 200, response.text
    return response.headers["request-id"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_each_request_logs_one_json_line_with_its_route_tokens_and_no_prompt(
    live_router: LiveRouter, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    live_router.apply(CONFIG)
    key = live_router.key("acme", "alice")
    live_router.upstream.script(Reply(text="hello there", input_tokens=21, output_tokens=3))
    with caplog.at_level(logging.INFO, logger="router.access"):
        request_id = _ask(live_router, key, stream=stream)
        (record,) = _access_lines(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["logger"] == "router.access" and line["request_id"] == request_id
    assert line["method"] == "POST" and line["path"] == "/v1/messages" and line["status"] == 200
    assert (
        line["tenant"] == "acme" and key.startswith(line["key_prefix"]) and len(line["key_prefix"]) < len(key)
    )
    assert line["model"] == "claude-sonnet-4-5" and line["target"] == "oai/gpt-4.1"
    assert line["input_tokens"] == 21 and line["output_tokens"] == 3 and line["stream"] is stream
    assert isinstance(line["latency_ms"], int) and line["latency_ms"] >= 0
    assert "request_body" not in line and SECRET_PROMPT not in json.dumps(line)
    assert key not in json.dumps(line)


def test_prompts_are_logged_only_when_asked(
    start_router: Callable[..., LiveRouter], caplog: pytest.LogCaptureFixture
) -> None:
    router = start_router(log_requests=True)
    router.apply(CONFIG)
    key = router.key("acme", "alice")
    router.upstream.script(Reply(text="hi"))
    with caplog.at_level(logging.INFO, logger="router.access"):
        _ask(router, key, stream=False)
        (record,) = _access_lines(caplog)
    assert SECRET_PROMPT in record.__dict__["request_body"]


def test_a_refused_request_is_logged_with_its_status(
    live_router: LiveRouter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="router.access"), live_router.http() as http:
        response = http.post("/v1/messages", headers={"x-api-key": "sk-rt-wrong"}, json={})
        (record,) = _access_lines(caplog)
    assert response.status_code == 401
    assert (
        record.__dict__["status"] == 401 and record.__dict__["request_id"] == response.headers["request-id"]
    )


def test_probes_are_not_logged_at_info(live_router: LiveRouter, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="router.access"), live_router.http() as http:
        assert http.get("/healthz").status_code == 200
    assert not [r for r in caplog.records if r.name == "router.access"]


def test_a_terminal_gets_readable_lines_and_a_pipe_gets_json(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    assert use_json("auto") is False and use_json("json") is True
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert use_json("auto") is True and use_json("text") is False


def test_secrets_in_a_logged_body_are_masked() -> None:
    record = logging.LogRecord("router.access", logging.INFO, __file__, 1, "POST /v1/messages", None, None)
    extra: dict[str, Any] = {"request_body": '{"api_key": "sk-live-abcdefghijklmnop"}'}
    record.__dict__.update(extra)
    RedactingFilter().filter(record)
    assert "abcdefghijklmnop" not in json.dumps(json.loads(JsonFormatter().format(record)))
