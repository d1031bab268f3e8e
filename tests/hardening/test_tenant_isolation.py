"""Tenant isolation: one tenant's keys never use another's rules, never see its models, never spend its
budget or rate limits; admin routes that name a tenant and an object refuse another tenant's object."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from router.store.keys import key_prefix
from tests.fakes import Reply
from tests.fixtures.app import LiveRouter
from tests.fixtures.minutes import clear_of_a_minute_boundary
from tests.hardening.support import (
    AdminHttp,
    assert_error_body,
    create_admin_user,
    object_ids,
    wait_for_usage,
)

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
  - {name: gem, kind: gemini, api_base: "${UPSTREAM}", api_key: "${GEMINI_API_KEY}"}
rules:
  - {match: "claude-*", target: oai/gpt-4.1}
tenants:
  - name: alpha
  - name: bravo
    limits: {budget_usd: 5}
    rules:
      - {match: "bravo-special", target: gem/gemini-2.5-pro}
      - {match: "claude-sonnet-*", target: gem/gemini-2.5-pro}
"""
# 1,000,000 output tokens of gpt-4.1 cost $8 by LiteLLM's cost map: one answer exceeds bravo's $5 budget.
EXPENSIVE = Reply(text="an expensive answer", output_tokens=1_000_000, input_tokens=10)


@pytest.fixture
def router(live: LiveRouter) -> LiveRouter:
    live.apply(CONFIG)
    return live


def _ask(router: LiveRouter, key: str, model: str) -> httpx.Response:
    with router.http() as http:
        return http.post(
            "/v1/messages",
            json={"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": key},
        )


def test_a_tenants_rules_apply_to_its_own_keys_only(router: LiveRouter) -> None:
    alpha, bravo = router.key("alpha", "ann"), router.key("bravo", "bob")
    # bravo's exact-name rule does not exist for alpha.
    refused = _ask(router, alpha, "bravo-special")
    assert assert_error_body(refused, 404)["type"] == "not_found_error"
    assert _ask(router, bravo, "bravo-special").status_code == 200
    # bravo's override of a global pattern changes bravo's route only.
    assert _ask(router, alpha, "claude-sonnet-4-5").status_code == 200
    assert _ask(router, bravo, "claude-sonnet-4-5").status_code == 200
    assert [(r.kind, r.model) for r in router.upstream.requests] == [
        ("gemini", "gemini-2.5-pro"),
        ("openai", "gpt-4.1"),
        ("gemini", "gemini-2.5-pro"),
    ]


def test_models_list_shows_only_what_the_keys_tenant_routes(live: LiveRouter) -> None:
    # No global rule: each tenant routes only its own names (listed as Anthropic-style ids, as Claude
    # Code's gateway protocol asks).
    live.apply(
        """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
tenants:
  - name: alpha
    rules:
      - {match: "claude-opus-4-5", target: oai/gpt-4.1}
  - name: bravo
    rules:
      - {match: "claude-haiku-*", target: oai/gpt-4.1}
"""
    )
    alpha, bravo = live.key("alpha", "ann"), live.key("bravo", "bob")
    with live.http() as http:
        seen = {
            name: {m["id"] for m in http.get("/v1/models", headers={"x-api-key": key}).json()["data"]}
            for name, key in (("alpha", alpha), ("bravo", bravo))
        }
    assert seen["alpha"] == {"claude-opus-4-5"}
    assert "claude-haiku-4-5" in seen["bravo"] and "claude-opus-4-5" not in seen["bravo"]


def test_usage_is_recorded_against_the_tenant_and_key_that_spent_it(router: LiveRouter) -> None:
    alpha, bravo = router.key("alpha", "ann"), router.key("bravo", "bob")
    for _ in range(3):
        assert _ask(router, alpha, "claude-haiku-4-5").status_code == 200
    assert _ask(router, bravo, "claude-haiku-4-5").status_code == 200
    ids = object_ids(router.settings.database_url)
    alpha_rows = wait_for_usage(router.settings.database_url, 3, tenant_id=ids["tenant:alpha"])
    bravo_rows = wait_for_usage(router.settings.database_url, 1, tenant_id=ids["tenant:bravo"])
    assert [r.key_prefix for r in alpha_rows] == [key_prefix(alpha)] * 3
    assert [r.key_prefix for r in bravo_rows] == [key_prefix(bravo)]


def test_one_tenants_spending_never_counts_against_anothers_budget(router: LiveRouter) -> None:
    alpha, bravo = router.key("alpha", "ann"), router.key("bravo", "bob")
    router.upstream.set_default(EXPENSIVE)
    for _ in range(3):  # $24 spent by alpha, which has no budget
        assert _ask(router, alpha, "claude-haiku-4-5").status_code == 200
    ids = object_ids(router.settings.database_url)
    rows = wait_for_usage(router.settings.database_url, 3, tenant_id=ids["tenant:alpha"])
    assert sum(r.cost_usd for r in rows) > 20
    # bravo (budget $5) is untouched by alpha's $24, also when its spend is read back from the database.
    assert _ask(router, bravo, "claude-haiku-4-5").status_code == 200  # spends $8 of its own
    wait_for_usage(router.settings.database_url, 1, tenant_id=ids["tenant:bravo"])
    refused = _ask(router, bravo, "claude-haiku-4-5")
    assert assert_error_body(refused, 429)["type"] == "billing_error"  # a spent budget (gateway protocol)
    # ...and bravo's exhausted budget does not stop alpha.
    assert _ask(router, alpha, "claude-haiku-4-5").status_code == 200


