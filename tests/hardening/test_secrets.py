"""Secrets stay secret: planted provider credentials and proxy keys, pushed through successes, upstream
401s that echo the credential, bad requests, wrong keys, fallbacks, broken streams and token counting, never
appear in a log line (JSON logs, uvicorn's and LiteLLM's included), an error body, a usage record, the admin
pages, `router config export`, /metrics or the database file."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from router.cli import main as cli_main
from router.observability.logging import JsonFormatter, RedactingFilter
from tests.fakes import BreakStream, ErrorIn200, Fail, Reply
from tests.fixtures.app import SECRET, LiveRouter
from tests.hardening.conftest import StartRouter
from tests.hardening.support import AdminHttp, create_admin_user, object_ids, wait_for_usage

TOKEN = secrets.token_hex(8)
# Provider credentials in each provider's usual shape, and in shapes no `sk-` pattern would catch.
PROVIDER_SECRETS = {
    "OPENAI_API_KEY": f"sk-planted-PROVIDER-SECRET-oai-{TOKEN}",
    "BACKUP_API_KEY": f"sk-proj-planted-PROVIDER-SECRET-bak-{TOKEN}",
    "GEMINI_API_KEY": f"AIzaPlantedProviderSecretGem{TOKEN}",
    "ANTHROPIC_API_KEY": f"sk-ant-api03-planted-PROVIDER-SECRET-ant-{TOKEN}",
    "AZURE_API_KEY": f"plantedProviderSecretAzure{TOKEN}",
}
METRICS_TOKEN = f"metrics-token-{TOKEN}"
CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
  - {name: backup, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${BACKUP_API_KEY}"}
  - {name: gem, kind: gemini, api_base: "${UPSTREAM}", api_key: "${GEMINI_API_KEY}"}
  - {name: ant, kind: anthropic, api_base: "${UPSTREAM}", api_key: "${ANTHROPIC_API_KEY}"}
  - {name: azure-eu, kind: azure, api_base: "${UPSTREAM}", api_key: "${AZURE_API_KEY}", api_version: "2024-10-21"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-prod, model: gpt-4o}
chains:
  - {name: main, targets: [oai/gpt-4.1, backup/gpt-4o-mini]}
rules:
  - {match: "claude-opus-*", target: gem/gemini-2.5-pro}
  - {match: "claude-haiku-*", target: ant/claude-haiku-4-5}
  - {match: "claude-3*", target: deployment/gpt4o-eu}
  - {match: "*", chain: main}
"""
UPSTREAM_MODEL = {
    "claude-sonnet-4-5": "gpt-4.1",
    "claude-opus-4-5": "gemini-2.5-pro",
    "claude-haiku-4-5": "claude-haiku-4-5",
    "claude-3-7-sonnet-latest": "gpt-4o-prod",
}
CREDENTIAL_OF = {
    "gpt-4.1": PROVIDER_SECRETS["OPENAI_API_KEY"],
    "gpt-4o-mini": PROVIDER_SECRETS["BACKUP_API_KEY"],
    "gemini-2.5-pro": PROVIDER_SECRETS["GEMINI_API_KEY"],
    "claude-haiku-4-5": PROVIDER_SECRETS["ANTHROPIC_API_KEY"],
    "gpt-4o-prod": PROVIDER_SECRETS["AZURE_API_KEY"],
}


class LogCapture:
    """Every log record, formatted the way production formats it (JSON, through the redacting filter)."""

    LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "LiteLLM", "LiteLLM Router", "LiteLLM Proxy")

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.addFilter(RedactingFilter())
        self.handler.setFormatter(JsonFormatter())
        self.handler.setLevel(logging.DEBUG)
        self._levels: dict[str, int] = {}

    def __enter__(self) -> LogCapture:
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.DEBUG)
            if name == "" or not logger.propagate:
                logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(self.handler)
            logger.setLevel(self._levels[name])

    def lines(self) -> list[str]:
        return self.buffer.getvalue().splitlines()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    with LogCapture() as capture:
        yield capture


