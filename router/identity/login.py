"""Browser sign-in through the IdP, shared by every flow that needs one, and the ONE redirect route.

A flow (the admin sign-in, Claude Code's device sign-in) calls `OidcLogins.begin(purpose, payload, ...)` and
redirects the browser to the URL it returns. The login state (PKCE verifier, nonce, the flow's payload) is
kept in the database, so whichever replica the IdP sends the browser back to can finish it. The IdP returns
to `{ROUTER_PUBLIC_URL}/oidc/callback`, which checks the state, lets Authlib check the answer, and hands the
identity to the completion handler registered for the state's purpose.

    signin = request.app.state.oidc_logins
    url, cookie = await signin.begin("admin", {"next": "/admin"})
    # set `cookie` on the redirect response; register the finish once at start-up:
    signin.register("admin", AdminCompletion())
"""

from __future__ import annotations

import hashlib
import html
import logging
import secrets
from datetime import timedelta
from typing import Any, Protocol

from litestar import Request, Response, get
from litestar.datastructures import Cookie, State

from router.identity.oidc import Identity, OidcClient, OidcError
from router.settings import Settings
from router.store.db import Database
from router.store.oidc_logins import LoginState, save_login, take_login

log = logging.getLogger("router.identity")

# Binds a trip to the IdP to the browser that started it (SameSite=Lax: it rides the IdP's redirect back).
BROWSER_COOKIE = "router_oidc"
CALLBACK_PATH = "/oidc/callback"
_MAX_PARAM = 2048


class Completion(Protocol):
    """What a flow does when the browser comes back from the IdP."""

    async def complete(
        self, request: Request[Any, Any, State], login: LoginState, who: Identity
    ) -> Response[Any]:
        """The IdP vouched for `who`: finish the flow (set a session, approve a device ...)."""

    async def fail(self, request: Request[Any, Any, State], login: LoginState, message: str) -> Response[Any]:
        """The IdP refused, the user cancelled, or the answer failed its checks: say so."""


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class OidcLogins:
    """The login states and the completion handlers, one per purpose."""

    def __init__(self, settings: Settings, db: Database, client: OidcClient) -> None:
        self._settings = settings
        self._db = db
        self.client = client
        self._handlers: dict[str, Completion] = {}

    @property
    def configured(self) -> bool:
        return self.client.configured

    def register(self, purpose: str, handler: Completion) -> None:
        self._handlers[purpose] = handler

    def handler(self, purpose: str) -> Completion | None:
        return self._handlers.get(purpose)

    async def begin(
        self, purpose: str, payload: dict[str, Any], *, browser: str | None = None
    ) -> tuple[str, Cookie]:
        """The IdP URL to send the browser to, and the cookie to set with that redirect.

        `browser`: the value of an existing BROWSER_COOKIE, to keep one per browser across several trips.
        """
        if purpose not in self._handlers:
            raise ValueError(f"no completion handler registered for {purpose!r}")
        request = await self.client.authorization_request()
        browser = browser if browser and len(browser) <= 100 else secrets.token_urlsafe(24)
        async with self._db.transaction() as session:
            await save_login(
                session,
                state=request.state,
                purpose=purpose,
                code_verifier=request.code_verifier,
                nonce=request.nonce,
                payload=payload,
                browser_hash=_hash(browser),
                ttl=timedelta(seconds=self._settings.oidc_login_ttl),
            )
        secure = (self._settings.public_url or "").startswith("https://")
        cookie = Cookie(
            key=BROWSER_COOKIE,
            value=browser,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
            max_age=self._settings.oidc_login_ttl,
        )
        return request.url, cookie

    async def take(self, state: str) -> LoginState | None:
        async with self._db.transaction() as session:
            return await take_login(session, state)


def error_page(title: str, message: str, status: int = 400) -> Response[str]:
    """A plain page for a sign-in that cannot go on (no flow to hand it to)."""
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Sign-in failed · router</title>"
        '<link rel="stylesheet" href="/admin/static/admin.css"></head><body><main id=main><div class="card">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></div></main></body></html>"
    )
    return Response(body, status_code=status, media_type="text/html", headers={"Cache-Control": "no-store"})


@get(CALLBACK_PATH, include_in_schema=False, name="oidc_callback")
async def oidc_callback(request: Request[Any, Any, State]) -> Response[Any]:
    """Where the IdP sends the browser back, for every sign-in flow."""
    logins: OidcLogins = request.app.state.oidc_logins
    params = request.query_params
    state = str(params.get("state") or "")[:_MAX_PARAM]
    login = await logins.take(state) if state else None
    if login is None:
        return error_page(
            "This sign-in link has expired",
            "The sign-in took too long or was already used. Start again from where you signed in.",
        )
    handler = logins.handler(login.purpose)
    if handler is None:
        return error_page("Sign-in failed", "This kind of sign-in is not available.", 404)
    browser = request.cookies.get(BROWSER_COOKIE)
    if (
        login.browser_hash is None
        or not browser
        or not secrets.compare_digest(login.browser_hash, _hash(browser))
    ):
        # The link was opened in another browser than the one that started the sign-in (login CSRF).
        return await handler.fail(
            request, login, "the sign-in was finished in another browser than it began in"
        )
    error = params.get("error")
    if error:
        description = str(params.get("error_description") or error)[:200]
        return await handler.fail(request, login, f"the identity provider said: {description}")
    code = str(params.get("code") or "")[:_MAX_PARAM]
    if not code:
        return await handler.fail(request, login, "the identity provider sent no authorization code")
    issuer = params.get("iss")
    if issuer and str(issuer).rstrip("/") != (logins.client.issuer or "").rstrip("/"):
        # RFC 9207: the authorization response names the issuer that answered (mix-up defence).
        return await handler.fail(request, login, "the answer came from another identity provider")
    try:
        who = await logins.client.finish(code=code, code_verifier=login.code_verifier, nonce=login.nonce)
    except OidcError as exc:
        return await handler.fail(request, login, str(exc))
    return await handler.complete(request, login, who)