def test_one_tenants_rate_limit_is_its_own(router: LiveRouter) -> None:
    alpha = router.key("alpha", "ann", rpm=2)
    bravo = router.key("bravo", "bob")
    clear_of_a_minute_boundary()
    assert [_ask(router, alpha, "claude-haiku-4-5").status_code for _ in range(3)] == [200, 200, 429]
    assert [_ask(router, bravo, "claude-haiku-4-5").status_code for _ in range(3)] == [200, 200, 200]
    # Another key of the same tenant has its own key limit too.
    assert _ask(router, router.key("alpha", "amy"), "claude-haiku-4-5").status_code == 200


# ---- the admin routes that take a tenant and an object id ------------------------------------------------


@pytest.fixture
def admin(router: LiveRouter) -> tuple[AdminHttp, dict[str, Any]]:
    alpha, bravo = router.key("alpha", "ann"), router.key("bravo", "bob")
    create_admin_user(router.settings.database_url)
    ids = object_ids(router.settings.database_url)
    browser = AdminHttp(router.base_url).sign_in()
    return browser, {
        "alpha": ids["tenant:alpha"],
        "bravo": ids["tenant:bravo"],
        "bravo_key": ids[f"key:{key_prefix(bravo)}"],
        "alpha_key": ids[f"key:{key_prefix(alpha)}"],
        "bravo_rule": ids["rule:bravo:bravo-special"],
        "global_rule": ids["rule:global:claude-*"],
        "bravo_plaintext": bravo,
    }


def test_admin_key_routes_refuse_another_tenants_key(
    router: LiveRouter, admin: tuple[AdminHttp, dict[str, Any]]
) -> None:
    browser, ids = admin
    alpha, bravo_key = ids["alpha"], ids["bravo_key"]
    with browser:
        assert (
            browser.get(f"/admin/tenants/{ids['bravo']}/keys/{bravo_key}").status_code == 200
        )  # the real one
        assert browser.get(f"/admin/tenants/{alpha}/keys/{bravo_key}").status_code == 404
        browser.get(f"/admin/tenants/{alpha}")
        for action, form in (("limits", {"rpm": "1"}), ("revoke", {})):
            response = browser.post(f"/admin/tenants/{alpha}/keys/{bravo_key}/{action}", form)
            assert response.status_code == 404, (action, response.status_code)
    # bravo's key is untouched: no limit set, not revoked.
    assert [_ask(router, ids["bravo_plaintext"], "claude-haiku-4-5").status_code for _ in range(2)] == [
        200,
        200,
    ]


def test_admin_rule_routes_refuse_another_levels_rule(
    router: LiveRouter, admin: tuple[AdminHttp, dict[str, Any]]
) -> None:
    browser, ids = admin
    alpha, bravo, rule, global_rule = ids["alpha"], ids["bravo"], ids["bravo_rule"], ids["global_rule"]
    with browser:
        assert browser.get(f"/admin/rules/{bravo}/{rule}").status_code == 200  # the real one
        wrong_levels = [str(alpha), "global", "999999"]
        for level in wrong_levels:
            for page in (f"/admin/rules/{level}/{rule}", f"/admin/rules/{level}/{rule}/edit"):
                assert browser.get(page).status_code == 404, page
        assert browser.get(f"/admin/rules/{bravo}/{global_rule}").status_code == 404
        browser.get("/admin/rules/")
        edit = {"match": "hijacked", "target": "oai/gpt-4.1", "enabled": "on"}
        for level in wrong_levels:
            for action, form in (("", edit), ("/move", {"direction": "up"}), ("/delete", {})):
                response = browser.post(f"/admin/rules/{level}/{rule}{action}", form)
                assert response.status_code == 404, (level, action, response.status_code)
    # bravo's rule is still there and still routes bravo's model.
    assert "rule:bravo:bravo-special" in object_ids(router.settings.database_url)
    assert _ask(router, ids["bravo_plaintext"], "bravo-special").status_code == 200


def test_proxy_keys_open_no_admin_page_or_json(router: LiveRouter) -> None:
    key = router.key("alpha", "ann")
    with httpx.Client(base_url=router.base_url, follow_redirects=False) as http:
        for page in (
            "/admin",
            "/admin/usage",
            "/admin/api/usage",
            "/admin/api/usage/timeseries",
            "/admin/tenants/",
        ):
            for headers in ({"x-api-key": key}, {"authorization": f"Bearer {key}"}):
                response = http.get(page, headers=headers)
                assert response.status_code in (303, 401), (page, response.status_code)
                assert "alpha" not in response.text and "bravo" not in response.text
