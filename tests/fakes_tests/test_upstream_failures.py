"""Scripted misbehaviour (Fail, Delay, BreakStream, NotJson, ErrorIn200, disconnects) in every format."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest

from tests.fakes import BreakStream, Delay, ErrorIn200, Fail, FakeUpstream, NotJson, Reply

KINDS = ["openai", "azure", "anthropic", "gemini"]


def _call(kind: str, stream: bool, model: str = "m") -> tuple[str, dict[str, str], dict[str, Any]]:
    """(path, headers, body) of a minimal valid request to ``kind``'s generate endpoint."""
    if kind == "openai":
        return "/v1/chat/completions", {"authorization": "Bearer k"}, {"model": model, "stream": stream}
    if kind == "azure":
        path = f"/openai/deployments/{model}/chat/completions?api-version=2024-10-21"
        return path, {"api-key": "k"}, {"messages": [], "stream": stream}
    if kind == "anthropic":
        return "/v1/messages", {"x-api-key": "k"}, {"model": model, "max_tokens": 5, "stream": stream}
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/{model}:{method}", {"x-goog-api-key": "k"}, {"contents": []}


def _frames(text: str) -> list[dict[str, Any]]:
    """SSE frames as {"event": name or None, "data": parsed JSON or the raw string}."""
    frames = []
    for block in re.split(r"\r?\n\r?\n", text):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in re.split(r"\r?\n", block))
        data = fields["data"]
        frames.append({"event": fields.get("event"), "data": data if data == "[DONE]" else json.loads(data)})
    return frames


async def _post(fake: FakeUpstream, kind: str, stream: bool, model: str = "m") -> httpx.Response:
    path, headers, body = _call(kind, stream, model)
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(fake.base_url + path, headers=headers, json=body)


