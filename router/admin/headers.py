"""The security headers of every admin page, error page and static file."""

from __future__ import annotations

from typing import Any

from litestar import Response

# Scripts and styles only from our own vendored files: no inline script, no eval (htmx runs with allowEval
# off), no third-party origin; the page is never framed and forms post only back to us.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Nothing under /admin may be cached by a shared proxy (pages carry CSRF tokens and tenant data); the page is
# never framed (clickjacking) and never sniffed into another content type.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "public, max-age=300",
}


async def static_headers(response: Response[Any]) -> Response[Any]:
    """Static files are never sniffed into another type (a .js served as HTML, or the reverse)."""
    for name, value in STATIC_HEADERS.items():
        response.headers[name] = value
    return response
