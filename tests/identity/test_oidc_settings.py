"""The sign-in settings: URLs normalised as the IdP compares them, bad ones refused, half a set named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from router.settings import Settings


def test_urls_lose_their_trailing_slash_and_the_redirect_uri_follows_the_public_url() -> None:
    settings = Settings(
        _env_file=None, public_url="https://router.example.com/", oidc_issuer="https://idp/x/"
    )
    assert settings.public_url == "https://router.example.com"
    assert settings.oidc_redirect_uri == "https://router.example.com/oidc/callback"
    assert settings.oidc_scopes == "openid profile email offline_access"
    assert settings.oidc_groups_claim == "groups"


@pytest.mark.parametrize(
    "url", ["router.example.com", "ftp://router", "https://router/?x=1", "https://router/#f"]
)
def test_a_public_url_that_is_not_an_http_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(_env_file=None, public_url=url)


def test_half_configured_sign_in_names_what_is_missing() -> None:
    assert Settings(_env_file=None).oidc_missing == []
    half = Settings(_env_file=None, oidc_issuer="https://idp.example.com")
    assert half.oidc_missing == ["ROUTER_PUBLIC_URL", "ROUTER_OIDC_CLIENT_ID"]
    assert not half.oidc_configured
