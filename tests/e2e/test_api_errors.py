"""Bad input and refused requests get Anthropic's error body, the right status and a request-id."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import pytest

from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async

OPENAI_ONLY = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "claude-*", target: oai/gpt-4.1}
"""


@pytest.fixture
def router(live_router: LiveRouter) -> LiveRouter:
    live_router.apply(OPENAI_ONLY)
    return live_router


def _post(
    router: LiveRouter, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> httpx.Response:
    with router.http() as http:
        if raw is not None:
            return http.post(
                "/v1/messages", content=raw, headers={"content-type": "application/json", **(headers or {})}
            )
        return http.post("/v1/messages", json=body, headers=headers or {})


def _error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert body["type"] == "error"
    assert response.headers["request-id"].startswith("req_")
    return response.status_code, body["error"]["type"], body["error"]["message"]


GOOD = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def test_missing_and_unknown_keys_are_401(router: LiveRouter) -> None:
    assert _error(_post(router, GOOD))[:2] == (401, "authentication_error")
    assert _error(_post(router, GOOD, {"x-api-key": "sk-rt-not-a-real-key"}))[:2] == (
        401,
        "authentication_error",
    )
    assert _error(_post(router, GOOD, {"authorization": "Bearer nope"}))[:2] == (401, "authentication_error")


def test_bearer_and_x_api_key_are_both_accepted(router: LiveRouter) -> None:
    key = router.key("acme", "bob")
    assert _post(router, GOOD, {"x-api-key": key}).status_code == 200
    assert _post(router, GOOD, {"authorization": f"Bearer {key}"}).status_code == 200


def test_revoked_key_stops_working_within_two_seconds(router: LiveRouter) -> None:
    from router.store.db import Database
    from router.store.keys import revoke_key

    key = router.key("acme", "carol")
    assert _post(router, GOOD, {"x-api-key": key}).status_code == 200

    async def revoke() -> None:
        db = Database(router.settings.database_url)
        try:
            async with db.transaction() as session:
                await revoke_key(session, key[:12], actor="test")
        finally:
            await db.dispose()

    run_async(revoke())
    deadline = time.monotonic() + 2.0
    status = 200
    while time.monotonic() < deadline:
        status = _post(router, GOOD, {"x-api-key": key}).status_code
        if status == 401:
            break
        time.sleep(0.1)
    assert status == 401


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
        ({"model": "claude-sonnet-4-5", "max_tokens": "ten", "messages": []}, "max_tokens"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, "model"),
        (
            {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": 5}]},
            "messages",
        ),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(
    router: LiveRouter, body: dict[str, Any], needle: str
) -> None:
    key = router.key("acme", "dave")
    status, kind, message = _error(_post(router, body, {"x-api-key": key}))
    assert (status, kind) == (400, "invalid_request_error")
    assert needle in message


def test_malformed_json_is_400(router: LiveRouter) -> None:
    key = router.key("acme", "erin")
    status, kind, _ = _error(_post(router, None, {"x-api-key": key}, raw=b'{"model": "x", '))
    assert (status, kind) == (400, "invalid_request_error")


def test_unknown_top_level_fields_are_ignored(router: LiveRouter) -> None:
    key = router.key("acme", "erin")
    body = {**GOOD, "context_management": {"edits": []}, "some_future_field": {"x": 1}}
    assert _post(router, body, {"x-api-key": key}).status_code == 200


def test_model_without_route_is_404_naming_it(router: LiveRouter) -> None:
    key = router.key("acme", "frank")
    status, kind, message = _error(_post(router, {**GOOD, "model": "gpt-nothing"}, {"x-api-key": key}))
    assert (status, kind) == (404, "not_found_error")
    assert "gpt-nothing" in message


def test_model_not_allowed_for_key_is_400_invalid_request(router: LiveRouter) -> None:
    # Claude Code's gateway protocol: "Enforce your model allowlist here, returning 400 invalid_request_error".
    key = router.key("acme", "gina", allowed_models=["claude-haiku-*"])
    status, kind, _ = _error(_post(router, GOOD, {"x-api-key": key}))
    assert (status, kind) == (400, "invalid_request_error")
    assert _post(router, {**GOOD, "model": "claude-haiku-4-5"}, {"x-api-key": key}).status_code == 200


def test_oversized_body_is_413_before_reading_it(router: LiveRouter) -> None:
    key = router.key("acme", "hank")
    huge = b"x" * (router.settings.max_request_bytes + 1)
    status, kind, _ = _error(_post(router, None, {"x-api-key": key}, raw=huge))
    assert (status, kind) == (413, "request_too_large")


def test_sdk_sees_typed_errors(router: LiveRouter) -> None:
    client = router.client("sk-rt-wrong")
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(**GOOD)  # type: ignore[call-overload]


def test_health_endpoints_and_root_probe(router: LiveRouter) -> None:
    with router.http() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        # Ready once LiteLLM, which the configured OpenAI-wire targets need, has loaded in the background.
        deadline = time.monotonic() + 60
        while (ready := http.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert http.head("/").status_code == 200
