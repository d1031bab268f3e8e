"""The OIDC client both sign-ins use (admins in the browser, Claude Code's device flow): Authlib does the
protocol (discovery, PKCE, nonce, ID-token signature and claims checks); this module only wires it to our
settings and returns who signed in.

One `OidcClient` per process. The discovery document and the IdP's keys are cached by Authlib's app object;
a key the IdP rotated in is fetched again on the first token that names it.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any

from router.config.lengths import EMAIL_CHARS, GROUP_CHARS, SUBJECT_CHARS, bounded
from router.settings import Settings

log = logging.getLogger("router.identity")

# Bounds on what an IdP sends us (each value is stored or shown).
_MAX_GROUPS = 500
_MAX_NAME_CHARS = 200
_TIMEOUT = 10.0


class OidcError(Exception):
    """The IdP refused, or answered something we must not trust; `str()` is safe to show a user."""


class OidcNotConfigured(OidcError):
    pass


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the IdP says signed in."""

    subject: str
    email: str | None
    name: str | None
    groups: tuple[str, ...]
    # The IdP's refresh token, when it issued one (offline_access): lets us ask the IdP again later.
    refresh_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, and what the callback needs to finish (kept server-side)."""

    url: str
    state: str
    code_verifier: str
    nonce: str


@functools.cache
def _authlib_app() -> type[Any]:
    """Authlib's framework-free async OAuth 2 + OpenID app over httpx, made on first sign-in: authlib and
    httpx are a tenth of the service's import time, and most processes never sign anyone in."""
    from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
    from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
    from authlib.integrations.base_client.sync_app import BaseApp
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    class _AuthlibApp(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):  # type: ignore[misc]
        client_cls = AsyncOAuth2Client

    return _AuthlibApp


def _oauth_error() -> type[Exception]:
    from authlib.integrations.base_client import OAuthError

    error: type[Exception] = OAuthError
    return error


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _identifying(claims: dict[str, Any], name: str, limit: int, what: str) -> str | None:
    """A claim that says who someone is (`sub`, `email`): whole or not at all. Cut, two people whose values
    share the first `limit` characters would become one, so a longer one refuses the sign-in."""
    value = _text(claims.get(name))
    if value is not None and len(value) > limit:
        log.warning(
            "sign-in refused: the IdP's %s claim has %d characters (at most %d)", name, len(value), limit
        )
        raise OidcError(
            f"the identity provider's {what} is longer than {limit} characters, the most kept here"
        )
    return value


def groups_from_claims(claims: dict[str, Any], claim: str) -> tuple[str, ...]:
    """The groups claim as a tuple of names: a list of strings, or one string; anything else is none.

    A group longer than GROUP_CHARS is left out, not cut: no mapping can name it (the validators refuse
    longer groups), and a cut one could equal another group's name."""
    raw = claims.get(claim)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return ()
    names = [g for g in raw if isinstance(g, str) and g and len(g) <= GROUP_CHARS]
    return tuple(dict.fromkeys(names))[:_MAX_GROUPS]


