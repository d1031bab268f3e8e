"""Admin sign-in with the company IdP, in the real browser against a real OpenID provider on loopback.

The IdP (panva's oidc-provider, tests/fakes/oidc) has alice (engineering), bob (sales) and carol
(engineering, platform). `sso.admins` maps platform -> owner and engineering -> tenant-admin of acme.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sqlalchemy import update

from router.store.db import Database
from router.store.identity_models import OidcLogin
from tests.browser.site import new_page
from tests.fakes.oidc import PASSWORD, IdpUser, TestIdp, default_users
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async

pytestmark = pytest.mark.browser

CONFIG = """
tenants:
  - name: acme
  - name: globex
sso:
  admins:
    - {group: platform, role: owner}
    - {group: engineering, role: tenant-admin, tenants: [acme]}
"""


@pytest.fixture
def sso_router(start_router: Callable[..., LiveRouter], oidc_idp: TestIdp) -> Iterator[LiveRouter]:
    settings = oidc_idp.settings("")
    settings.pop("public_url")  # start_router makes it the server's own URL
    live = start_router(**settings)
    live.apply(CONFIG)
    yield live


def idp_sign_in(page: Any, live: LiveRouter, user: str, password: str = PASSWORD) -> None:
    page.goto(f"{live.base_url}/admin/login")
    page.locator("#sso-sign-in").click()
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_idp_groups_become_roles(chromium: Any, sso_router: LiveRouter) -> None:
    context, page = new_page(chromium)
    try:
        idp_sign_in(page, sso_router, "carol")
        page.wait_for_url(re.compile(r"/admin/?$"))
        assert "carol@example.com (owner)" in page.locator("header").inner_text()
        assert page.goto(f"{sso_router.base_url}/admin/users").status == 200
    finally:
        context.close()
    context, page = new_page(chromium)
    try:
        idp_sign_in(page, sso_router, "alice")
        # A tenant-admin lands on their tenants, and sees acme only.
        page.wait_for_url(re.compile(r"/admin/tenants$"))
        assert "(tenant-admin)" in page.locator("header").inner_text()
        table = page.locator("main table").inner_text()
        assert "acme" in table and "globex" not in table
        assert page.goto(f"{sso_router.base_url}/admin/users").status == 403
        assert page.goto(f"{sso_router.base_url}/admin/providers").status == 403
    finally:
        context.close()


def test_people_in_no_admin_group_are_refused(chromium: Any, sso_router: LiveRouter) -> None:
    context, page = new_page(chromium)
    try:
        idp_sign_in(page, sso_router, "bob")
        assert "no group that may administer" in page.content()
        assert page.goto(f"{sso_router.base_url}/admin/tenants").url.split("?")[0].endswith("/admin/login")
    finally:
        context.close()


def test_a_user_whose_group_is_removed_loses_access_at_the_next_sign_in(
    chromium: Any, sso_router: LiveRouter, oidc_idp: TestIdp
) -> None:
    context, page = new_page(chromium)
    other_context, other_page = new_page(chromium)
    try:
        idp_sign_in(page, sso_router, "alice")
        page.wait_for_url(re.compile(r"/admin/tenants$"))
        # A second browser of alice's, still signed in.
        idp_sign_in(other_page, sso_router, "alice")
        other_page.wait_for_url(re.compile(r"/admin/tenants$"))
        oidc_idp.set_users(
            [IdpUser("alice", ["sales"]) if u.username == "alice" else u for u in default_users()]
        )
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/admin/login"))
        # Still signed in at the IdP, so no form this time: the IdP answers with her new groups at once.
        page.locator("#sso-sign-in").click()
        page.wait_for_load_state()
        assert "no group that may administer" in page.content()
        # And the session in her other browser has ended too.
        response = other_page.goto(f"{sso_router.base_url}/admin/tenants")
        assert response is not None and "/admin/login" in other_page.url
    finally:
        context.close()
        other_context.close()


def _tamper_callback(page: Any, idp: TestIdp, change: Callable[[dict[str, str]], None]) -> None:
    """Rewrite the IdP's redirect back to /oidc/callback before the browser follows it (a browser does not
    route redirects, so the IdP's answer that carries it is fetched here and passed on changed)."""

    def handle(route: Any) -> None:
        response = route.fetch(max_redirects=0)
        # Follow the IdP's own redirects here (with the context's cookies) up to the one back to us.
        for _ in range(10):
            location = response.headers.get("location", "")
            if not location or "/oidc/callback" in location:
                break
            if location.startswith("/"):
                location = idp.issuer + location
            response = page.context.request.get(location, max_redirects=0)
        headers = dict(response.headers)
        location = headers.get("location", "")
        if "/oidc/callback" in location:
            parts = urlsplit(location)
            query = dict(parse_qsl(parts.query))
            change(query)
            headers["location"] = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"
        route.fulfill(response=response, headers=headers)

    page.route(f"{idp.issuer}/**", handle)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda q: q.update(state="forged-state"), "expired"),
        (lambda q: q.update(iss="http://127.0.0.1:1"), "another identity provider"),
    ],
    ids=["state", "issuer"],
)
def test_a_forged_state_or_issuer_is_refused(
    chromium: Any,
    sso_router: LiveRouter,
    oidc_idp: TestIdp,
    change: Callable[[dict[str, str]], None],
    said: str,
) -> None:
    context, page = new_page(chromium)
    try:
        _tamper_callback(page, oidc_idp, change)
        idp_sign_in(page, sso_router, "carol")
        assert said in page.content()
        assert page.goto(f"{sso_router.base_url}/admin/tenants").url.split("?")[0].endswith("/admin/login")
    finally:
        context.close()


def test_a_wrong_nonce_is_refused(chromium: Any, sso_router: LiveRouter) -> None:
    context, page = new_page(chromium)
    try:
        page.goto(f"{sso_router.base_url}/admin/login")
        page.locator("#sso-sign-in").click()
        page.get_by_label("Username").wait_for()

        async def swap_nonce() -> None:
            db = Database(sso_router.settings.database_url)
            try:
                async with db.transaction() as session:
                    await session.execute(update(OidcLogin).values(nonce="not-the-nonce-the-idp-signed"))
            finally:
                await db.dispose()

        run_async(swap_nonce())
        page.get_by_label("Username").fill("carol")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        # Only the nonce differs: Authlib refuses the ID token it signed for another one.
        assert "Sign-in failed" in page.content() and "failed its checks" in page.content()
        assert page.goto(f"{sso_router.base_url}/admin/tenants").url.split("?")[0].endswith("/admin/login")
    finally:
        context.close()


def test_password_sign_in_can_be_switched_off(
    chromium: Any, start_router: Callable[..., LiveRouter], oidc_idp: TestIdp
) -> None:
    settings = oidc_idp.settings("")
    settings.pop("public_url")
    live = start_router(**settings, admin_password_sign_in=False)
    live.apply(CONFIG)
    context, page = new_page(chromium)
    try:
        page.goto(f"{live.base_url}/admin/login")
        assert page.locator("#sso-sign-in").count() == 1
        assert page.get_by_label("Password").count() == 0
        idp_sign_in(page, live, "carol")
        page.wait_for_url(re.compile(r"/admin/?$"))
    finally:
        context.close()
