"""Item 7's defects: malformed requests on the LiteLLM path are 400s, not 500s; a disabled tenant's key
lists no models (403); count_tokens has a per-key rate limit of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from router.store.db import Database
from router.store.tenants import set_tenant_enabled
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async
from tests.fixtures.minutes import clear_of_a_minute_boundary
from tests.hardening.support import assert_error_body
from tests.hardening.test_hostile_input import EVERY_PATH

# claude-opus-* goes to Gemini through litellm.acompletion; the others are checked alongside.
MODELS = ["claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-3-7-sonnet-latest"]

ORPHAN_TOOL_RESULT: list[dict[str, Any]] = [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "hello"},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_missing", "content": "42"}]},
]
BAD_IMAGE_URLS = ["https://", "http://exa mple.com/a b.png", "https://[::1", "http:///nohost.png"]


@pytest.fixture(scope="module")
def target(module_router: LiveRouter) -> tuple[LiveRouter, str]:
    module_router.apply(EVERY_PATH)
    return module_router, module_router.key("acme", "item7")


def _post(router: LiveRouter, key: str, body: dict[str, Any], path: str = "/v1/messages") -> httpx.Response:
    with router.http() as http:
        return http.post(path, json=body, headers={"x-api-key": key})


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", MODELS)
def test_a_tool_result_without_its_tool_call_is_a_400(
    target: tuple[LiveRouter, str], model: str, stream: bool
) -> None:
    router, key = target
    body = {"model": model, "max_tokens": 20, "stream": stream, "messages": ORPHAN_TOOL_RESULT}
    response = _post(router, key, body)
    assert response.status_code == 400, response.text
    assert assert_error_body(response, 400)["type"] == "invalid_request_error"
    assert "toolu_missing" in response.json()["error"]["message"]


@pytest.mark.parametrize("url", BAD_IMAGE_URLS)
@pytest.mark.parametrize("model", MODELS)
def test_an_image_url_that_is_not_a_url_is_a_400(
    target: tuple[LiveRouter, str], model: str, url: str
) -> None:
    router, key = target
    image = {"type": "image", "source": {"type": "url", "url": url}}
    body = {"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": [image]}]}
    response = _post(router, key, body)
    assert response.status_code == 400, response.text
    assert assert_error_body(response, 400)["type"] == "invalid_request_error"


def test_a_disabled_tenants_key_gets_no_model_list(start_router: Callable[..., LiveRouter]) -> None:
    router = start_router()
    router.apply(EVERY_PATH)
    key = router.key("paused", "carol")
    with router.http() as http:
        assert http.get("/v1/models", headers={"x-api-key": key}).status_code == 200
        run_async(_disable(router, "paused"))
        router.wait_for_config()
        response = http.get("/v1/models", headers={"x-api-key": key})
        assert assert_error_body(response, 403)["type"] == "permission_error"
        assert "disabled" in response.json()["error"]["message"]
        count = http.post(
            "/v1/messages/count_tokens",
            json={"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": key},
        )
        assert count.status_code == 403


async def _disable(router: LiveRouter, tenant: str) -> None:
    db = Database(router.settings.database_url)
    try:
        async with db.transaction() as session:
            await set_tenant_enabled(session, tenant, False, actor="test")
    finally:
        await db.dispose()


def test_count_tokens_has_its_own_per_key_rate_limit(start_router: Callable[..., LiveRouter]) -> None:
    router = start_router(count_tokens_rpm=5)
    router.apply(EVERY_PATH)
    key, other = router.key("acme", "dave"), router.key("acme", "erin")
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "count me"}]}

    async def burst(api_key: str, n: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=router.base_url, timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.post("/v1/messages/count_tokens", json=body, headers={"x-api-key": api_key})
                    for _ in range(n)
                )
            )

    clear_of_a_minute_boundary()
    answers = asyncio.run(burst(key, 12))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 5 + [429] * 7
    refused = next(r for r in answers if r.status_code == 429)
    assert assert_error_body(refused, 429)["type"] == "rate_limit_error"
    assert int(refused.headers["retry-after"]) >= 1
    assert "count_tokens" in refused.json()["error"]["message"]
    # Another key has its own allowance, and messages are not counted against count_tokens.
    assert [r.status_code for r in asyncio.run(burst(other, 5))] == [200] * 5
    reply = router.client(key).messages.create(max_tokens=10, **body)  # type: ignore[call-overload]
    assert reply.content
