"""Every admin page, at 1280 px and at 390 px: no sideways scroll on the phone, zero serious or critical
axe-core violations, the security headers on the page and its static files, no script or CSP error, and a
screenshot of each at both widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.site import (
    DESKTOP,
    PHONE,
    Site,
    assert_clean,
    axe_violations,
    db_url,
    new_page,
    seed_site,
    shot,
    sideways_overflow,
)
from tests.fixtures.app import LiveRouter

__all__ = ["db_url"]

pytestmark = pytest.mark.browser


def page_urls(page: Any, site: Site) -> dict[str, str]:
    """Every admin page of the seeded service, found by following its own links."""
    base = site.base

    def first_href(url: str, selector: str) -> str:
        page.goto(url)
        href = page.locator(selector).first.get_attribute("href")
        assert isinstance(href, str) and href, f"no link {selector} on {url}"
        return href

    tenant = first_href(f"{base}/admin/tenants", "main table a[href^='/admin/tenants/']")
    key = first_href(f"{base}{tenant}", "main a[href*='/keys/']")
    provider = first_href(f"{base}/admin/providers", "main a[href^='/admin/providers/']")
    deployment = first_href(f"{base}/admin/providers", "main a[href^='/admin/deployments/']")
    chain = first_href(f"{base}/admin/chains", "main a[href^='/admin/chains/']")
    request = first_href(f"{base}/admin/usage?range=today", "main a[href^='/admin/requests/']")
    return {
        "dashboard": "/admin",
        "tenants": "/admin/tenants",
        "tenant": tenant,
        "tenant-delete": f"{tenant}/delete",
        "key": key,
        "keys": "/admin/keys",
        "rules": "/admin/rules",
        "providers": "/admin/providers",
        "provider": provider,
        "deployment": deployment,
        "chains": "/admin/chains",
        "chain": chain,
        "usage": "/admin/usage?range=today",
        "request": request,
        "health": "/admin/health",
        "audit": "/admin/audit",
        "alerts": "/admin/alerts",
        "sign-in": "/admin/sign-in",
        "users": "/admin/users",
        "not-found": "/admin/no-such-page",
    }


def test_every_admin_page_fits_a_phone_passes_axe_and_sends_its_headers(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    reply = live_router.client(site.key).messages.create(
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.content
    context, page = new_page(chromium, site)
    for _ in range(50):  # the usage writer works in batches: wait for the request's row
        page.goto(f"{site.base}/admin/usage?range=today")
        if page.locator("main a[href^='/admin/requests/']").count():
            break
        page.wait_for_timeout(200)
    urls = page_urls(page, site)
    failures: list[str] = []
    for name, path in urls.items():
        for label, viewport in (("1280", DESKTOP), ("390", PHONE)):
            page.set_viewport_size(viewport)
            response = page.goto(f"{site.base}{path}")
            assert response is not None
            headers = response.headers
            csp = headers.get("content-security-policy", "")
            if not all(
                part in csp for part in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'")
            ):
                failures.append(f"{name}: Content-Security-Policy is {csp!r}")
            if "unsafe-inline" in csp or "unsafe-eval" in csp:
                failures.append(f"{name}: Content-Security-Policy allows inline script or eval")
            if headers.get("x-frame-options") != "DENY" or headers.get("cache-control") != "no-store":
                failures.append(f"{name}: framing or caching headers missing")
            if headers.get("x-content-type-options") != "nosniff":
                failures.append(f"{name}: no nosniff")
            if label == "390" and (overflow := sideways_overflow(page)) > 0:
                failures.append(f"{name}: scrolls {overflow}px sideways at 390 px")
            for violation in axe_violations(page):
                failures.append(f"{name} at {label}: axe {violation}")
            shot(page, screenshots, f"page-{name}-{label}")
    assert failures == [], "\n".join(failures)
    assert_clean(page)
    context.close()

    # Signed out: the sign-in page at both widths.
    context, page = new_page(chromium, viewport=PHONE)
    page.goto(f"{site.base}/admin/login")
    assert sideways_overflow(page) == 0
    failures += [f"login: axe {v}" for v in axe_violations(page)]
    shot(page, screenshots, "page-login-390")
    page.set_viewport_size(DESKTOP)
    shot(page, screenshots, "page-login-1280")
    assert_clean(page)
    context.close()

    with httpx.Client(base_url=site.base) as http:
        for asset in ("admin.css", "admin.js", "htmx.min.js"):
            answer = http.get(f"/admin/static/{asset}")
            assert answer.status_code == 200
            assert answer.headers["x-content-type-options"] == "nosniff", asset
    assert failures == [], "\n".join(failures)