@pytest.fixture
def router(start_sqlite_router: StartRouter, logs: LogCapture) -> LiveRouter:
    router = start_sqlite_router(metrics_token=METRICS_TOKEN, log_level="DEBUG")
    router.apply(CONFIG, **PROVIDER_SECRETS)
    return router


class Seen:
    """Everything a client, an operator or an admin could read."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def response(self, where: str, response: httpx.Response) -> None:
        self.add(where, json.dumps(dict(response.headers)) + "\n" + response.text)

    def leaks(self, markers: dict[str, str]) -> list[str]:
        found = []
        for where, text in self.texts:
            for name, marker in markers.items():
                at = text.find(marker)
                if at >= 0:
                    found.append(f"{name} in {where}: ...{text[max(0, at - 120) : at + 60]}...")
        return found


def _markers(keys: dict[str, str]) -> dict[str, str]:
    markers = {name: value for name, value in PROVIDER_SECRETS.items()}
    # The random tail is what must never show; a key's 12-character prefix is its public name.
    markers.update({f"random part of {name}": value[-16:] for name, value in PROVIDER_SECRETS.items()})
    markers.update({f"proxy key {name}": value[12:] for name, value in keys.items()})
    markers["metrics token"] = METRICS_TOKEN
    return markers


def _traffic(router: LiveRouter, key: str, wrong_key: str, seen: Seen) -> int:
    """Requests that succeed and fail every way that could carry a secret; returns how many of them leave a
    usage record (the /v1/messages calls with a valid key)."""
    up = router.upstream
    requests = 0

    def post(
        where: str, body: dict[str, Any], api_key: str = key, bearer: bool = False, path: str = "/v1/messages"
    ) -> None:
        nonlocal requests
        headers = {"authorization": f"Bearer {api_key}"} if bearer else {"x-api-key": api_key}
        with httpx.Client(base_url=router.base_url, timeout=30) as http:
            seen.response(where, http.post(path, json=body, headers=headers))
        if api_key == key and path == "/v1/messages":
            requests += 1

    for model, upstream_model in UPSTREAM_MODEL.items():
        credential = CREDENTIAL_OF[upstream_model]
        ask = {"model": model, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
        post(f"ok {model}", ask, bearer=True)
        post(f"ok stream {model}", {**ask, "stream": True})
        # The upstream rejects the credential and quotes it back, as OpenAI does ("Incorrect API key provided").
        up.script(
            Fail(401, f"Incorrect API key provided: {credential}. key={credential}"), model=upstream_model
        )
        post(f"upstream 401 {model}", ask)
        up.script(Fail(401, f"Incorrect API key provided: {credential}"), model=upstream_model)
        post(f"upstream 401 stream {model}", {**ask, "stream": True})
        up.script(
            Fail(500, f"internal error while using {credential}", raw_body=f"<h1>500</h1> {credential}"),
            model=upstream_model,
        )
        post(f"upstream 500 raw {model}", ask)
        up.script(ErrorIn200(f"bad key {credential}"), model=upstream_model)
        post(f"error in 200 {model}", {**ask, "stream": True})
        up.script(
            BreakStream(after_chunks=3, reply=Reply(text="a longer answer that breaks")), model=upstream_model
        )
        post(f"broken stream {model}", {**ask, "stream": True})
        up.script(Fail(401, f"invalid x-api-key {credential}"), model=upstream_model)
        post(
            f"count_tokens after a 401 {model}",
            {"model": model, "messages": ask["messages"]},
            path="/v1/messages/count_tokens",
        )
        post(f"bad request {model}", {"model": model, "max_tokens": "lots", "messages": []})
    # A fallback whose first attempt fails quoting its credential.
    up.script(Fail(500, f"boom {CREDENTIAL_OF['gpt-4.1']}"), model="gpt-4.1")
    post(
        "fallback",
        {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "x"}]},
    )
    # Wrong and malformed keys.
    post("wrong key", {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": []}, api_key=wrong_key)
    post(
        "wrong bearer",
        {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": []},
        api_key=wrong_key,
        bearer=True,
    )
    with httpx.Client(base_url=router.base_url, timeout=30) as http:
        seen.response("models", http.get("/v1/models", headers={"x-api-key": key}))
        seen.response("models wrong key", http.get("/v1/models", headers={"x-api-key": wrong_key}))
    return requests


def test_planted_secrets_appear_nowhere(
    router: LiveRouter, logs: LogCapture, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = router.key("acme", "alice")
    wrong_key = f"sk-rt-planted-CLIENT-WRONG-{TOKEN}"
    seen = Seen()
    requests = _traffic(router, key, wrong_key, seen)
    assert any(
        r.headers.get("x-api-key") == PROVIDER_SECRETS["ANTHROPIC_API_KEY"] for r in router.upstream.requests
    )

    # Usage records: every column of every row (the attempts hold upstream error classes).
    rows = wait_for_usage(router.settings.database_url, requests)
    assert len(rows) == requests
    for row in rows:
        seen.add(
            f"usage row {row.request_id}",
            json.dumps({c.key: str(getattr(row, c.key)) for c in row.__table__.columns}),
        )

    # /metrics with its token.
    with httpx.Client(base_url=router.base_url) as http:
        metrics = http.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert metrics.status_code == 200 and b"router_" in metrics.content
    seen.response("/metrics", metrics)

    # `router config export`, run as an operator would.
    result = CliRunner().invoke(
        cli_main,
        ["config", "export"],
        env={"ROUTER_DATABASE_URL": router.settings.database_url, "ROUTER_SECRET_KEY": SECRET},
    )
    assert result.exit_code == 0, result.output
    assert "${OPENAI_API_KEY}" in result.output
    seen.add("config export", result.output)

    # The admin pages a signed-in admin can open.
    create_admin_user(router.settings.database_url)
    ids = object_ids(router.settings.database_url)
    pages = [
        "/admin",
        "/admin/providers",
        "/admin/tenants/",
        "/admin/usage",
        "/admin/audit/",
        "/admin/rules/",
        "/admin/chains/",
    ]
    pages += [
        f"/admin/providers/{ids[f'provider:{name}']}" for name in ("oai", "backup", "gem", "ant", "azure-eu")
    ]
    pages += [f"/admin/deployments/{ids['deployment:gpt4o-eu']}", f"/admin/tenants/{ids['tenant:acme']}"]
    pages += ["/admin/api/usage?since=7d", "/admin/usage.csv", "/admin/usage/requests.csv"]
    with AdminHttp(router.base_url) as admin:
        admin.sign_in()
        for page in pages:
            response = admin.get(page)
            assert response.status_code == 200, (page, response.status_code, response.text[:300])
            seen.response(f"admin {page}", response)
        # Testing a provider's connection makes the upstream answer 401 quoting the credential.
        router.upstream.script(Fail(401, f"bad key {PROVIDER_SECRETS['OPENAI_API_KEY']}"), model="gpt-4.1")
        admin.get(pages[5])
        tested = admin.post(f"/admin/providers/{ids['provider:oai']}/test", {"model": "gpt-4.1"})
        assert tested.status_code == 200, tested.text[:300]
        seen.response("admin provider test", tested)

    # The database file: credentials encrypted, keys hashed.
    database_file = Path(router.settings.database_url.split("///", 1)[1])
    raw = database_file.read_bytes() + b"".join(
        p.read_bytes() for p in database_file.parent.glob("router.db-*")
    )
    seen.add("database file", raw.decode("latin-1"))

    # Logs: ours (JSON, through the filter) and whatever reached stdout/stderr directly (LiteLLM's own handler).
    lines = logs.lines()
    assert lines, "no log line was captured"
    # JSON lines carry information, not other libraries' bookkeeping objects.
    assert not [line for line in lines if "<object object at" in line], [
        line for line in lines if "<object object at" in line
    ][:3]
    for line in lines:
        seen.add("log line", line)
    out, err = capfd.readouterr()
    seen.add("stdout", out)
    seen.add("stderr", err)

    leaks = seen.leaks(_markers({"alice": key, "wrong": wrong_key}))
    assert not leaks, "\n".join(leaks[:20])
