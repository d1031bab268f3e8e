"""The alerts page in a real browser: a form error shown beside its field, an alert created with a signed
webhook (its URL never shown back), a test message and real spend delivered to a receiver on loopback and
appearing in the recent deliveries as the table refreshes itself; axe-clean, and no sideways scroll on a
phone."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.site import (
    PHONE,
    assert_clean,
    axe_violations,
    db_url,
    new_page,
    seed_site,
    shot,
    sideways_overflow,
)
from tests.fakes import Reply
from tests.fakes.webhook import WebhookReceiver, webhook
from tests.fixtures.app import LiveRouter

__all__ = ["db_url", "webhook"]

pytestmark = pytest.mark.browser

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
prices:
  - {target: oai/gpt-4.1, input_per_mtok: 10.0, output_per_mtok: 0.0}
rules:
  - {match: "*", target: oai/gpt-4.1}
tenants:
  - {name: acme, limits: {budget_usd: 0.05}}
"""
TOKEN = "T0-B1-slack-path-token"


def test_create_an_alert_and_watch_its_deliveries_arrive(
    chromium: Any, start_router: Callable[..., LiveRouter], webhook: WebhookReceiver, screenshots: Path
) -> None:
    live = start_router(alert_interval=0.2, alert_budget_interval=0.2)
    site = seed_site(live, config=CONFIG)
    context, page = new_page(chromium, site)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{site.base}/admin/alerts")
    assert page.get_by_role("link", name="Alerts").get_attribute("aria-current") == "page"
    assert "No alerts have fired yet." in page.locator("#alert-deliveries").inner_text()

    hook = webhook.url(f"/services/{TOKEN}")
    page.get_by_label("Name").fill("spend")
    page.get_by_label("Webhook URL").fill(hook)
    page.get_by_label("Signing secret (optional)").fill("browser-shared-secret")
    page.get_by_label("Thresholds (%)").fill("50, lots")
    page.get_by_role("button", name="Create alert").click()
    error = page.locator("#newa-thresholds-err")
    error.wait_for()
    assert "Thresholds are percentages such as 50, 80, 100" in error.inner_text()
    assert page.get_by_label("Thresholds (%)").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Webhook URL").input_value() == ""  # never echoed back
    assert TOKEN not in page.content()

    page.get_by_label("Webhook URL").fill(hook)
    page.get_by_label("Signing secret (optional)").fill("browser-shared-secret")
    page.get_by_label("Thresholds (%)").fill("50, 80")
    page.get_by_role("button", name="Create alert").click()
    page.wait_for_url(re.compile(r"/admin/alerts/\d+\?notice=created$"))
    assert "messages are signed" in page.locator("main").inner_text()
    assert TOKEN not in page.content() and "browser-shared-secret" not in page.content()
    assert axe_violations(page) == []

    page.get_by_role("button", name="Send a test message").click()
    page.wait_for_url(re.compile(r"notice=test_queued"))
    row = page.locator("#alert-deliveries tbody tr", has_text="test")
    row.get_by_text("delivered").wait_for(timeout=15_000)  # the table refreshes itself every 5 s
    assert webhook.delivered()[0].path == f"/services/{TOKEN}"

    # Real requests spend 60 % of acme's budget: the 50 % threshold fires and shows up in place.
    live.upstream.set_default(Reply(text="ok", input_tokens=1000, output_tokens=1))
    client = live.client(site.key)
    for _ in range(3):
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    fired = page.locator("#alert-deliveries tbody tr", has_text="tenant:acme:month")
    fired.get_by_text("delivered").wait_for(timeout=15_000)
    assert "50%" in fired.inner_text() and "60%" in fired.inner_text()
    shot(page, screenshots, "alert-1280")

    page.goto(f"{site.base}/admin/alerts")
    listing = page.locator("main table").first.inner_text()
    assert (
        "spend" in listing
        and "50%, 80%" in listing
        and f"127.0.0.1:{webhook.server.server_address[1]}" in listing
    )
    assert axe_violations(page) == []
    assert_clean(page)
    context.close()

    phone_context, phone = new_page(chromium, site, viewport=PHONE)
    for url in ("/admin/alerts", page.url.replace(site.base, "")):
        phone.goto(f"{site.base}{url}")
        assert sideways_overflow(phone) == 0, url
    shot(phone, screenshots, "alerts-390")
    assert_clean(phone)
    phone_context.close()
