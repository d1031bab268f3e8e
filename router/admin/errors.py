"""The admin router's error pages: readable HTML (or a flash partial for htmx), never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Template

from router.admin.auth import (
    AdminNotFoundError,
    CsrfRejectedError,
    NotSignedInError,
    RoleForbiddenError,
    SendElsewhereError,
    handle_not_signed_in,
    handle_send_elsewhere,
    is_htmx,
)
from router.admin.headers import PAGE_HEADERS
from router.admin.web import render

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]


def error_page(request: AnyRequest, status: int, title: str, message: str) -> Template:
    if is_htmx(request):
        # Put the message in the page's flash area instead of inside whatever element was being swapped.
        return render(
            request,
            "admin/partials/flash.html",
            {"level": "error", "message": message},
            status=status,
            headers={**PAGE_HEADERS, "HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )
    return render(
        request,
        "admin/error.html",
        {"title": title, "message": message, "status": status},
        status=status,
        headers=PAGE_HEADERS,
    )


def handle_csrf(request: AnyRequest, _exc: CsrfRejectedError) -> Template:
    return error_page(
        request,
        403,
        "Form expired",
        "This form's security token is missing or no longer valid. Reload the page and try again.",
    )


def handle_forbidden(request: AnyRequest, exc: RoleForbiddenError) -> Template:
    # A handler may say which part of the form was beyond the role (e.g. a provider's credential).
    detail = str(exc.detail or "")
    if not detail or detail == RoleForbiddenError.detail:
        detail = "Your role does not allow this. Ask an owner for access."
    return error_page(request, 403, "Not allowed", detail)


def handle_not_found(request: AnyRequest, exc: NotFoundException) -> Template:
    detail = exc.detail if isinstance(exc, AdminNotFoundError) else "There is no such page."
    return error_page(request, 404, "Not found", detail)


def handle_http_error(request: AnyRequest, exc: HTTPException) -> Template:
    """Other framework errors (a malformed form body, a bad query parameter) as a readable page."""
    title = "Bad request" if exc.status_code < 500 else "Server error"
    return error_page(request, exc.status_code, title, str(exc.detail))


def handle_unexpected(request: AnyRequest, exc: Exception) -> Response[Any]:
    log.exception("admin page error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500, "Server error", "Something went wrong on our side; the error was logged.")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    NotSignedInError: handle_not_signed_in,
    CsrfRejectedError: handle_csrf,
    RoleForbiddenError: handle_forbidden,
    SendElsewhereError: handle_send_elsewhere,
    NotFoundException: handle_not_found,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}
