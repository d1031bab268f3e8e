"""The admin guard (signed-in session + CSRF on every state-changing request) and its error pages.

The guard and the exception handlers are attached to the /admin router only, so the gateway's /v1 never sees
an admin cookie check, a CSRF check or an HTML error page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from router.admin.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    AdminKeys,
    AdminSession,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/admin/login"


class NotSignedInError(HTTPException):
    status_code = 401
    detail = "Sign in required"


class CsrfRejectedError(HTTPException):
    status_code = 403
    detail = "Missing or invalid CSRF token"


class AdminNotFoundError(NotFoundException):
    """An object named in an admin URL does not exist (or belongs to another tenant)."""


def admin_keys(connection: ASGIConnection[Any, Any, Any, Any]) -> AdminKeys:
    """The keys of the admin router this request reached (carried in its opt, so each app has its own)."""
    keys: AdminKeys = connection.route_handler.opt["admin_keys"]
    return keys


def current_session(connection: ASGIConnection[Any, Any, Any, Any]) -> AdminSession | None:
    cached = connection.scope.get("state", {}).get("admin_session")
    if isinstance(cached, AdminSession):
        return cached
    session = admin_keys(connection).read_session(connection.cookies.get(SESSION_COOKIE))
    if session is not None:
        connection.scope.setdefault("state", {})["admin_session"] = session
    return session


def csrf_nonce(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The nonce a CSRF token is bound to: the session's, else the pre-session cookie's."""
    session = current_session(connection)
    if session is not None:
        return session.nonce
    return connection.cookies.get(PRE_SESSION_COOKIE) or None


def is_htmx(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return connection.headers.get("hx-request") == "true"


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Signed-in session required (unless the handler is public); a valid CSRF token on unsafe methods."""
    public = bool(handler.opt.get("public"))
    if not public and current_session(connection) is None:
        raise NotSignedInError()
    method = connection.scope.get("method", "GET")
    if method in SAFE_METHODS:
        return
    token = connection.headers.get(CSRF_HEADER)
    if not token and isinstance(connection, Request):
        form = await connection.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not admin_keys(connection).csrf_valid(csrf_nonce(connection), token):
        raise CsrfRejectedError()


def _safe_next(path: str) -> str:
    """Only same-site admin paths are valid `next` targets (no open redirect)."""
    return path if path.startswith("/admin") and not path.startswith("//") else "/admin"


def login_url(request: Request[Any, Any, Any]) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return f"{LOGIN_PATH}?next={quote(_safe_next(target), safe='/')}"


def handle_not_signed_in(request: Request[Any, Any, Any], _exc: NotSignedInError) -> Response[Any]:
    if is_htmx(request):
        # htmx follows HX-Redirect with a full page load; the 401 keeps non-htmx scripts honest.
        return Response(content="", status_code=401, headers={"HX-Redirect": LOGIN_PATH})
    return Redirect(login_url(request), status_code=303)
