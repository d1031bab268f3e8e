"""Gemini's base URL works with or without its API version: the host alone, /v1beta, a trailing slash or
/models, never doubled; other kinds' base URLs are used exactly as given."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from router.providers.kinds import api_base_for
from tests.fakes import Reply
from tests.fixtures.app import LiveRouter

GEMINI_CONFIG = """
providers:
  - {name: gem, kind: gemini, api_base: "${UPSTREAM}SUFFIX", api_key: "${GEMINI_API_KEY}"}
rules:
  - {match: "*", target: gem/gemini-2.5-pro}
"""


@pytest.mark.parametrize(
    ("given", "called"),
    [
        ("https://generativelanguage.googleapis.com", "https://generativelanguage.googleapis.com/v1beta"),
        ("https://generativelanguage.googleapis.com/", "https://generativelanguage.googleapis.com/v1beta"),
        (
            "https://generativelanguage.googleapis.com/v1beta",
            "https://generativelanguage.googleapis.com/v1beta",
        ),
        (
            "https://generativelanguage.googleapis.com/v1beta/",
            "https://generativelanguage.googleapis.com/v1beta",
        ),
        (
            "https://generativelanguage.googleapis.com/v1alpha",
            "https://generativelanguage.googleapis.com/v1alpha",
        ),
        ("https://generativelanguage.googleapis.com/v1", "https://generativelanguage.googleapis.com/v1"),
        ("https://gw.example/v1beta/models", "https://gw.example/v1beta"),
        ("https://gw.example/google/gemini", "https://gw.example/google/gemini/v1beta"),
        (None, None),
    ],
)
def test_gemini_base_urls_are_normalised(given: str | None, called: str | None) -> None:
    assert api_base_for("gemini", given) == called


@pytest.mark.parametrize("kind", ["openai", "azure", "anthropic", "openrouter", "ollama"])
def test_other_kinds_keep_their_base_url(kind: str) -> None:
    assert api_base_for(kind, "https://host.example/some/path/") == "https://host.example/some/path/"


@pytest.mark.parametrize("suffix", ["", "/", "/v1beta", "/v1beta/"])
def test_gemini_is_called_on_googles_path_whichever_base_was_given(
    start_router: Callable[..., LiveRouter], suffix: str
) -> None:
    router = start_router()
    router.apply(GEMINI_CONFIG.replace("SUFFIX", suffix))
    router.upstream.script(Reply(text="hi from gemini"))
    message = router.client(router.key()).messages.create(
        model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "hi from gemini"  # type: ignore[union-attr]
    (request,) = router.upstream.requests
    assert request.path == "/v1beta/models/gemini-2.5-pro:generateContent"
