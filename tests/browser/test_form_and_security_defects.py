"""Issue 19's form, confirmation and security defects in a real browser: every error at once, unknown
kinds and non-Azure deployments refused, notices outside the URL fragment, confirmations that name the
object, readable conditions, `next` kept when the session is lost during htmx, dashboard rows as links,
and an unreachable upstream reported without its host or port."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.browser.site import PHONE, assert_clean, db_url, new_page, seed_site, shot, sideways_overflow
from tests.fixtures.app import LiveRouter
from tests.hardening.support import closed_port

__all__ = ["db_url"]

pytestmark = pytest.mark.browser


def test_forms_show_every_error_at_once_and_refuse_what_cannot_work(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/providers")
    form = page.locator("form[action='/admin/providers']")
    form.get_by_label("Name").fill("-bad")
    form.get_by_label("Kind").fill("openia")
    form.get_by_label("API base URL").fill("http://user:pw@upstream.example")
    form.get_by_role("button", name="Create provider").click()
    errors = page.locator("form[action='/admin/providers'] .error-text")
    assert errors.count() == 3, errors.all_inner_texts()
    text = " ".join(errors.all_inner_texts())
    assert (
        "Unknown provider kind 'openia'" in text and "Name '-bad'" in text and "user name or password" in text
    )
    shot(page, screenshots, "defect7-provider-errors-1280")

    # Deployments: only azure providers are offered (and the server refuses others, tested in tests/admin).
    deployment = page.locator("form[action='/admin/deployments']")
    offered = deployment.locator("#newd-provider option").all_inner_texts()
    assert offered == ["— choose —", "azure-eu (azure)"], offered
    deployment.get_by_label("Name", exact=True).fill("gpt4o-us")
    deployment.get_by_label("Provider").select_option("azure-eu")
    deployment.get_by_label("Azure deployment name").fill("gpt-4o-us")
    deployment.get_by_label("Model behind it").fill("gpt-4o")
    deployment.get_by_role("button", name="Create deployment").click()
    # The notice is in the query, not swallowed by the #fragment.
    page.wait_for_url(re.compile(r"/admin/providers\?notice=created#deployments$"))
    assert page.locator("#flash").inner_text() == "Created."

    # A chain names every bad target, not only the first.
    page.goto(f"{site.base}/admin/chains")
    chain = page.locator("form[action='/admin/chains']")
    chain.get_by_label("Name").fill("broken")
    chain.locator("textarea[name=targets]").fill("ghost/a\noai/gpt-4.1\ndeployment/nope")
    chain.get_by_role("button", name="Create chain").click()
    message = page.locator(".field.has-error .error-text").inner_text()
    assert "ghost/a" in message and "deployment/nope" in message and "oai/gpt-4.1" not in message, message
    assert_clean(page)
    context.close()


def test_confirmations_name_what_they_act_on_and_conditions_read_as_words(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(f"{site.base}/admin/chains")
    page.locator("main a[href^='/admin/chains/']").first.click()
    page.get_by_role("button", name="Remove oai/gpt-4.1").click()
    assert dialogs[-1] == "Remove target oai/gpt-4.1 (#1) from chain big?"
    assert page.locator("#chain-targets li").count() == 2  # dismissed: nothing removed

    page.goto(f"{site.base}/admin/rules")
    assert "with thinking" in page.locator("#level-global").inner_text()
    assert "thinking=True" not in page.content()
    page.get_by_role("button", name="Delete rule 2 (claude-opus-*)").click()
    assert dialogs[-1] == "Delete rule #2 (claude-opus-* → chain big)?"
    assert page.locator("#level-global tr.editable").count() == 3
    shot(page, screenshots, "defect8-rules-words-1280")
    assert_clean(page)
    context.close()


def test_losing_the_session_during_an_htmx_action_comes_back_to_the_same_page(
    chromium: Any, live_router: LiveRouter
) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/rules")
    context.clear_cookies()
    page.get_by_label("Requested model").fill("claude-haiku-4-5")
    page.get_by_role("button", name="Explain").click()
    page.wait_for_url(re.compile(r"/admin/login\?next=/admin/rules$"))
    page.get_by_label("User name").fill("root")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/rules$"))
    context.close()


def test_dashboard_rows_link_to_their_usage(chromium: Any, live_router: LiveRouter) -> None:
    site = seed_site(live_router)
    live_router.client(site.key).messages.create(
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    context, page = new_page(chromium, site)
    for _ in range(50):
        page.goto(f"{site.base}/admin")
        if page.get_by_role("link", name="claude-haiku-4-5").count():
            break
        page.wait_for_timeout(200)
    page.get_by_role("link", name="acme").click()
    page.wait_for_url(re.compile(r"/admin/usage\?range=today&tenant_id=\d+$"))
    page.go_back()
    page.get_by_role("link", name="claude-haiku-4-5").click()
    page.wait_for_url(re.compile(r"/admin/usage\?range=today&model=claude-haiku-4-5$"))
    assert "claude-haiku-4-5" in page.locator("table.requests").inner_text()
    context.close()


def test_an_unreachable_upstream_is_reported_without_host_or_port(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    port = closed_port()
    site = seed_site(
        live_router,
        config=f"""
providers:
  - {{name: gone, kind: openai, api_base: "http://127.0.0.1:{port}/v1", api_key: "${{OPENAI_API_KEY}}"}}
rules:
  - {{match: "*", target: gone/gpt-4.1}}
""",
    )
    with pytest.raises(anthropic.InternalServerError) as caught:
        live_router.client(site.key).messages.create(
            model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    body = str(caught.value.body)
    assert "upstream unreachable" in body
    assert str(port) not in body and "127.0.0.1" not in body
    # The detail is kept where an admin looks: the request's attempts.
    context, page = new_page(chromium, site)
    for _ in range(50):
        page.goto(f"{site.base}/admin/usage?range=today")
        if page.locator("table.requests a").count():
            break
        page.wait_for_timeout(200)
    page.locator("table.requests a").first.click()
    attempt = page.locator("main table tbody tr").first.inner_text()
    assert "gone/gpt-4.1" in attempt and f"127.0.0.1:{port}" in attempt, attempt
    shot(page, screenshots, "defect9-unreachable-detail-1280")
    page.set_viewport_size(PHONE)
    assert sideways_overflow(page) == 0
    context.close()
