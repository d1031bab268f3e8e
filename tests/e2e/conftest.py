"""Configurations that send every model to one provider kind, for tests that run over every path."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.fixtures.app import LiveRouter


@dataclass(frozen=True)
class ProviderCase:
    kind: str
    yaml: str
    # The model the fake upstream sees (its script key).
    upstream_model: str


CASES = {
    "openai": ProviderCase(
        "openai",
        """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
""",
        "gpt-4.1",
    ),
    "azure": ProviderCase(
        "azure",
        """
providers:
  - {name: azure-eu, kind: azure, api_base: "${UPSTREAM}", api_key: "${AZURE_API_KEY}", api_version: "2024-10-21"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-prod, model: gpt-4o}
rules:
  - {match: "*", target: deployment/gpt4o-eu}
""",
        "gpt-4o-prod",
    ),
    "gemini": ProviderCase(
        "gemini",
        """
providers:
  - {name: gem, kind: gemini, api_base: "${UPSTREAM}", api_key: "${GEMINI_API_KEY}"}
rules:
  - {match: "*", target: gem/gemini-2.5-pro}
""",
        "gemini-2.5-pro",
    ),
    "anthropic": ProviderCase(
        "anthropic",
        """
providers:
  - {name: ant, kind: anthropic, api_base: "${UPSTREAM}", api_key: "${ANTHROPIC_API_KEY}"}
rules:
  - {match: "*", target: ant/claude-sonnet-4-5}
""",
        "claude-sonnet-4-5",
    ),
}

CREDENTIALS = {
    "openai": "sk-openai-provider-credential",
    "azure": "azure-provider-credential",
    "gemini": "gemini-provider-credential",
    "anthropic": "sk-ant-provider-credential",
}


@pytest.fixture(params=sorted(CASES))
def provider_case(request: pytest.FixtureRequest) -> ProviderCase:
    return CASES[request.param]


@dataclass
class Routed:
    router: LiveRouter
    case: ProviderCase
    key: str


@pytest.fixture
def routed(live_router: LiveRouter, provider_case: ProviderCase) -> Routed:
    live_router.apply(provider_case.yaml)
    return Routed(live_router, provider_case, live_router.key("acme", "alice"))