async def test_fail_passes_status_and_headers_and_raw_body_goes_out_verbatim(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(
        Fail(503, "down", headers={"retry-after": "3", "x-extra": "y"}), Fail(502, raw_body="oops")
    )
    shaped = await _post(fake_upstream, "openai", False)
    raw = await _post(fake_upstream, "openai", False)
    assert shaped.status_code == 503
    assert shaped.headers["retry-after"] == "3" and shaped.headers["x-extra"] == "y"
    assert shaped.json() == {
        "error": {"message": "down", "type": "server_error", "param": None, "code": None}
    }
    assert (raw.status_code, raw.text) == (502, "oops")


async def test_delay_holds_the_first_byte_but_records_the_request_on_arrival(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(Delay(0.5, Reply(text="late")))
    started = time.monotonic()
    pending = asyncio.create_task(_post(fake_upstream, "anthropic", False))
    assert await fake_upstream.wait_until_async(lambda: len(fake_upstream.requests) == 1, within=0.4)
    assert not pending.done()
    resp = await pending
    assert time.monotonic() - started >= 0.5
    assert resp.json()["content"] == [{"type": "text", "text": "late"}]


async def test_delay_can_end_in_a_failure(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Delay(0.1, Fail(429, "later")))
    resp = await _post(fake_upstream, "gemini", False)
    assert resp.status_code == 429 and resp.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize("kind", KINDS)
async def test_break_stream_reset_sends_the_given_chunks_then_resets_the_connection(
    fake_upstream: FakeUpstream, kind: str
) -> None:
    fake_upstream.script(BreakStream(after_chunks=3, mode="reset", reply=Reply(text="a" * 60)))
    path, headers, body = _call(kind, True)
    received = b""
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ReadError):
            async with http.stream("POST", fake_upstream.base_url + path, headers=headers, json=body) as resp:
                async for piece in resp.aiter_raw():
                    received += piece
    assert len(_frames(received.decode())) == 3
    assert fake_upstream.cancelled_streams == 0  # the server broke it, not the client


@pytest.mark.parametrize("kind", KINDS)
async def test_break_stream_eof_ends_the_response_cleanly_without_the_stream_end(
    fake_upstream: FakeUpstream, kind: str
) -> None:
    fake_upstream.script(BreakStream(after_chunks=4, mode="eof", reply=Reply(text="b" * 60)))
    resp = await _post(fake_upstream, kind, True)
    frames = _frames(resp.text)
    assert resp.status_code == 200 and len(frames) == 4
    assert all(f["data"] != "[DONE]" and f["event"] != "message_stop" for f in frames)
    assert "finishReason" not in resp.text and '"finish_reason":"stop"' not in resp.text


@pytest.mark.parametrize(("mode", "error"), [("reset", httpx.ReadError), ("eof", httpx.RemoteProtocolError)])
async def test_break_stream_on_a_non_stream_request_cuts_the_json_body(
    fake_upstream: FakeUpstream, mode: str, error: type[Exception]
) -> None:
    fake_upstream.script(BreakStream(after_chunks=1, mode="reset" if mode == "reset" else "eof"))
    with pytest.raises(error):
        await _post(fake_upstream, "openai", False)


@pytest.mark.parametrize("kind", KINDS)
async def test_not_json_answers_html_with_the_scripted_status(fake_upstream: FakeUpstream, kind: str) -> None:
    fake_upstream.script(NotJson(), NotJson(status=502))
    ok, bad = await _post(fake_upstream, kind, False), await _post(fake_upstream, kind, True)
    assert (ok.status_code, bad.status_code) == (200, 502)
    assert ok.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        json.loads(ok.text)


@pytest.mark.parametrize("kind", KINDS)
async def test_error_in_200_is_an_error_body_or_an_error_event(
    fake_upstream: FakeUpstream, kind: str
) -> None:
    fake_upstream.script(ErrorIn200("broken inside"), ErrorIn200("broken mid-stream"))
    plain, streamed = await _post(fake_upstream, kind, False), await _post(fake_upstream, kind, True)
    assert plain.status_code == streamed.status_code == 200
    assert plain.json()["error"]["message"] == "broken inside"
    assert streamed.headers["content-type"].startswith("text/event-stream")
    [frame] = _frames(streamed.text)
    assert frame["data"]["error"]["message"] == "broken mid-stream"
    assert frame["event"] == ("error" if kind == "anthropic" else None)


async def test_a_client_leaving_mid_stream_is_counted_as_a_cancelled_stream(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(Reply(text="x" * 200, chunk_size=5, chunk_delay=0.02))
    path, headers, body = _call("openai", True)
    async with (
        httpx.AsyncClient() as http,
        http.stream("POST", fake_upstream.base_url + path, headers=headers, json=body) as resp,
    ):
        async for _ in resp.aiter_raw():
            break
    assert await fake_upstream.wait_until_async(lambda: fake_upstream.cancelled_streams == 1, within=3)


def test_scripts_are_fifo_per_model_then_any_model_then_default(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(text="a1"), Reply(text="a2"), model="a")
    fake_upstream.script(Reply(text="any"))
    path, headers, _ = _call("openai", False)

    def ask(model: str) -> str:
        # A sync client on purpose: the fake serves from its own thread, whatever the test is.
        resp = httpx.post(fake_upstream.base_url + path, headers=headers, json={"model": model})
        return str(resp.json()["choices"][0]["message"]["content"])

    assert [ask("b"), ask("a"), ask("a"), ask("a")] == ["any", "a1", "a2", "Hello from openai:a."]
    fake_upstream.set_default(Reply(text="new default"))
    assert ask("c") == "new default"
    assert [r.model for r in fake_upstream.requests_for("openai")] == ["b", "a", "a", "a", "c"]
    assert len(fake_upstream.requests_for(model="a")) == 3

    fake_upstream.script(Reply(text="left over"))
    fake_upstream.reset()
    assert fake_upstream.requests == [] and fake_upstream.pending_steps() == 0
    assert ask("d") == "Hello from openai:d."


@pytest.mark.parametrize("kind", ["openai", "gemini", "anthropic"])
async def test_stream_usage_false_leaves_usage_out_of_the_stream(
    fake_upstream: FakeUpstream, kind: str
) -> None:
    fake_upstream.script(Reply(text="quiet", stream_usage=False), Reply(text="loud"))
    path, headers, body = _call(kind, True)
    body["stream_options"] = {"include_usage": True}
    async with httpx.AsyncClient() as http:
        quiet = await http.post(fake_upstream.base_url + path, headers=headers, json=body)
        loud = await http.post(fake_upstream.base_url + path, headers=headers, json=body)
    assert re.search(r'"usage(Metadata)?"', loud.text)
    assert not re.search(r'"usage(Metadata)?"', quiet.text)


async def test_an_unserved_path_is_404_and_recorded_as_unknown(fake_upstream: FakeUpstream) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.post(fake_upstream.base_url + "/v1/embeddings", json={"model": "e"})
    assert resp.status_code == 404
    [recorded] = fake_upstream.requests
    assert (recorded.kind, recorded.path, recorded.model) == ("unknown", "/v1/embeddings", "e")


def test_two_servers_run_side_by_side_and_stop_promptly_despite_a_stalled_request() -> None:
    one, two = FakeUpstream(), FakeUpstream()
    assert one.start() != two.start()
    one.script(Delay(5, Reply()))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            one.base_url + "/v1/messages", headers={"x-api-key": "k"}, json={"model": "m"}, timeout=0.2
        )
    assert httpx.post(
        two.base_url + "/v1/messages", headers={"x-api-key": "k"}, json={"model": "m"}
    ).is_success
    started = time.monotonic()
    one.stop()
    two.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(RuntimeError):
        _ = one.base_url
