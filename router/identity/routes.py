"""The HTTP edge of Claude Code's sign-in (the gateway protocol, docs/sign-in.md): discovery, the device
flow's endpoints, the browser's verification page, managed settings and the telemetry relay.

Handlers parse, call one service method, and answer; OAuth endpoints answer RFC 6749 / 8628 errors, bearer
endpoints Anthropic's error envelope (raised as ApiError, turned into the body by the app's handler).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.response import Redirect, Template

from router.identity.device import DeviceSignIn
from router.identity.grants import OAuthFailure
from router.identity.login import error_page
from router.identity.members import MemberTokens
from router.identity.oidc import Identity
from router.identity.tokens import InvalidToken, looks_like_token
from router.store.member_signin import normalize_user_code
from router.store.oidc_logins import LoginState
from router.wire.errors import AuthenticationError, InvalidRequestError, RequestTooLargeError

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
DEVICE_COOKIE = "router_device"
_MAX_FORM_BYTES = 8192
_MAX_USER_CODE = 32


def _device(request: Request[Any, Any, State]) -> DeviceSignIn:
    device: DeviceSignIn = request.app.state.device_signin
    return device


def _oauth_error(failure: OAuthFailure) -> Response[Any]:
    return Response(failure.body(), status_code=failure.status, headers=NO_STORE)


async def _form(request: Request[Any, Any, State]) -> dict[str, str]:
    """A small form body; unknown fields are kept (and ignored by the caller), as RFC 6749 §3.2 asks."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise OAuthFailure("invalid_request", "the form is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise OAuthFailure("invalid_request", "the form is not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _client_address(request: Request[Any, Any, State]) -> str | None:
    client = request.client
    return client.host if client is not None else None


# -- discovery and the device flow's endpoints ----------------------------------------------------------


@get("/.well-known/oauth-authorization-server", include_in_schema=False, name="signin_metadata")
async def authorization_server_metadata(request: Request[Any, Any, State]) -> Response[Any]:
    device = _device(request)
    if not request.app.state.oidc_logins.configured:
        return Response({"error": "sign-in is not configured"}, status_code=404, headers=NO_STORE)
    return Response(device.metadata(), headers={"Cache-Control": "max-age=300"})


@post("/oauth/device_authorization", include_in_schema=False, status_code=200)
async def device_authorization(request: Request[Any, Any, State]) -> Response[Any]:
    device = _device(request)
    if not request.app.state.oidc_logins.configured:
        return _oauth_error(OAuthFailure("temporarily_unavailable", "sign-in is not configured", 503))
    if not device.authorize_limiter.allow(_client_address(request)):
        return _oauth_error(OAuthFailure("slow_down", "too many sign-ins from this address", 429))
    try:
        form = await _form(request)
    except OAuthFailure as failure:
        return _oauth_error(failure)
    return Response(await device.authorize(form.get("surface")), headers=NO_STORE)


@post("/oauth/token", include_in_schema=False, status_code=200)
async def token(request: Request[Any, Any, State]) -> Response[Any]:
    try:
        return Response(await _device(request).grants.token(await _form(request)), headers=NO_STORE)
    except OAuthFailure as failure:
        return _oauth_error(failure)


@post("/oauth/revoke", include_in_schema=False, status_code=200)
async def revoke(request: Request[Any, Any, State]) -> Response[Any]:
    """RFC 7009: 200 whether or not the token was known."""
    try:
        form = await _form(request)
    except OAuthFailure as failure:
        return _oauth_error(failure)
    await _device(request).grants.revoke(form.get("token", ""))
    return Response(b"", status_code=200, headers=NO_STORE)


# -- the browser's verification page -------------------------------------------------------------------


def _csrf_for(request: Request[Any, Any, State], nonce: str) -> str:
    secret = (request.app.state.settings.secret_key or "").encode("utf-8")
    return hmac.new(secret, f"device-csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def _same_origin(request: Request[Any, Any, State]) -> bool:
    """A browser's POST says where its form came from; it must be this service's own page.

    Browsers send Sec-Fetch-Site; older ones only Origin (which is "null" under some referrer policies,
    hence Sec-Fetch-Site first). A client that sends neither is not a browser: the CSRF token decides.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None:
        return True
    public = urlsplit(request.app.state.settings.public_url or "")
    here = urlsplit(origin)
    return (here.scheme, here.netloc) == (public.scheme, public.netloc)


def _device_page(
    request: Request[Any, Any, State], *, user_code: str, error: str | None = None, status: int = 200
) -> Template:
    nonce = request.cookies.get(DEVICE_COOKIE) or secrets.token_urlsafe(24)
    response = Template(
        template_name="signin/device.html",
        context={"user_code": user_code, "csrf_token": _csrf_for(request, nonce), "error": error},
        status_code=status,
        # same-origin: the code in this page's URL never reaches another site in a Referer.
        headers={**_page_headers(request), "Referrer-Policy": "same-origin"},
    )
    secure = (request.app.state.settings.public_url or "").startswith("https://")
    response.cookies.append(
        Cookie(
            key=DEVICE_COOKIE, value=nonce, path="/device", httponly=True, samesite="strict", secure=secure
        )
    )
    return response


def _page_headers(request: Request[Any, Any, State]) -> dict[str, str]:
    """The browser pages' headers: never cached or framed, and a CSP whose form-action lets the /device form's
    redirect reach the IdP and nothing else."""
    issuer = urlsplit(request.app.state.settings.oidc_issuer or "")
    idp = f" {issuer.scheme}://{issuer.netloc}" if issuer.netloc else ""
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"form-action 'self'{idp}; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        **NO_STORE,
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _done_page(request: Request[Any, Any, State], title: str, message: str, status: int = 200) -> Template:
    return Template(
        template_name="signin/done.html",
        context={"title": title, "message": message, "csrf_token": ""},
        status_code=status,
        headers=_page_headers(request),
    )


@get("/device", include_in_schema=False, name="device_page")
async def device_page(request: Request[Any, Any, State]) -> Template:
    """The code from Claude Code, shown for the person to confirm; never submitted on its own (RFC 8628
    §5.4: a pre-filled code must be confirmed by the person)."""
    code = normalize_user_code(str(request.query_params.get("user_code") or "")[:_MAX_USER_CODE])
    return _device_page(request, user_code=code)


async def _checked_form(request: Request[Any, Any, State]) -> tuple[dict[str, str], str | None]:
    """The posted form, and why it must be refused (None when the CSRF token and origin check out)."""
    try:
        form = await _form(request)
    except OAuthFailure:
        return {}, "the form could not be read"
    nonce = request.cookies.get(DEVICE_COOKIE)
    token = form.get("_csrf", "")
    if not nonce or not hmac.compare_digest(_csrf_for(request, nonce), token) or not _same_origin(request):
        return form, "the page expired: open the link from Claude Code again"
    return form, None


@post("/device", include_in_schema=False, status_code=200)
async def device_continue(request: Request[Any, Any, State]) -> Response[Any]:
    device = _device(request)
    form, refused = await _checked_form(request)
    code = normalize_user_code(form.get("user_code", "")[:_MAX_USER_CODE])
    if refused:
        return _device_page(request, user_code=code, error=refused, status=403)
    if not device.verify_limiter.allow(_client_address(request)):
        return _device_page(
            request, user_code=code, error="too many attempts: wait a few minutes", status=429
        )
    begun = await device.begin_browser(code, request.cookies.get("router_oidc")) if code else None
    if begun is None:
        return _device_page(
            request,
            user_code=code,
            error="that code is not valid or has expired: check it in Claude Code",
            status=400,
        )
    url, cookie = begun
    return Redirect(url, status_code=303, cookies=[cookie], headers=NO_STORE)


@post("/device/deny", include_in_schema=False, status_code=200)
async def device_deny(request: Request[Any, Any, State]) -> Response[Any]:
    form, refused = await _checked_form(request)
    code = normalize_user_code(form.get("user_code", "")[:_MAX_USER_CODE])
    if refused:
        return _device_page(request, user_code=code, error=refused, status=403)
    await _device(request).deny(code)
    return _done_page(request, "Sign-in denied", "Nothing was signed in. You can close this page.")


class DeviceCompletion:
    """The device flow's finish at /oidc/callback."""

    def __init__(self, device: DeviceSignIn) -> None:
        self._device = device

    async def complete(
        self, request: Request[Any, Any, State], login: LoginState, who: Identity
    ) -> Response[Any]:
        approval = await self._device.approve(str(login.payload.get("user_code", "")), who)
        if not approval.approved:
            return _done_page(request, "Sign-in denied", approval.message, status=403)
        detail = f"Signed in as {approval.member} ({approval.tenant}). Return to Claude Code."
        return _done_page(request, "You are signed in", detail)

    async def fail(self, request: Request[Any, Any, State], login: LoginState, message: str) -> Response[Any]:
        code = str(login.payload.get("user_code", ""))
        await self._device.deny(code, reason=message[:200])
        return error_page("Sign-in failed", f"Sign-in failed: {message}. Run /login in Claude Code again.")


# -- bearer endpoints: managed settings and the telemetry relay -------------------------------------------


def _bearer(request: Request[Any, Any, State]) -> str:
    auth = request.headers.get("authorization") or ""
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    raise AuthenticationError("missing bearer token: sign in with /login", should_retry=False)


@get("/managed/settings", include_in_schema=False, name="managed_settings")
async def managed_settings(request: Request[Any, Any, State]) -> Response[Any]:
    """The signed-in member's Claude Code managed settings: their tenant's document with their IdP groups'
    layered on top; ETag = the checksum, `If-None-Match` -> 304, no policy -> 404."""
    members: MemberTokens = request.app.state.members
    token = _bearer(request)
    if not looks_like_token(token):
        raise AuthenticationError("managed settings are for signed-in members: sign in with /login")
    try:
        claims = members.verify(token)
    except InvalidToken as exc:
        raise AuthenticationError(str(exc), should_retry=False) from None
    found = members.managed_settings(claims)
    if found is None:
        return Response({"error": "no managed settings for this member"}, status_code=404, headers=NO_STORE)
    etag = f'"{found.checksum}"'
    wanted = request.headers.get("if-none-match")
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if wanted and wanted != "*" and found.checksum in {v.strip().strip('"') for v in wanted.split(",")}:
        return Response(b"", status_code=304, headers=headers)
    return Response(
        {"uuid": found.uuid, "checksum": found.checksum, "settings": found.settings}, headers=headers
    )


async def _relay(request: Request[Any, Any, State], signal: str) -> Response[Any]:
    # Only callers the gateway knows (a minted token or a proxy key) may send telemetry through us.
    await request.app.state.gateway.authenticate(request.headers)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > TELEMETRY_MAX_BYTES:
        raise RequestTooLargeError("telemetry batch is too large")
    body = await request.body()
    if len(body) > TELEMETRY_MAX_BYTES:
        raise RequestTooLargeError("telemetry batch is too large")
    if not body:
        raise InvalidRequestError("empty telemetry batch")
    request.app.state.telemetry.accept(signal, body, request.headers.get("content-type"))
    return Response({"partialSuccess": {}}, status_code=200)


TELEMETRY_MAX_BYTES = 4 * 1024 * 1024


@post("/v1/metrics", include_in_schema=False, status_code=200)
async def otlp_metrics(request: Request[Any, Any, State]) -> Response[Any]:
    return await _relay(request, "metrics")


@post("/v1/logs", include_in_schema=False, status_code=200)
async def otlp_logs(request: Request[Any, Any, State]) -> Response[Any]:
    return await _relay(request, "logs")


@post("/v1/traces", include_in_schema=False, status_code=200)
async def otlp_traces(request: Request[Any, Any, State]) -> Response[Any]:
    return await _relay(request, "traces")


SIGNIN_ROUTES = [
    authorization_server_metadata,
    device_authorization,
    token,
    revoke,
    device_page,
    device_continue,
    device_deny,
    managed_settings,
    otlp_metrics,
    otlp_logs,
    otlp_traces,
]
