"""/me in the real browser, signed in through the real IdP on loopback: a member's keys (self-service when the
tenant allows it), this month's usage and cost, remaining budget and the export lines for Claude Code."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from router.store.db import Database
from router.store.member_pages import set_member_self_service
from tests.browser.site import SEED, new_page
from tests.fakes.oidc import PASSWORD, TestIdp
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async

pytestmark = pytest.mark.browser

CONFIG = (
    SEED
    + """
tenants:
  - name: acme
    limits: {budgets: {day: 10, month: 100}}
    member_budgets: {alice@example.com: {week: 5}}
  - {name: globex}
sso:
  members:
    - {group: engineering, tenant: acme}
    - {group: sales, tenant: globex}
"""
)


@pytest.fixture
def me_router(start_router: Callable[..., LiveRouter], oidc_idp: TestIdp) -> LiveRouter:
    settings = oidc_idp.settings("")
    settings.pop("public_url")
    live = start_router(**settings)
    live.apply(CONFIG)

    async def allow() -> None:
        db = Database(live.settings.database_url)
        try:
            async with db.transaction() as session:
                await set_member_self_service(session, "acme", True, actor="test")
        finally:
            await db.dispose()

    run_async(allow())
    return live


def sign_in_at_me(page: Any, live: LiveRouter, user: str) -> None:
    page.goto(f"{live.base_url}/me")
    page.locator("#me-sign-in").click()
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_a_member_issues_a_key_uses_it_and_sees_the_usage(chromium: Any, me_router: LiveRouter) -> None:
    context, page = new_page(chromium)
    try:
        sign_in_at_me(page, me_router, "alice")
        page.wait_for_url(re.compile(r"/me$"))
        assert "alice@example.com" in page.content() and "No keys in your name yet" in page.content()
        page.get_by_role("button", name="Issue a new key").click()
        lines = page.locator("#export-lines").inner_text()
        assert f"export ANTHROPIC_BASE_URL={me_router.base_url}" in lines
        key = re.search(r"export ANTHROPIC_API_KEY=(sk-rt-\S+)", lines)
        assert key is not None
        reply = me_router.client(key.group(1)).messages.create(
            model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.content
        deadline = time.monotonic() + 10
        while True:
            page.goto(f"{me_router.base_url}/me")
            requests = page.locator("[id^=requests-]").first.inner_text()
            if requests == "1" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert requests == "1"
        assert "of its monthly budget left" in page.content()
        # Rotate: a new key is shown, the old one stops working.
        page.get_by_role("button", name="Rotate").click()
        rotated = re.search(
            r"export ANTHROPIC_API_KEY=(sk-rt-\S+)", page.locator("#export-lines").inner_text()
        )
        assert rotated is not None and rotated.group(1) != key.group(1)
        with pytest.raises(anthropic.AuthenticationError):
            me_router.client(key.group(1)).messages.create(
                model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        context.close()


def test_without_self_service_members_only_see_their_keys(chromium: Any, me_router: LiveRouter) -> None:
    admin_issued = me_router.key("globex", "bob@example.com")
    assert admin_issued
    context, page = new_page(chromium)
    try:
        sign_in_at_me(page, me_router, "bob")
        page.wait_for_url(re.compile(r"/me$"))
        assert "globex" in page.content() and "acme" not in page.content()
        assert page.get_by_role("button", name="Issue a new key").count() == 0
        assert admin_issued[:12] in page.content()
        assert "Your team's admins issue keys for you" in page.content()
    finally:
        context.close()


def test_people_in_no_member_group_are_refused(
    chromium: Any, me_router: LiveRouter, oidc_idp: TestIdp
) -> None:
    from tests.fakes.oidc import IdpUser, default_users

    oidc_idp.set_users([*default_users(), IdpUser("dave", ["contractors"])])
    context, page = new_page(chromium)
    try:
        sign_in_at_me(page, me_router, "dave")
        assert "no group that may use this router" in page.content()
    finally:
        context.close()


def test_a_member_sees_what_is_left_of_each_budget_that_applies_to_them(
    chromium: Any, me_router: LiveRouter
) -> None:
    """Their team's day and month budgets and their own week budget, each with its UTC reset."""
    context, page = new_page(chromium)
    try:
        sign_in_at_me(page, me_router, "alice")
        page.wait_for_url(re.compile(r"/me$"))
        table = page.locator("table", has=page.get_by_role("columnheader", name="Window (UTC)"))
        rows = [r.split("\t") for r in table.locator("tbody tr").all_inner_texts()]
        assert [(r[0].strip(), r[1].strip(), r[2].strip(), r[4].strip()) for r in rows] == [
            ("your team", "day", "$10.00", "$10.00"),
            ("your team", "month", "$100.00", "$100.00"),
            ("you (all your keys)", "week", "$5.00", "$5.00"),
        ]
        assert all(r[5].strip().endswith("00:00 UTC") for r in rows)
    finally:
        context.close()
