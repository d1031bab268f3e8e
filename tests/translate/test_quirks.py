"""The quirks table: lookups, aliases and the conservative default."""

from __future__ import annotations

import dataclasses

import pytest

from router.translate.quirks import QUIRKS_BY_KIND, quirks_for
from router.translate.schema_clean import clean_schema_for_gemini


@pytest.mark.parametrize("kind", ["openai", "azure", "gemini", "anthropic", "default"])
def test_every_kind_has_an_entry(kind: str) -> None:
    assert quirks_for(kind) is QUIRKS_BY_KIND[kind] and quirks_for(kind).kind == kind


def test_litellm_provider_aliases_and_unknown_kinds() -> None:
    assert quirks_for("vertex_ai") is QUIRKS_BY_KIND["gemini"]
    assert quirks_for("ollama") is QUIRKS_BY_KIND["default"]


def test_gemini_cleans_schemas_and_openai_does_not() -> None:
    assert quirks_for("gemini").clean_schema is clean_schema_for_gemini
    assert quirks_for("openai").clean_schema is None


def test_unknown_providers_do_not_claim_pdf_support() -> None:
    assert not quirks_for("some-provider").supports_pdf and quirks_for("openai").supports_pdf


def test_quirks_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        quirks_for("openai").supports_pdf = False  # type: ignore[misc]
