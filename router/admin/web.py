"""Rendering helpers shared by every admin controller: the common page context, cookies and redirects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from router.admin.auth import admin_keys, csrf_nonce, current_session, is_htmx
from router.admin.security import COOKIE_PATH, PRE_SESSION_COOKIE, SESSION_SECONDS, new_nonce

AnyRequest = Request[Any, Any, Any]

# Short notices a redirect can ask the next page to show (codes, so a URL cannot inject text).
NOTICES = {
    "saved": "Saved.",
    "created": "Created.",
    "deleted": "Deleted.",
    "revoked": "Key revoked.",
    "issued": "Key issued.",
    "rotated": "Key rotated.",
    "reenabled": "Key re-enabled.",
    "signed_out": "Signed out.",
    "welcome": "Admin account created. Welcome!",
    "test_queued": "Test message queued: see the deliveries below.",
    "budget_removed": "Budget removed.",
}


def is_https(request: AnyRequest) -> bool:
    """True when the browser talked HTTPS to us or to the proxy in front (x-forwarded-proto)."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    if forwarded:
        return forwarded.split(",")[0].strip().lower() == "https"
    return request.url.scheme == "https"


def admin_cookie(request: AnyRequest, key: str, value: str, *, max_age: int | None) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        max_age=max_age,
    )


def base_url(request: AnyRequest) -> str:
    """This service's public base URL as the browser sees it (what Claude Code's ANTHROPIC_BASE_URL needs)."""
    scheme = "https" if is_https(request) else request.url.scheme
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    return f"{scheme}://{host.split(',')[0].strip()}"


def render(
    request: AnyRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    cookies: list[Cookie] | None = None,
) -> Template:
    """A page or partial with what every template needs: admin, CSRF token, htmx flag, notice."""
    out_cookies = list(cookies or [])
    nonce = csrf_nonce(request)
    if nonce is None:
        # A visitor without a session: give the sign-in form a CSRF token bound to a fresh cookie.
        nonce = new_nonce()
        out_cookies.append(admin_cookie(request, PRE_SESSION_COOKIE, nonce, max_age=SESSION_SECONDS))
    session = current_session(request)
    full: dict[str, Any] = {
        "admin": session.username if session else None,
        "admin_role": session.principal.role.value if session else None,
        "admin_scoped": bool(session and session.principal.scoped),
        "csrf_token": admin_keys(request).csrf_token(nonce),
        "is_htmx": is_htmx(request),
        "path": request.url.path,
        "notice": NOTICES.get(request.query_params.get("notice", "")),
    }
    full.update(context or {})
    return Template(
        template_name=template, context=full, status_code=status, headers=headers, cookies=out_cookies
    )


def form_page(
    request: AnyRequest,
    template: str,
    context: dict[str, Any],
    *,
    form: Mapping[str, Any],
    errors: Mapping[str, Any] | None,
) -> Template:
    """A page around one form: as first shown (`form`: its defaults or the stored values), or refused and
    shown again with what was typed and each field's problem (`errors`), answered 422."""
    return render(
        request, template, {**context, "form": form, "errors": errors or {}}, status=422 if errors else 200
    )


def see_other(path: str, notice: str | None = None) -> Redirect:
    """303 after a successful form post (the browser then GETs the page: no double submit on reload)."""
    if notice:
        # The notice goes in the query, before any #fragment (a browser never sends the fragment).
        path, hash_mark, fragment = path.partition("#")
        path += ("&" if "?" in path else "?") + f"notice={notice}" + hash_mark + fragment
    return Redirect(path, status_code=303)
