"""The whole admin flow in a real browser against the real service (uvicorn, SQLite, fake upstream):
first-run setup, sign in, tenant, provider, rule, key, a call through /v1/messages with the anthropic SDK,
then the request in the usage page and the changes in the audit log."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from router.admin import first_run_setup_token
from router.store.db import Database
from tests.fixtures.app import SECRET, LiveRouter
from tests.fixtures.db import run_async

pytestmark = pytest.mark.browser

PASSWORD = "browser-test-password"


def setup_token(live: LiveRouter) -> str:
    async def run() -> str | None:
        db = Database(live.settings.database_url)
        try:
            return await first_run_setup_token(db, SECRET)
        finally:
            await db.dispose()

    token = run_async(run())
    assert token, "a fresh database must offer the first-run setup link"
    return token


def shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_admin_configures_routing_and_sees_the_request(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    base = live_router.base_url
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # First run: the setup link creates the first admin and signs in.
    page.goto(f"{base}/admin/setup?token={setup_token(live_router)}")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and sign in").click()
    page.wait_for_url(re.compile(r"/admin(\?.*)?$"))

    # Sign out and in again through the sign-in form.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/admin/login"))
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("Wrong user name or password").is_visible()
    shot(page, screenshots, "01-login-error")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/?$"))

    # A tenant.
    page.goto(f"{base}/admin/tenants")
    page.get_by_label("Name", exact=True).fill("team-a")
    page.get_by_role("button", name="Create tenant").click()
    page.wait_for_url(re.compile(r"/admin/tenants/\d+"))
    tenant_url = page.url.split("?")[0]

    # A provider pointing at the fake upstream; the credential never comes back.
    page.goto(f"{base}/admin/providers")
    form = page.locator("form[action='/admin/providers']")
    form.get_by_label("Name").fill("fake")
    form.get_by_label("Kind").fill("openai")
    form.get_by_label("API base URL").fill(f"{live_router.upstream.base_url}/v1")
    form.get_by_label("API key").fill("sk-upstream-secret-000")
    form.get_by_role("button", name="Create provider").click()
    page.wait_for_url(re.compile(r"/admin/providers/\d+"))
    assert "sk-upstream-secret-000" not in page.content()
    page.get_by_label("Model").fill("gpt-4.1-mini")
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#test-result .flash")
    result.wait_for()
    assert "Connection works." in result.inner_text(), result.inner_text()
    shot(page, screenshots, "02-provider")

    # A global rule, validated as it is typed, added with htmx.
    page.goto(f"{base}/admin/rules")
    section = page.locator("#level-global")
    section.get_by_text("Add a rule").click()
    section.get_by_label("Match (model name, glob, or re:regex)").fill("claude-*")
    section.get_by_label("Target (PROVIDER/MODEL or deployment/NAME)").fill("nope/gpt-4.1-mini")
    section.locator(".validation").get_by_text("unknown provider").wait_for()
    section.get_by_label("Target (PROVIDER/MODEL or deployment/NAME)").fill("fake/gpt-4.1-mini")
    section.locator(".validation").get_by_text("Looks valid").wait_for()
    section.get_by_role("button", name="Add rule").click()
    page.locator("#level-global tr.editable").first.wait_for()
    assert "fake/gpt-4.1-mini" in page.locator("#level-global table").inner_text()

    # Inline edit with an unknown target: the 422 answer swaps in the row with the error next to the field.
    page.locator("#level-global tr.editable").first.click()
    editing = page.locator("#level-global tr.editing")
    editing.get_by_label("Target (PROVIDER/MODEL or deployment/NAME)").fill("ghost/model")
    editing.get_by_role("button", name="Save").click()
    page.locator("#level-global tr.editing .field.has-error").get_by_text("Unknown provider").wait_for()
    assert page.locator("#level-global tr.editing input[name=target]").input_value() == "ghost/model"
    shot(page, screenshots, "03a-rule-error")
    page.locator("#level-global tr.editing").get_by_role("button", name="Cancel").click()
    page.locator("#level-global tr.editable").first.wait_for()

    # Inline edit: click the row, change the description, save; the row swaps back.
    page.locator("#level-global tr.editable").first.click()
    page.locator("#level-global tr.editing").get_by_label("Description").fill("all Claude models")
    page.locator("#level-global tr.editing").get_by_role("button", name="Save").click()
    page.locator("#level-global tr.editable", has_text="all Claude models").wait_for()

    # Try it: which rule matches.
    page.get_by_label("Requested model").fill("claude-sonnet-4")
    page.get_by_role("button", name="Explain").click()
    page.locator("#try-result").get_by_text("fake/gpt-4.1-mini").first.wait_for()
    shot(page, screenshots, "03-rules")

    # A key for a member, shown once with the Claude Code settings.
    page.goto(tenant_url)
    page.get_by_text("Issue a key").click()
    page.get_by_label("Member", exact=True).fill("ann@example.com")
    page.get_by_role("button", name="Issue key").click()
    key = page.locator("#issued-key").input_value()
    assert key.startswith("sk-rt-")
    assert f"export ANTHROPIC_AUTH_TOKEN={key}" in page.locator("#issued-env").inner_text()
    assert f"export ANTHROPIC_BASE_URL={base}" in page.locator("#issued-env").inner_text()
    shot(page, screenshots, "04-key-issued")

    # The key works through /v1/messages with the anthropic SDK.
    live_router.wait_for_config()
    reply = live_router.client(key).messages.create(
        model="claude-sonnet-4", max_tokens=50, messages=[{"role": "user", "content": "hello"}]
    )
    assert reply.content[0].type == "text"
    assert live_router.upstream.requests_for(kind="openai", model="gpt-4.1-mini")

    # The request shows in the usage page (the recorder writes in batches: poll until it is there, then load
    # once more so every table on the page was read after the write).
    deadline = time.monotonic() + 10
    while "claude-sonnet-4" not in page.locator("main").inner_text():
        assert time.monotonic() < deadline, "the request never reached the usage page"
        time.sleep(0.3)
        page.goto(f"{base}/admin/usage?range=today")
    page.goto(f"{base}/admin/usage?range=today")
    by_model = page.locator("section", has=page.get_by_role("heading", name="By requested model"))
    assert "claude-sonnet-4" in by_model.inner_text()
    assert "fake/gpt-4.1-mini" in page.locator("table").last.inner_text()
    assert page.locator(".chart rect.bar[height]").count() > 0
    shot(page, screenshots, "05-usage")

    # Phone width: the layout still works (tables scroll inside their wrappers).
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/admin/tenants")
    shot(page, screenshots, "06-phone-tenants")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The audit log names alice for every change.
    page.goto(f"{base}/admin/audit")
    audit = page.locator("main table").inner_text()
    shot(page, screenshots, "07-audit")
    for expected in ("team-a", "fake", "claude-*", "alice"):
        assert expected in audit, f"{expected!r} missing from the audit log"
    assert errors == [], errors
    context.close()
