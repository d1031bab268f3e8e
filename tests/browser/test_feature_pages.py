"""Issue 19's features in a real browser: the key lifecycle (rotate with a grace period, revoke and
re-enable, expiry and models), finding keys across tenants, the audit log to the second with links and
filters, the config drift notice, and the targets health page with "test all"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.browser.site import PHONE, assert_clean, db_url, new_page, seed_site, shot, sideways_overflow
from tests.fixtures.app import LiveRouter
from tests.hardening.support import closed_port

__all__ = ["db_url"]

pytestmark = pytest.mark.browser

ASK: dict[str, Any] = {"max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def works(live: LiveRouter, key: str) -> bool:
    live.wait_for_config()
    try:
        live.client(key).messages.create(model="claude-haiku-4-5", **ASK)
    except anthropic.AuthenticationError:
        return False
    return True


def test_rotate_with_grace_revoke_reenable_and_expiry(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{site.base}/admin/keys")
    page.get_by_role("link", name=re.compile(r"sk-rt-")).first.click()
    key_url = page.url
    old_prefix = site.key[:12]
    # An alias names the key beside its prefix (and survives rotation).
    page.get_by_label("Alias").fill("ann's laptop")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"notice=saved"))
    assert "“ann's laptop”" in page.locator("h1").inner_text()
    # Rotate, the old key working for another hour: the new secret is shown once on the tenant page.
    page.get_by_label("Old key keeps working for").select_option("1h")
    page.get_by_role("button", name="Rotate key").click()
    page.wait_for_url(re.compile(r"/admin/tenants/\d+\?notice=rotated$"))
    new_key = page.locator("#issued-key").input_value()
    assert new_key.startswith("sk-rt-") and new_key != site.key
    assert f"It replaces {old_prefix}" in page.locator(".secret-once").inner_text()
    assert page.locator("#keys-title + .table-wrap").get_by_text("ann's laptop").count() == 2
    shot(page, screenshots, "keys-rotated-1280")
    assert works(live_router, new_key) and works(live_router, site.key)
    page.goto(key_url)
    expires = page.locator("main p.muted").first.inner_text()
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:")
    assert in_an_hour in expires, expires
    # Revoke, then re-enable: the key stops, then works again.
    page.get_by_role("button", name="Revoke key").click()
    page.wait_for_url(re.compile(r"notice=revoked"))
    assert not works(live_router, site.key)
    page.goto(key_url)
    page.get_by_role("button", name="Re-enable key").click()
    page.wait_for_url(re.compile(r"notice=reenabled"))
    assert works(live_router, site.key)
    # Models and expiry are edited on the key page; an expiry in the past stops the key.
    page.get_by_label("Allowed models").fill("claude-haiku-*")
    page.get_by_label("Expires at (UTC)").fill(
        (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"notice=saved"))
    assert "expired" in page.locator("h1").inner_text()
    assert not works(live_router, site.key)
    shot(page, screenshots, "key-page-1280")
    page.set_viewport_size(PHONE)
    assert sideways_overflow(page) == 0
    shot(page, screenshots, "key-page-390")
    assert_clean(page)
    context.close()


def test_keys_are_found_across_tenants_by_member_prefix_and_status(
    chromium: Any, live_router: LiveRouter
) -> None:
    site = seed_site(live_router)
    live_router.key("globex", "bob@globex.example")
    for i in range(55):
        live_router.key("initech", f"dev{i:02d}@initech.example")
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/keys")
    assert "57 keys." in page.locator("main").inner_text()
    assert page.locator("main tbody tr").count() == 50
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert page.locator("main tbody tr").count() == 7
    page.get_by_label("Member, alias or prefix").fill("bob@")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(re.compile(r"q=bob"))
    rows = page.locator("main tbody tr")
    assert rows.count() == 1 and "globex" in rows.first.inner_text()
    page.get_by_label("Member, alias or prefix").fill(site.key[:10])
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(re.compile(r"q=sk-rt"))
    assert (
        page.locator("main tbody tr").count() == 1
        and "ann@example.com" in page.locator("main tbody").inner_text()
    )
    page.goto(f"{site.base}/admin/keys?status=revoked")
    assert "No keys match." in page.locator("main tbody").inner_text()
    assert_clean(page)
    context.close()


def test_audit_log_to_the_second_with_links_filters_and_the_config_drift_notice(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)  # applies a config file, as `router config apply` does
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin")
    drift = page.locator(".drift")
    assert "Configuration last applied from a file by test" in drift.inner_text()
    assert "overwritten by the next" in drift.inner_text()
    # An edit in the page is counted, and listed in the audit log.
    page.goto(f"{site.base}/admin/rules")
    page.locator("#level-global tr.editable").first.click()
    page.locator("#level-global tr.editing").get_by_label("Description").fill("edited here")
    page.locator("#level-global tr.editing").get_by_role("button", name="Save").click()
    page.locator("#level-global .level-status").get_by_text("Saved rule #1").wait_for()
    page.goto(f"{site.base}/admin")
    assert "1 change made since then" in page.locator(".drift").inner_text()
    shot(page, screenshots, "drift-notice-1280")
    page.locator(".drift").get_by_role("link", name="list").click()
    rows = page.locator("main tbody tr")
    assert rows.count() == 1 and "edited here" not in rows.first.locator("td").nth(0).inner_text()
    assert "root" in rows.first.inner_text() and "rule" in rows.first.inner_text()
    # Times to the second; objects link to their pages; filters narrow the log.
    page.goto(f"{site.base}/admin/audit")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page.locator("main tbody tr td").first.inner_text()
    )
    page.get_by_label("Object type").select_option("api_key")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"type=api_key"))
    assert page.locator("main tbody tr").count() == 1
    page.locator("main tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/admin/tenants/\d+/keys/\d+$"))
    page.goto(f"{site.base}/admin/audit?q=claude-opus")
    assert page.locator("main tbody tr").count() >= 1
    assert all("claude-opus" in t for t in page.locator("main tbody tr td:nth-child(4)").all_inner_texts())
    shot(page, screenshots, "audit-1280")
    assert_clean(page)
    context.close()


def test_health_page_shows_errors_latency_and_cooldowns_and_tests_every_target(
    chromium: Any, start_router: Any, screenshots: Path
) -> None:
    live = start_router(cooldown_seconds=60)
    site = seed_site(
        live,
        config=f"""
