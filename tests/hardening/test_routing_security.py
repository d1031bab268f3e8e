"""A client can choose where its request goes only through the rules: no body field, header or model name
moves a call to another host, swaps the credential or short-circuits it; and a provider's base URL can carry
neither credentials nor a non-web scheme, whichever way it is saved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from router.cli import main as cli_main
from router.config.drafts import ConfigInvalid
from router.store import catalog
from router.store.config_file import apply_config_text
from router.store.crypto import CredentialCipher
from router.store.db import Database
from tests.fakes import RecordedRequest
from tests.fakes.upstream import FakeUpstream
from tests.fixtures.app import SECRET, LiveRouter
from tests.fixtures.db import run_async
from tests.hardening.support import parse_sse
from tests.hardening.test_hostile_input import EVERY_PATH, MODELS

CREDENTIALS = {
    "openai": "sk-openai-provider-credential",
    "gemini": "gemini-provider-credential",
    "anthropic": "sk-ant-provider-credential",
    "azure": "azure-provider-credential",
}
# What each model of MODELS must reach: (kind, path, the model the upstream sees).
EXPECTED = {
    "claude-sonnet-4-5": ("openai", "/v1/chat/completions", "gpt-4.1"),
    "claude-opus-4-5": ("gemini", None, "gemini-2.5-pro"),
    "claude-haiku-4-5": ("anthropic", "/v1/messages", "claude-haiku-4-5"),
    "claude-3-7-sonnet-latest": ("azure", "/openai/deployments/gpt-4o-prod/chat/completions", "gpt-4o-prod"),
}
INJECTED_KEY = "sk-client-INJECTED-key-000000000"
MOCK = "pwned-by-mock-response"


@pytest.fixture
def evil() -> Iterator[FakeUpstream]:
    """Where an attacker would like the call to go."""
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def router(live: LiveRouter) -> LiveRouter:
    live.apply(EVERY_PATH)
    return live


def _injections(evil_url: str) -> dict[str, Any]:
    return {
        "api_base": evil_url,
        "base_url": evil_url,
        "api_key": INJECTED_KEY,
        "mock_response": MOCK,
        "custom_llm_provider": "openai",
        "litellm_params": {"api_base": evil_url, "api_key": INJECTED_KEY, "mock_response": MOCK},
        "extra_body": {"api_base": evil_url, "api_key": INJECTED_KEY},
        "extra_headers": {"Authorization": f"Bearer {INJECTED_KEY}", "api-key": INJECTED_KEY},
        "extra_query": {"key": INJECTED_KEY},
        "api_version": "1999-01-01",
        "azure_ad_token": INJECTED_KEY,
        "vertex_credentials": INJECTED_KEY,
        "aws_secret_access_key": INJECTED_KEY,
        "timeout": 0.001,
        "num_retries": 50,
        "fallbacks": ["openai/gpt-4"],
        "metadata": {"user_id": "u-1", "api_base": evil_url, "api_key": INJECTED_KEY},
    }


def _seen_text(request: RecordedRequest, *, with_body: bool = True) -> str:
    text = json.dumps(request.headers) + json.dumps(request.query) + request.path
    return text + request.body.decode("utf-8", "replace") if with_body else text


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", MODELS)
def test_body_fields_and_headers_cannot_redirect_or_rekey_a_call(
    router: LiveRouter, evil: FakeUpstream, model: str, stream: bool
) -> None:
    key = router.key("acme", "mallory")
    body = {
        "model": model,
        "max_tokens": 32,
        "stream": stream,
        "messages": [{"role": "user", "content": "hello"}],
        **_injections(evil.base_url),
    }
    headers = {
        "x-api-key": key,
        "api-key": INJECTED_KEY,
        "x-goog-api-key": INJECTED_KEY,
        "openai-organization": "org-injected",
        "x-forwarded-host": f"127.0.0.1:{evil.port}",
        "anthropic-version": "2023-06-01",
    }
    with httpx.Client(base_url=router.base_url, timeout=30) as http:
        response = http.post("/v1/messages", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = parse_sse(response.content).text() if stream else response.json()["content"][0]["text"]
    assert answer.startswith("Hello from")  # the fake's own answer: the call really went out, unmocked
    assert MOCK not in response.text

    assert evil.requests == []
    [seen] = router.upstream.requests
    kind, path, upstream_model = EXPECTED[model]
    assert (seen.kind, seen.model) == (kind, upstream_model)
    if path is not None:
        assert seen.path == path
    else:
        assert seen.path.endswith(
            f"models/{upstream_model}:{'streamGenerateContent' if stream else 'generateContent'}"
        )
    # Anthropic targets get the client's body natively (new API fields must pass): there the injected
    # fields are inert data in the body; what decides the call (URL, headers) must still be ours alone.
    text = _seen_text(seen, with_body=kind != "anthropic")
    assert CREDENTIALS[kind] in text
    for marker in (INJECTED_KEY, MOCK, str(evil.port), key, "org-injected", "1999-01-01"):
        assert marker not in text, (marker, text[:2000])


@pytest.mark.parametrize(
    "requested",
    ["openai/gpt-4", "gemini/gemini-2.5-pro", "deployment/gpt4o-eu", "ant/claude-haiku-4-5", "chain/x"],
)
def test_a_provider_style_model_name_is_only_a_name_for_the_rules(router: LiveRouter, requested: str) -> None:
    key = router.key("acme", "mallory")
    with router.http() as http:
        response = http.post(
            "/v1/messages",
            json={"model": requested, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": key},
        )
    assert response.status_code == 200, response.text
    assert response.json()["model"] == requested
    # The catch-all rule decides: OpenAI, its configured model.
    [seen] = router.upstream.requests
    assert (seen.kind, seen.path, seen.model) == ("openai", "/v1/chat/completions", "gpt-4.1")


def test_a_provider_style_model_name_without_a_matching_rule_is_404(live: LiveRouter) -> None:
    live.apply(
        """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "claude-*", target: oai/gpt-4.1}
