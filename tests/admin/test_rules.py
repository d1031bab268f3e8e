"""Mapping rules: per-level tables, inline edits, order, validation, try-it, and level isolation."""

from __future__ import annotations

import re

from router.config.rules import written_rule
from router.store import catalog
from router.store import tenants as tenant_store
from router.store.crypto import CredentialCipher
from tests.admin.conftest import SECRET, AdminClient


async def seed(client: AdminClient) -> dict[str, int]:
    db = client.db
    async with db.transaction() as session:
        await catalog.create_provider(
            session, cipher=CredentialCipher(SECRET), name="oa", kind="openai", api_key="sk-secret-123"
        )
        acme = await tenant_store.create_tenant(session, "acme", actor="test")
        other = await tenant_store.create_tenant(session, "other", actor="test")
        first = await catalog.create_rule(
            session, written_rule("claude-*", target="oa/gpt-4.1"), actor="test"
        )
        second = await catalog.create_rule(
            session, written_rule("claude-haiku-*", target="oa/gpt-4.1-mini"), actor="test"
        )
        theirs = await catalog.create_rule(
            session, written_rule("x", target="oa/gpt-4.1"), tenant_id=other.id, actor="test"
        )
    return {"acme": acme.id, "other": other.id, "first": first.id, "second": second.id, "theirs": theirs.id}


def rule_order(html: str) -> list[str]:
    return re.findall(r'<tr id="rule-(\d+)"', html)


async def test_rules_page_shows_a_table_per_level(admin: AdminClient) -> None:
    ids = await seed(admin)
    page = await admin.get("/admin/rules")
    assert page.status_code == 200
    assert (
        "Global rules" in page.text
        and "Rules of tenant acme" in page.text
        and "Rules of tenant other" in page.text
    )
    assert rule_order(page.text)[:2] == [str(ids["first"]), str(ids["second"])]


async def test_edit_row_then_save_swaps_the_display_row(admin: AdminClient) -> None:
    ids = await seed(admin)
    edit = await admin.htmx("GET", f"/admin/rules/global/{ids['first']}/edit")
    assert edit.status_code == 200 and 'value="claude-*"' in edit.text
    saved = await admin.htmx(
        "POST",
        f"/admin/rules/global/{ids['first']}",
        {"match": "claude-opus-*", "target": "oa/gpt-5", "enabled": "on", "thinking": "yes"},
    )
    assert saved.status_code == 200, saved.text
    assert "claude-opus-*" in saved.text and "with thinking" in saved.text and "editable" in saved.text
    async with admin.db.session() as session:
        rule = await catalog.get_rule(session, ids["first"])
    assert (
        rule.match == "claude-opus-*" and rule.target == "oa/gpt-5" and rule.conditions == {"thinking": True}
    )


async def test_saving_an_unknown_target_rerenders_the_row_with_the_error(admin: AdminClient) -> None:
    ids = await seed(admin)
    saved = await admin.htmx(
        "POST",
        f"/admin/rules/global/{ids['first']}",
        {"match": "claude-*", "target": "nope/gpt", "enabled": "on"},
    )
    assert saved.status_code == 422
    assert "unknown provider" in saved.text.lower() and 'value="nope/gpt"' in saved.text


async def test_invalid_regex_and_bad_numbers_are_field_errors(admin: AdminClient) -> None:
    ids = await seed(admin)
    saved = await admin.htmx(
        "POST", f"/admin/rules/global/{ids['first']}", {"match": "re:([", "target": "oa/gpt-4.1"}
    )
    assert saved.status_code == 422 and 'id="rule-' in saved.text
    bad_number = await admin.htmx(
        "POST",
        f"/admin/rules/global/{ids['first']}",
        {"match": "claude-*", "target": "oa/gpt-4.1", "max_tokens": "lots", "temperature": "9"},
    )
    assert bad_number.status_code == 422
    assert "Max tokens must be a whole number" in bad_number.text
    assert "Temperature must be between" in bad_number.text


async def test_validate_endpoint_reports_bad_pattern_and_unknown_target(admin: AdminClient) -> None:
    await seed(admin)
    bad = await admin.htmx("POST", "/admin/rules/global/validate", {"match": "re:(", "target": "ghost/x"})
    assert bad.status_code == 200
    assert "match:" in bad.text and "unknown provider &#39;ghost&#39;" in bad.text
    good = await admin.htmx(
        "POST",
        "/admin/rules/global/validate",
        {"match": "claude-haiku", "target": "oa/gpt-4.1", "place": "top"},
    )
    assert "Looks valid" in good.text
    hidden = await admin.htmx(
        "POST",
        "/admin/rules/global/validate",
        {"match": "claude-opus", "target": "oa/gpt-4.1", "place": "bottom"},
    )
    assert "This rule can never match: rule #1 (claude-*)" in hidden.text
    assert "Looks valid" not in hidden.text