providers:
  - {{name: oai, kind: openai, api_base: "${{UPSTREAM}}/v1", api_key: "${{OPENAI_API_KEY}}"}}
  - {{name: gone, kind: openai, api_base: "http://127.0.0.1:{closed_port()}/v1", api_key: "${{OPENAI_API_KEY}}"}}
chains:
  - {{name: safe, targets: [gone/gpt-4.1, oai/gpt-4.1]}}
rules:
  - {{match: "*", chain: safe}}
""",
    )
    for _ in range(3):
        live.client(site.key).messages.create(model="claude-haiku-4-5", **ASK)
    context, page = new_page(chromium, site)
    for _ in range(50):
        page.goto(f"{site.base}/admin/health")
        if "100.0 %" in page.locator("table.health").inner_text():
            break
        page.wait_for_timeout(200)
    gone = page.locator("table.health tbody tr", has_text="gone/gpt-4.1")
    text = gone.inner_text()
    assert "cooling down" in text and "100.0 %" in text and "connection to the upstream failed" in text, text
    good = page.locator("table.health tbody tr", has_text="oai/gpt-4.1").inner_text()
    assert "0.0 %" in good and "in use" in good and " ms" in good, good
    assert "Cool-downs are per replica" in page.locator("main").inner_text()
    page.get_by_role("button", name="Test all").click()
    results = page.locator("#health-tests li")
    results.first.wait_for()
    by_ref = {r.locator("code").inner_text(): r.inner_text() for r in results.all()}
    assert "failed" in by_ref["gone/gpt-4.1"] and "ok" in by_ref["oai/gpt-4.1"], by_ref
    shot(page, screenshots, "health-1280")
    page.set_viewport_size(PHONE)
    assert sideways_overflow(page) == 0
    shot(page, screenshots, "health-390")
    assert_clean(page)
    context.close()


def test_tenants_and_rules_can_be_searched_and_tenants_paged(chromium: Any, live_router: LiveRouter) -> None:
    site = seed_site(live_router)
    for i in range(52):
        live_router.key(f"team-{i:02d}", "dev@example.com")
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/tenants")
    assert page.locator("main table tbody tr").count() == 50
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert page.locator("main table tbody tr").count() == 3
    page.get_by_label("Name contains").fill("team-4")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(re.compile(r"q=team-4"))
    names = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert names == [f"team-4{i}" for i in range(10)], names
    page.goto(f"{site.base}/admin/rules")
    page.get_by_label("Show rules containing").fill("opus")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"q=opus"))
    rows = page.locator("#level-global tr.editable")
    assert rows.count() == 1
    assert rows.first.locator("td").first.inner_text() == "2"  # still its place in the order
    assert_clean(page)
    context.close()


def test_config_drift_notice_shows_on_the_tenant_list_and_tenant_page(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)  # applies a config file, as `router config apply` does
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/tenants")
    drift = page.locator(".drift")
    assert "Configuration last applied from a file by test" in drift.inner_text()
    assert "overwritten by the next" in drift.inner_text()
    # A tenant edit made here is counted on the tenant's own page (the next apply would undo it).
    page.locator("main tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/admin/tenants/\d+$"))
    assert "Configuration last applied from a file by test" in page.locator(".drift").inner_text()
    page.locator("#lim-rpm").fill("77")
    page.get_by_role("button", name="Save limits").click()
    page.wait_for_url(re.compile(r"notice="))
    assert "1 change made since then" in page.locator(".drift").inner_text()
    shot(page, screenshots, "tenant-drift-notice-1280")
    page.goto(f"{site.base}/admin/tenants")
    assert "1 change made since then" in page.locator(".drift").inner_text()
    assert_clean(page)
    context.close()
