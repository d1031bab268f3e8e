"""The gateway contract's rules for a member signed in to the router with Claude Code's /login (a minted
bearer token instead of a proxy key): usage notices and model discovery (docs/gateway-contract.md)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fakes import Reply
from tests.fakes.oidc import CLIENT_ID, CLIENT_SECRET, TestIdp
from tests.fixtures.app import LiveRouter
from tests.identity.test_signin_protocol import sign_in

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "claude-*", target: oai/gpt-4.1}
tenants:
  - name: eng
    limits: {budget_usd: 10}
    managed_settings: {env: {CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: "1"}}
sso:
  members:
    - {group: engineering, tenant: eng}
"""
ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}
UNIFIED = "anthropic-ratelimit-unified-"


@pytest.fixture
def db_url(sqlite_template: Any, tmp_path: Any) -> str:
    from tests.fixtures.db import _sqlite_copy

    return _sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def router(start_router: Callable[..., LiveRouter], oidc_idp: TestIdp) -> LiveRouter:
    live = start_router(
        oidc_issuer=oidc_idp.issuer, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET
    )
    live.apply(CONFIG)
    return live


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_a_signed_in_member_sees_their_tenants_budget_in_headers_and_usage(
    router: LiveRouter, oidc_idp: TestIdp
) -> None:
    token = sign_in(router, oidc_idp, "alice").access_token
    # One $8 answer (gpt-4.1 output at $8 per million tokens), then nearly free ones.
    router.upstream.script(Reply(text="costly", output_tokens=1_000_000, input_tokens=10), model="gpt-4.1")
    router.upstream.set_default(Reply(text="cheap", output_tokens=1, input_tokens=1))
    with router.http() as http:
        first = http.post("/v1/messages", json=ASK, headers=_bearer(token))
        assert first.status_code == 200, first.text
        assert first.headers[f"{UNIFIED}status"] == "allowed"
        deadline = time.monotonic() + 10
        while True:
            response: httpx.Response = http.post("/v1/messages", json=ASK, headers=_bearer(token))
            if response.headers.get(f"{UNIFIED}overage-surpassed-threshold"):
                break
            assert time.monotonic() < deadline, dict(response.headers)
            time.sleep(0.1)
        usage = http.get("/api/oauth/usage", headers=_bearer(token))

    assert response.headers[f"{UNIFIED}status"] == "allowed_warning"
    assert response.headers[f"{UNIFIED}overage-utilization"] == "0.80"
    assert usage.status_code == 200
    body = usage.json()
    assert (body["extra_usage"]["monthly_limit"], body["extra_usage"]["used_credits"]) == (1000, 800)
    assert [row["percent"] for row in body["limits"]] == [80]


def test_managed_settings_turn_model_discovery_on_for_a_tenant(router: LiveRouter, oidc_idp: TestIdp) -> None:
    token = sign_in(router, oidc_idp, "alice").access_token
    with router.http() as http:
        settings = http.get("/managed/settings", headers=_bearer(token))
        models = http.get("/v1/models", headers=_bearer(token))

    assert settings.status_code == 200
    assert settings.json()["settings"]["env"]["CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY"] == "1"
    assert models.status_code == 200
    ids = [m["id"] for m in models.json()["data"]]
    assert "claude-sonnet-4-5" in ids and "claude-opus-4-5" in ids
    assert all(m["display_name"].startswith("Claude ") for m in models.json()["data"])
