"""The provider kinds validation accepts are exactly ours plus the pinned LiteLLM's provider names."""

from __future__ import annotations

from router.config.provider_kinds import KNOWN_KINDS, LITELLM_PROVIDERS
from router.providers.kinds import KINDS


def test_the_litellm_snapshot_matches_the_installed_litellm() -> None:
    from litellm.types.utils import LlmProviders

    assert {p.value for p in LlmProviders} == LITELLM_PROVIDERS


def test_every_kind_the_providers_layer_serves_is_accepted() -> None:
    assert set(KINDS) <= KNOWN_KINDS
