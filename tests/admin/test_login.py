"""Sign-in, sign-out, sessions, CSRF and the first-run setup link."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from router.admin import first_run_setup_token
from router.store.db import Database
from tests.admin.conftest import ADMIN_PASSWORD, SECRET, AdminClient


async def test_pages_redirect_to_login_without_a_session(anon: AdminClient) -> None:
    response = await anon.http.get("/admin/tenants?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/tenants%3Fx%3D1"


async def test_htmx_request_without_a_session_gets_hx_redirect(anon: AdminClient) -> None:
    response = await anon.http.get("/admin", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/admin/login?next=/admin"


async def test_htmx_action_after_the_session_is_lost_comes_back_to_the_page_it_was_on(
    anon: AdminClient,
) -> None:
    response = await anon.http.post(
        "/admin/rules/global/validate",
        headers={"HX-Request": "true", "HX-Current-URL": "http://router.test/admin/rules?tenant=2#level-2"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/admin/login?next=/admin/rules%3Ftenant%3D2"
    # Another site's address in the header never becomes the place to go back to.
    foreign = await anon.http.get(
        "/admin/tenants",
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example//evil.example/x"},
        follow_redirects=False,
    )
    assert foreign.headers["hx-redirect"] == "/admin/login?next=/admin"


async def test_sign_in_sets_a_hardened_cookie_and_opens_the_dashboard(anon: AdminClient) -> None:
    await anon.get("/admin/login")
    response = await anon.post(
        "/admin/login", {"username": "root", "password": ADMIN_PASSWORD, "next": "/admin"}
    )
    assert response.status_code == 303
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("router_admin=")
    )
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/admin" in cookie
    assert "Secure" not in cookie
    page = await anon.get("/admin")
    assert page.status_code == 200 and "Dashboard" in page.text and "root" in page.text
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"


async def test_cookie_is_secure_behind_an_https_proxy(anon: AdminClient) -> None:
    await anon.get("/admin/login")
    response = await anon.post(
        "/admin/login",
        {"username": "root", "password": ADMIN_PASSWORD},
        headers={"x-forwarded-proto": "https"},
    )
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("router_admin=")
    )
    assert "Secure" in cookie


async def test_wrong_password_rerenders_the_form_with_the_name_kept(anon: AdminClient) -> None:
    await anon.get("/admin/login")
    response = await anon.post("/admin/login", {"username": "root", "password": "nope-nope"})
    assert response.status_code == 422
    assert "Wrong user name or password" in response.text
    assert 'value="root"' in response.text


async def test_repeated_failures_say_when_to_try_again(anon: AdminClient) -> None:
    await anon.get("/admin/login")
    for _ in range(5):
        response = await anon.post("/admin/login", {"username": "root", "password": "wrong-password"})
    assert response.status_code == 429
    assert "Too many attempts, try again in" in response.text
    # Even the right password is refused while locked.
    response = await anon.post("/admin/login", {"username": "root", "password": ADMIN_PASSWORD})
    assert response.status_code == 429


async def test_login_without_csrf_token_is_refused(anon: AdminClient) -> None:
    await anon.get("/admin/login")
    response = await anon.post("/admin/login", {"username": "root", "password": ADMIN_PASSWORD}, csrf=False)
    assert response.status_code == 403
    assert "security token" in response.text


async def test_state_change_without_csrf_token_is_refused(admin: AdminClient) -> None:
    response = await admin.post("/admin/logout", {}, csrf=False)
    assert response.status_code == 403
    response = await admin.post("/admin/logout", {"_csrf": "forged"}, csrf=False)
    assert response.status_code == 403


async def test_htmx_csrf_failure_is_a_readable_partial(admin: AdminClient) -> None:
    response = await admin.http.post("/admin/logout", headers={"HX-Request": "true", "X-CSRF-Token": "bad"})
    assert response.status_code == 403
    assert response.headers["hx-retarget"] == "#flash"
    assert "security token" in response.text


async def test_sign_out_ends_the_session(admin: AdminClient) -> None:
    response = await admin.post("/admin/logout", {})
    assert response.status_code == 303
    page = await admin.http.get("/admin", follow_redirects=False)
    assert page.status_code == 303


async def test_next_parameter_cannot_redirect_off_site(anon: AdminClient) -> None:
    await anon.get("/admin/login")
    response = await anon.post(
        "/admin/login", {"username": "root", "password": ADMIN_PASSWORD, "next": "https://evil.example/"}
    )
    assert response.headers["location"] == "/admin"


async def test_tampered_session_cookie_is_ignored(admin: AdminClient) -> None:
    value = admin.http.cookies.get("router_admin")
    assert value
    admin.http.cookies.set("router_admin", value[:-2] + "xx", path="/admin")
    page = await admin.http.get("/admin", follow_redirects=False)
    assert page.status_code == 303


async def test_first_run_setup_link_creates_the_first_admin_then_closes(
    app: Litestar, database: Database
) -> None:
    db = database
    token = await first_run_setup_token(db, SECRET)
    assert token
    async with AsyncTestClient(app=app, base_url="http://router.test") as http:
        client = AdminClient(http, db)
        assert (await client.get("/admin/setup?token=wrong")).status_code == 404
        page = await client.get(f"/admin/setup?token={token}")
        assert page.status_code == 200
        bad = await client.post(
            "/admin/setup", {"token": token, "username": "boss", "password": "short", "password2": "short"}
        )
        assert bad.status_code == 422 and "at least 8 characters" in bad.text
        ok = await client.post(
            "/admin/setup",
            {"token": token, "username": "boss", "password": "long enough pw", "password2": "long enough pw"},
        )
        assert ok.status_code == 303
        assert (await client.get("/admin")).status_code == 200
        assert (await client.get(f"/admin/setup?token={token}")).status_code == 404
    assert await first_run_setup_token(db, SECRET) is None


async def test_the_gateway_is_untouched_by_admin_sessions_and_csrf(anon: AdminClient) -> None:
    response = await anon.http.post("/v1/messages", json={"model": "x", "max_tokens": 1, "messages": []})
    assert response.status_code in (401, 403)
    assert response.json()["type"] == "error"
    assert "set-cookie" not in response.headers and "location" not in response.headers


async def test_unknown_admin_pages_are_html_404_and_static_files_still_load(admin: AdminClient) -> None:
    missing = await admin.get("/admin/no/such/page")
    assert missing.status_code == 404 and "There is no such page" in missing.text
    css = await admin.http.get("/admin/static/admin.css")
    assert css.status_code == 200 and "font-family" in css.text
    htmx = await admin.http.get("/admin/static/htmx.min.js")
    assert htmx.status_code == 200
