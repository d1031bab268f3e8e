"""Budgets in a real browser: on the tenant page an admin gives a member a daily budget (a bad amount comes
back beside its field), the member's key is refused once that day's budget is spent, and the page shows the
spend against it, with the reset at the next 00:00 UTC. The page passes axe and fits a phone's width."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.browser.site import (
    PHONE,
    assert_clean,
    axe_violations,
    new_page,
    seed_site,
    shot,
    sideways_overflow,
)
from tests.fixtures.app import LiveRouter

pytestmark = pytest.mark.browser


def _ask(live: LiveRouter, key: str) -> Any:
    return live.client(key).messages.create(
        model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    )


def test_an_admin_sets_a_members_daily_budget_that_refuses_once_spent(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    try:
        page.goto(f"{site.base}/admin/tenants")
        page.get_by_role("link", name="acme", exact=True).click()
        page.wait_for_url(re.compile(r"/admin/tenants/\d+$"))
        budgets = page.locator("section", has=page.get_by_role("heading", name="Budgets", exact=True))
        assert "No budgets." in budgets.inner_text()

        budgets.get_by_label("Budget of member").fill("ann@example.com")
        budgets.get_by_label("Window").select_option("day")
        budgets.get_by_label("Amount (USD)").fill("-5")
        budgets.get_by_role("button", name="Set budget").click()
        page.wait_for_load_state()
        amount = page.get_by_label("Amount (USD)")
        assert amount.get_attribute("aria-invalid") == "true"
        assert "Amount (USD) must be" in page.locator("#budget-amount_usd-err").inner_text()
        assert (
            page.get_by_label("Budget of member").input_value() == "ann@example.com"
        )  # what was typed stays

        amount.fill("0.000001")
        page.get_by_role("button", name="Set budget").click()
        page.wait_for_url(re.compile(r"notice=saved"))
        row = page.get_by_role("row", name=re.compile("member ann@example.com"))
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d 00:00")
        assert "day" in row.inner_text() and f"{tomorrow} UTC" in row.inner_text()

        live_router.wait_for_config()
        assert _ask(live_router, site.key).content  # nothing spent yet today: served
        deadline = time.monotonic() + 15
        while True:  # the recorder writes the spend off the request path; the limiter already counted it
            try:
                _ask(live_router, site.key)
            except anthropic.RateLimitError as refused:
                assert "daily budget" in str(refused)
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)

        # The page reads the recorded spend, which the usage writer stores off the request path: on a busy
        # machine the refusal can come before the write, so the page is given a few reloads to catch up.
        spent = re.compile(r"\$0\.00\d* \(\d{3,}%\)|100%")
        deadline = time.monotonic() + 20
        while True:
            page.reload()
            row = page.get_by_role("row", name=re.compile("member ann@example.com"))
            if spent.search(row.inner_text()) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert spent.search(row.inner_text()), row.inner_text()
        assert axe_violations(page) == []
        shot(page, screenshots, "tenant-budgets-desktop")
        tenant_url = page.url
        page.set_viewport_size(PHONE)
        page.goto(tenant_url)
        assert sideways_overflow(page) == 0
        assert axe_violations(page) == []
        assert_clean(page)
    finally:
        context.close()
