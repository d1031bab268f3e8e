"""The OIDC foundation both sign-ins share, against a real OpenID provider on loopback: a flow begins a trip
to the IdP, the one redirect route `/oidc/callback` finishes it and hands the identity to the handler that
flow registered. State is kept in the database, used once, and bound to the browser that started it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from litestar import Request, Response
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from router.app import create_app
from router.identity.login import BROWSER_COOKIE, OidcLogins
from router.identity.oidc import Identity, OidcClient
from router.store.db import Database
from router.store.identity_models import OidcLogin
from router.store.oidc_logins import LoginState
from tests.fakes.oidc import TestIdp
from tests.fixtures.app import router_settings

PUBLIC_URL = "http://127.0.0.1:9"


class Probe:
    """A completion handler that shows what it was handed."""

    async def complete(
        self, request: Request[Any, Any, Any], login: LoginState, who: Identity
    ) -> Response[Any]:
        return Response(
            {
                "subject": who.subject,
                "email": who.email,
                "groups": list(who.groups),
                "payload": login.payload,
                "has_refresh_token": who.refresh_token is not None,
            }
        )

    async def fail(self, request: Request[Any, Any, Any], login: LoginState, message: str) -> Response[Any]:
        return Response({"error": message, "payload": login.payload}, status_code=400)


@pytest.fixture
async def app_client(
    db_url: str, database: Database, oidc_idp: TestIdp
) -> AsyncIterator[tuple[AsyncTestClient[Any], OidcLogins]]:
    settings = router_settings(db_url, **oidc_idp.settings(PUBLIC_URL))
    app = create_app(settings, configure_logs=False)
    app.state.oidc_logins.register("probe", Probe())
    # The test begins trips from its own event loop (the app serves from the test client's), so with its
    # own engine on the same database: what any other replica would do.
    logins = OidcLogins(settings, database, OidcClient(settings))
    logins.register("probe", Probe())
    async with AsyncTestClient(app) as client:
        yield client, logins


async def _to_idp_and_back(idp: TestIdp, url: str, user: str) -> dict[str, str]:
    """The browser's trip through the IdP's login form; the query the IdP sends back to /oidc/callback."""

    def go() -> httpx.Response:
        with httpx.Client(timeout=10) as browser:
            return idp.sign_in(browser, url, user)

    back = await asyncio.to_thread(go)
    location = urlsplit(back.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{PUBLIC_URL}/oidc/callback"
    return dict(parse_qsl(location.query))


async def test_callback_hands_the_idp_identity_with_groups_to_the_flow_that_began_it(
    app_client: Any, oidc_idp: TestIdp
) -> None:
    client, logins = app_client
    url, cookie = await logins.begin("probe", {"next": "/somewhere"})
    query = urlsplit(url).query
    params = dict(parse_qsl(query))
    # Authorization code with PKCE (S256), a nonce and a state, to the one registered redirect URI.
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and params["code_challenge"]
    assert params["nonce"] and params["state"]
    assert params["redirect_uri"] == f"{PUBLIC_URL}/oidc/callback"
    assert params["scope"] == "openid profile email offline_access"

    back = await _to_idp_and_back(oidc_idp, url, "carol")
    response = await client.get(f"/oidc/callback?{urlencode(back)}", cookies={BROWSER_COOKIE: cookie.value})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": "carol",
        "email": "carol@example.com",
        "groups": ["engineering", "platform"],
        "payload": {"next": "/somewhere"},
        "has_refresh_token": True,
    }
    # A state finishes one sign-in only: the same answer again is refused.
    again = await client.get(f"/oidc/callback?{urlencode(back)}", cookies={BROWSER_COOKIE: cookie.value})
    assert again.status_code == 400
    assert "expired" in again.text


async def test_callback_refuses_an_unknown_state(app_client: Any) -> None:
    client, _ = app_client
    response = await client.get("/oidc/callback?state=forged&code=whatever")
    assert response.status_code == 400
    assert "expired" in response.text


async def test_callback_refuses_a_sign_in_finished_in_another_browser(
    app_client: Any, oidc_idp: TestIdp
) -> None:
    client, logins = app_client
    url, _ = await logins.begin("probe", {})
    back = await _to_idp_and_back(oidc_idp, url, "alice")
    response = await client.get(
        f"/oidc/callback?{urlencode(back)}", cookies={BROWSER_COOKIE: "another-browser"}
    )
    assert response.status_code == 400
    assert "another browser" in response.json()["error"]


async def test_callback_refuses_an_id_token_whose_nonce_does_not_match(
    app_client: Any, oidc_idp: TestIdp, database: Any
) -> None:
    client, logins = app_client
    url, cookie = await logins.begin("probe", {})
    back = await _to_idp_and_back(oidc_idp, url, "alice")
    async with database.transaction() as session:
        await session.execute(update(OidcLogin).values(nonce="not-the-nonce-sent"))
    response = await client.get(f"/oidc/callback?{urlencode(back)}", cookies={BROWSER_COOKIE: cookie.value})
    assert response.status_code == 400
    assert response.json()["error"] == "the identity provider's answer failed its checks"


async def test_callback_refuses_an_answer_naming_another_issuer(app_client: Any, oidc_idp: TestIdp) -> None:
    client, logins = app_client
    url, cookie = await logins.begin("probe", {})
    back = await _to_idp_and_back(oidc_idp, url, "alice")
    back["iss"] = "http://127.0.0.1:1/evil"
    response = await client.get(f"/oidc/callback?{urlencode(back)}", cookies={BROWSER_COOKIE: cookie.value})
    assert response.status_code == 400
    assert "another identity provider" in response.json()["error"]


async def test_callback_reports_the_idp_refusal_to_the_flow(app_client: Any) -> None:
    client, logins = app_client
    url, cookie = await logins.begin("probe", {"flow": 1})
    state = dict(parse_qsl(urlsplit(url).query))["state"]
    response = await client.get(
        f"/oidc/callback?state={state}&error=access_denied&error_description=User+cancelled",
        cookies={BROWSER_COOKIE: cookie.value},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "the identity provider said: User cancelled", "payload": {"flow": 1}}