async def test_create_and_move_rules_in_a_tenant_level(admin: AdminClient) -> None:
    ids = await seed(admin)
    level = str(ids["acme"])
    one = await admin.htmx(
        "POST", f"/admin/rules/{level}", {"match": "a-*", "target": "oa/m1", "enabled": "on"}
    )
    assert one.status_code == 200 and "a-*" in one.text
    two = await admin.htmx(
        "POST", f"/admin/rules/{level}", {"match": "b-*", "target": "oa/m2", "enabled": "on"}
    )
    first, second = rule_order(two.text)
    moved = await admin.htmx("POST", f"/admin/rules/{level}/{second}/move", {"direction": "up"})
    assert moved.status_code == 200
    assert rule_order(moved.text) == [second, first]


async def test_new_rule_with_errors_keeps_what_was_typed(admin: AdminClient) -> None:
    await seed(admin)
    response = await admin.htmx(
        "POST", "/admin/rules/global", {"match": "", "target": "oa/gpt", "tool": "x" * 300}
    )
    assert response.status_code == 422
    assert "Match is required" in response.text and 'value="oa/gpt"' in response.text


async def test_another_tenants_rule_is_not_found_through_this_tenant(admin: AdminClient) -> None:
    ids = await seed(admin)
    theirs = ids["theirs"]
    assert (await admin.get(f"/admin/rules/{ids['acme']}/{theirs}/edit")).status_code == 404
    response = await admin.post(f"/admin/rules/{ids['acme']}/{theirs}/delete", {})
    assert response.status_code == 404
    assert (await admin.get(f"/admin/rules/global/{theirs}/edit")).status_code == 404
    assert (await admin.get("/admin/rules/999999/1/edit")).status_code == 404
    async with admin.db.session() as session:
        assert (await catalog.get_rule(session, theirs)).match == "x"


async def test_try_it_explains_the_match_and_earlier_misses(admin: AdminClient) -> None:
    await seed(admin)
    response = await admin.htmx("POST", "/admin/rules/try", {"model": "claude-haiku-4", "tenant_id": ""})
    assert response.status_code == 200, response.text
    assert "oa/gpt-4.1" in response.text and "matches" in response.text
    miss = await admin.htmx("POST", "/admin/rules/try", {"model": "gpt-foo"})
    assert "404" in miss.text and "pattern does not match" in miss.text


async def test_rule_changes_are_audited_with_the_admin_as_actor(admin: AdminClient) -> None:
    ids = await seed(admin)
    await admin.htmx("POST", f"/admin/rules/global/{ids['second']}/delete")
    page = await admin.get("/admin/audit")
    assert page.status_code == 200
    assert "root" in page.text and "delete" in page.text and "claude-haiku-*" in page.text


async def test_a_level_rerender_keeps_the_filter_of_the_page_it_was_made_on(admin: AdminClient) -> None:
    ids = await seed(admin)
    moved = await admin.htmx(
        "POST",
        f"/admin/rules/global/{ids['second']}/move",
        {"direction": "up"},
        headers={"HX-Current-URL": "http://testserver/admin/rules?q=haiku"},
    )
    assert moved.status_code == 200, moved.text
    assert rule_order(moved.text) == [str(ids["second"])]  # "claude-*" does not contain "haiku"
    assert moved.headers["HX-Replace-Url"] == "/admin/rules?q=haiku"


async def test_a_drop_places_the_rule_beside_the_row_it_landed_on(admin: AdminClient) -> None:
    ids = await seed(admin)
    dropped = await admin.htmx(
        "POST",
        "/admin/rules/global/reorder",
        {"moved": str(ids["second"]), "where": "before", "anchor": str(ids["first"])},
    )
    assert dropped.status_code == 200, dropped.text
    assert rule_order(dropped.text)[:2] == [str(ids["second"]), str(ids["first"])]
    assert "Moved rule #1 (claude-haiku-*)." in dropped.text
    elsewhere = await admin.htmx(
        "POST",
        "/admin/rules/global/reorder",
        {"moved": str(ids["theirs"]), "where": "before", "anchor": str(ids["first"])},
    )
    assert elsewhere.status_code == 404  # another level's rule cannot be dropped here


async def test_rule_tables_page_by_fifty_and_number_rules_by_their_place(admin: AdminClient) -> None:
    await seed(admin)
    async with admin.db.transaction() as session:
        for i in range(50):
            await catalog.create_rule(session, written_rule(f"m{i:02d}", target="oa/gpt-4.1"), actor="test")
    page2 = await admin.get("/admin/rules?page_global=2")
    assert "Page 2 of 2" in page2.text and 'aria-label="Rule 51: m48"' in page2.text
    assert 'aria-label="Rule 1: claude-*"' not in page2.text
    assert 'href="/admin/rules" rel="prev"' in page2.text