"""
    )
    key = live.key("acme", "mallory")
    with live.http() as http:
        response = http.post(
            "/v1/messages",
            json={"model": "oai/gpt-4.1", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": key},
        )
    assert response.status_code == 404
    assert live.upstream.requests == []


@pytest.mark.parametrize("model", MODELS)
def test_image_urls_naming_internal_hosts_are_never_fetched_by_the_router(
    router: LiveRouter, evil: FakeUpstream, model: str
) -> None:
    key = router.key("acme", "mallory")
    image = {"type": "image", "source": {"type": "url", "url": f"{evil.base_url}/metadata/secret.png"}}
    body = {
        "model": model,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": [image, {"type": "text", "text": "describe"}]}],
    }
    with router.http() as http:
        response = http.post("/v1/messages", json=body, headers={"x-api-key": key})
    assert response.status_code < 500, response.text
    assert evil.requests == []  # passed on as a URL, or refused: never fetched from inside


# ---- provider base URLs --------------------------------------------------------------------------------

BAD_BASES = [
    "http://user:hunter2pw@127.0.0.1:9/v1",
    "https://:hunter2pw@api.example.com",
    "https://api.example.com/v1?api_key=sk-in-the-url",
    "https://api.example.com/v1?key=AIzaSecret",
    "https://api.example.com/v1?access_token=t",
    "file:///etc/passwd",
    "unix:///var/run/docker.sock",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "javascript:alert(1)",
    "ftp://files.example.com",
    "http:///no-host",
]
SECRETS_IN_BASES = ("hunter2pw", "sk-in-the-url", "AIzaSecret")


def _db(sqlite_url: str) -> Database:
    return Database(sqlite_url)


def _create(sqlite_url: str, api_base: str) -> None:
    async def go() -> None:
        db = _db(sqlite_url)
        try:
            async with db.transaction() as session:
                await catalog.create_provider(
                    session,
                    cipher=CredentialCipher(SECRET),
                    name="p",
                    kind="openai",
                    api_base=api_base,
                    api_key="k",
                )
        finally:
            await db.dispose()

    run_async(go())


def _create_good(sqlite_url: str) -> None:
    async def go() -> None:
        db = _db(sqlite_url)
        try:
            async with db.transaction() as session:
                await catalog.create_provider(
                    session,
                    cipher=CredentialCipher(SECRET),
                    name="good",
                    kind="openai",
                    api_base="https://api.example.com/v1",
                )
        finally:
            await db.dispose()

    run_async(go())


def _update(sqlite_url: str, api_base: str) -> None:
    async def go() -> None:
        db = _db(sqlite_url)
        try:
            async with db.transaction() as session:
                row = await catalog.find_provider(session, "good")
                assert row is not None
                await catalog.update_provider(
                    session, row.id, cipher=CredentialCipher(SECRET), api_base=api_base
                )
        finally:
            await db.dispose()

    run_async(go())


def _providers(sqlite_url: str) -> dict[str, str | None]:
    async def go() -> dict[str, str | None]:
        db = _db(sqlite_url)
        try:
            async with db.session() as session:
                return {p.name: p.api_base for p in await catalog.list_providers(session)}
        finally:
            await db.dispose()

    return run_async(go())


def _apply(sqlite_url: str, api_base: str) -> None:
    text = (
        "providers:\n  - "
        + json.dumps({"name": "p", "kind": "openai", "api_base": api_base, "api_key": "k"})
        + "\n"
    )

    async def go() -> None:
        db = _db(sqlite_url)
        try:
            async with db.transaction() as session:
                await apply_config_text(session, text, env={}, cipher=CredentialCipher(SECRET), actor="test")
        finally:
            await db.dispose()

    run_async(go())


@pytest.mark.parametrize("api_base", BAD_BASES)
def test_bad_provider_base_urls_are_refused_by_the_catalog_and_by_config_apply(
    sqlite_url: str, api_base: str
) -> None:
    _create_good(sqlite_url)
    with pytest.raises(catalog.CatalogError) as created:
        _create(sqlite_url, api_base)
    assert created.value.field == "api_base"
    with pytest.raises(catalog.CatalogError):
        _update(sqlite_url, api_base)
    with pytest.raises(ConfigInvalid):
        _apply(sqlite_url, api_base)
    assert _providers(sqlite_url) == {"good": "https://api.example.com/v1"}
    # The refusal never repeats a password or key it was given.
    for secret in SECRETS_IN_BASES:
        assert secret not in str(created.value)


def test_a_refused_non_web_base_url_does_not_repeat_its_password(sqlite_url: str) -> None:
    with pytest.raises(catalog.CatalogError) as created:
        _create(sqlite_url, "ftp://admin:hunter2pw@files.example.com/v1")
    assert "hunter2pw" not in str(created.value)


def test_router_config_apply_refuses_a_base_url_with_credentials(
    sqlite_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        'providers:\n  - {name: p, kind: openai, api_base: "https://u:hunter2@api.example.com/v1"}\n'
    )
    monkeypatch.setenv("ROUTER_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ROUTER_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli_main, ["config", "apply", str(config)])
    assert result.exit_code != 0
    assert "api_base" in result.output
    assert "hunter2" not in result.output
    assert _providers(sqlite_url) == {}