class OidcClient:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: Any = None
        if settings.oidc_missing:
            log.warning(
                "sign-in with the identity provider is off: %s not set", ", ".join(settings.oidc_missing)
            )

    @property
    def configured(self) -> bool:
        return self._settings.oidc_configured

    @property
    def issuer(self) -> str | None:
        return self._settings.oidc_issuer

    @property
    def redirect_uri(self) -> str:
        return self._settings.oidc_redirect_uri

    def _authlib(self) -> Any:
        if not self.configured:
            raise OidcNotConfigured(
                "sign-in with the identity provider is not configured "
                "(ROUTER_PUBLIC_URL, ROUTER_OIDC_ISSUER, ROUTER_OIDC_CLIENT_ID)"
            )
        if self._app is None:
            issuer = (self._settings.oidc_issuer or "").rstrip("/")
            self._app = _authlib_app()(
                framework=None,
                name="oidc",
                client_id=self._settings.oidc_client_id,
                client_secret=self._settings.oidc_client_secret,
                server_metadata_url=f"{issuer}/.well-known/openid-configuration",
                client_kwargs={
                    "scope": self._settings.oidc_scopes,
                    "code_challenge_method": "S256",
                    "timeout": _TIMEOUT,
                },
            )
        return self._app

    async def _metadata(self) -> dict[str, Any]:
        app = self._authlib()
        try:
            metadata: dict[str, Any] = await app.load_server_metadata()
        except Exception as exc:  # network, TLS, JSON: the IdP cannot be reached
            self._app = None  # try discovery again next time
            raise OidcError("the identity provider could not be reached") from exc
        expected = (self._settings.oidc_issuer or "").rstrip("/")
        if str(metadata.get("issuer", "")).rstrip("/") != expected:
            # OpenID Connect Discovery §4.3: the document must name the issuer we asked (mix-up defence).
            self._app = None
            raise OidcError("the identity provider's discovery document names another issuer")
        return metadata

    async def authorization_request(self) -> AuthorizationRequest:
        """A fresh authorization-code request with PKCE (S256), state and nonce."""
        await self._metadata()
        made = await self._authlib().create_authorization_url(self.redirect_uri)
        return AuthorizationRequest(
            url=made["url"], state=made["state"], code_verifier=made["code_verifier"], nonce=made["nonce"]
        )

    async def finish(self, *, code: str, code_verifier: str, nonce: str) -> Identity:
        """Trade the code for tokens and check the ID token (signature, issuer, audience, expiry, nonce)."""
        metadata = await self._metadata()
        app = self._authlib()
        try:
            token = await app.fetch_access_token(
                redirect_uri=self.redirect_uri, code=code, code_verifier=code_verifier
            )
            claims = await app.parse_id_token(
                token, nonce=nonce, claims_options={"iss": {"essential": True, "value": metadata["issuer"]}}
            )
        except _oauth_error() as exc:
            raise OidcError(
                f"the identity provider refused the sign-in ({getattr(exc, 'error', '')})"
            ) from exc
        except Exception as exc:  # a bad signature, nonce, issuer, audience or expiry: all are refusals
            log.warning("ID token refused: %s", exc)
            raise OidcError("the identity provider's answer failed its checks") from exc
        if claims is None:
            raise OidcError("the identity provider sent no ID token")
        return await self._identity(dict(claims), token)

    async def refresh(self, refresh_token: str, subject: str) -> Identity:
        """Ask the IdP again with its refresh token: who the person is now (groups included).

        A person disabled at the IdP, or whose grant was revoked there, makes this raise OidcError.
        """
        metadata = await self._metadata()
        app = self._authlib()
        try:
            async with app._get_oauth_client(**metadata) as client:
                # No scope: RFC 6749 §6, the grant keeps what was first granted (asking again may be refused).
                token = await client.refresh_token(
                    metadata["token_endpoint"], refresh_token=refresh_token, scope=None
                )
            claims: dict[str, Any] | None = None
            if token.get("id_token"):
                parsed = await app.parse_id_token(
                    token,
                    nonce=None,
                    claims_options={"iss": {"essential": True, "value": metadata["issuer"]}},
                )
                claims = dict(parsed) if parsed is not None else None
        except _oauth_error() as exc:
            error, description = getattr(exc, "error", ""), getattr(exc, "description", "")
            log.info("the IdP refused a refresh: %s %s", error, description)
            raise OidcError(f"the identity provider refused the refresh ({error})") from exc
        except Exception as exc:  # network or a token that failed its checks
            log.warning("an IdP refresh failed: %s", exc)
            raise OidcError("the identity provider could not confirm the sign-in") from exc
        if claims is None:
            claims = {"sub": subject}
        if claims.get("sub") != subject:
            raise OidcError("the identity provider answered for another subject")
        identity = await self._identity(claims, token)
        if identity.refresh_token is None:
            # IdPs that do not rotate keep the old refresh token valid.
            identity = Identity(
                identity.subject, identity.email, identity.name, identity.groups, refresh_token
            )
        return identity

    async def _identity(self, claims: dict[str, Any], token: dict[str, Any]) -> Identity:
        claim = self._settings.oidc_groups_claim
        if claim not in claims or "email" not in claims:
            # Some IdPs leave groups or e-mail out of the ID token: ask userinfo with the access token.
            extra = await self._userinfo(token)
            if extra.get("sub") == claims.get("sub"):
                claims = {**extra, **claims}
        subject = _identifying(claims, "sub", SUBJECT_CHARS, "subject (sub)")
        if subject is None:
            raise OidcError("the identity provider's answer has no subject")
        name = _text(claims.get("name"))
        return Identity(
            subject=subject,
            email=(_identifying(claims, "email", EMAIL_CHARS, "e-mail") or "").lower() or None,
            # Shown only: cut to a sane length.
            name=None if name is None else bounded(name, _MAX_NAME_CHARS),
            groups=groups_from_claims(claims, claim),
            refresh_token=token.get("refresh_token") or None,
        )

    async def _userinfo(self, token: dict[str, Any]) -> dict[str, Any]:
        if not token.get("access_token"):
            return {}
        try:
            info = await self._authlib().userinfo(token=token)
        except Exception:  # userinfo is a fallback: without it we use what the ID token said
            log.info("userinfo not available; using the ID token's claims")
            return {}
        return dict(info)

    async def close(self) -> None:
        self._app = None
