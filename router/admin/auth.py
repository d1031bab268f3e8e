"""The admin guard: a server-side session, the route's access level for the caller's role, then CSRF.

The guard and the exception handlers are attached to the /admin router only, so the gateway's /v1 never sees
an admin cookie check, a CSRF check or an HTML error page. Role checks live here, not in handlers: every
route's access level is in router/admin/access.py, decided by router/identity/roles.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from router.admin.access import TENANT_FILTERED, named_tenant, normal_path, route_access
from router.admin.security import CSRF_FIELD, CSRF_HEADER, PRE_SESSION_COOKIE, SESSION_COOKIE, AdminKeys
from router.identity.roles import Access, Decision, Principal, decide
from router.identity.session_cache import SessionCache, SignedIn

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/admin/login"
_STATE_KEY = "admin_signed_in"


class NotSignedInError(HTTPException):
    status_code = 401
    detail = "Sign in required"


class CsrfRejectedError(HTTPException):
    status_code = 403
    detail = "Missing or invalid CSRF token"


class RoleForbiddenError(HTTPException):
    status_code = 403
    detail = "Your role does not allow this."


class AdminNotFoundError(NotFoundException):
    """An object named in an admin URL does not exist (or belongs to a tenant the caller cannot see)."""


class SendElsewhereError(HTTPException):
    """Not an error: a scoped admin asked for a page that shows them one of their tenants instead."""

    status_code = 303

    def __init__(self, location: str) -> None:
        super().__init__(detail="See other")
        self.location = location


def admin_keys(connection: ASGIConnection[Any, Any, Any, Any]) -> AdminKeys:
    """The keys of the admin router this request reached (carried in its opt, so each app has its own)."""
    keys: AdminKeys = connection.route_handler.opt["admin_keys"]
    return keys


def session_cache(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionCache:
    # On the app's state, not in the router's opt: Litestar copies opt per handler, and the one cache the
    # config-version listener empties must be the one every handler reads.
    cache: SessionCache = connection.app.state["admin_sessions"]
    return cache


def current_session(connection: ASGIConnection[Any, Any, Any, Any]) -> SignedIn | None:
    """The signed-in admin of this request, as the guard resolved it (None when not signed in)."""
    found = connection.scope.get("state", {}).get(_STATE_KEY)
    return found if isinstance(found, SignedIn) else None


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    session = current_session(connection)
    return session.principal if session is not None else None


def csrf_nonce(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The nonce a CSRF token is bound to: the session's, else the pre-session cookie's."""
    session = current_session(connection)
    if session is not None:
        return session.nonce
    return connection.cookies.get(PRE_SESSION_COOKIE) or None


def is_htmx(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return connection.headers.get("hx-request") == "true"


async def resolve_session(connection: ASGIConnection[Any, Any, Any, Any]) -> SignedIn | None:
    signed_in = await session_cache(connection).resolve(
        connection.app.state["db"], connection.cookies.get(SESSION_COOKIE)
    )
    if signed_in is not None:
        connection.scope.setdefault("state", {})[_STATE_KEY] = signed_in
    return signed_in


def _scoped_destination(connection: ASGIConnection[Any, Any, Any, Any], principal: Principal) -> str | None:
    """Where a tenant-limited principal goes instead of a page that would show every tenant."""
    if not principal.scoped:
        return None
    template = normal_path(str(connection.scope.get("path_template", "")))
    if template == "/admin":
        return "/admin/tenants"
    if template in TENANT_FILTERED and principal.tenant_ids:
        query = dict(connection.query_params.items())
        query["tenant_id"] = str(min(principal.tenant_ids))
        return f"{connection.url.path}?{urlencode(query)}"
    return None


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Signed in, allowed by role for the named tenant, and a valid CSRF token on unsafe methods."""
    method = str(connection.scope.get("method", "GET"))
    # A route missing from the table is refused to all but owners (and a test names it).
    access = route_access(method, str(connection.scope.get("path_template", ""))) or Access.OWNER
    if handler.opt.get("public"):
        access = Access.PUBLIC
    signed_in = await resolve_session(connection)
    form = None
    if method not in SAFE_METHODS and isinstance(connection, Request):
        form = await connection.form()
    if access is not Access.PUBLIC:
        if signed_in is None:
            raise NotSignedInError()
        named, tenant_id = named_tenant(connection, form)
        decision = decide(signed_in.principal, access, tenant_id if named else None)
        if decision is Decision.NOT_FOUND:
            raise AdminNotFoundError("There is no such page.")
        if not named and method in SAFE_METHODS:
            destination = _scoped_destination(connection, signed_in.principal)
            if destination is not None:
                raise SendElsewhereError(destination)
        if decision is Decision.FORBIDDEN:
            raise RoleForbiddenError()
    if method in SAFE_METHODS:
        return
    token = connection.headers.get(CSRF_HEADER)
    if not token and form is not None:
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not admin_keys(connection).csrf_valid(csrf_nonce(connection), token):
        raise CsrfRejectedError()


def _safe_next(path: str) -> str:
    """Only same-site admin paths are valid `next` targets (no open redirect)."""
    return path if path.startswith("/admin") and not path.startswith("//") else "/admin"


def login_url(request: Request[Any, Any, Any]) -> str:
    """The sign-in page, coming back afterwards to this page (for htmx: the page the fragment was on)."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    current = request.headers.get("hx-current-url") if is_htmx(request) else None
    if current:
        parts = urlsplit(current)
        target = parts.path + ("?" + parts.query if parts.query else "")
    return f"{LOGIN_PATH}?next={quote(_safe_next(target), safe='/')}"


def handle_not_signed_in(request: Request[Any, Any, Any], _exc: NotSignedInError) -> Response[Any]:
    if is_htmx(request):
        # htmx follows HX-Redirect with a full page load; the 401 keeps non-htmx scripts honest.
        return Response(content="", status_code=401, headers={"HX-Redirect": login_url(request)})
    return Redirect(login_url(request), status_code=303)


def handle_send_elsewhere(request: Request[Any, Any, Any], exc: SendElsewhereError) -> Response[Any]:
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": exc.location})
    return Redirect(exc.location, status_code=303)
