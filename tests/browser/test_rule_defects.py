"""Issue 19's rule defects in a real browser: one truthful order, placement and shadowed-rule warnings, and
editing by keyboard alone (at desktop and phone widths)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.site import DESKTOP, PHONE, SEED, assert_clean, db_url, new_page, seed_site, shot
from tests.fixtures.app import LiveRouter

__all__ = ["db_url"]

pytestmark = pytest.mark.browser


def table_matches(page: Any, level: str = "global") -> list[tuple[str, str]]:
    """(# column, match) for each rule row of a level, top to bottom, once no row is being edited or settled."""
    page.locator(f"#level-{level} tr.editing").wait_for(state="detached")
    rows = page.locator(f"#level-{level} tbody tr.editable")
    out = []
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        out.append((cells.nth(0).inner_text().strip(), cells.nth(1).locator("code").inner_text().strip()))
    return out


def active(page: Any) -> str:
    """What has keyboard focus: tag, id and aria-label."""
    return str(
        page.evaluate(
            "() => { const e = document.activeElement; return e.tagName + '#' + e.id + ' '"
            " + (e.getAttribute('aria-label') || ''); }"
        )
    )


def test_rule_order_is_one_sequence_the_table_and_the_resolver_agree_on(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/rules")
    before = table_matches(page)
    assert [n for n, _ in before] == ["1", "2", "3"]
    # Move the last rule to the top through its editor's "Place" field.
    page.locator("#level-global tr.editable").nth(2).click()
    editing = page.locator("#level-global tr.editing")
    editing.get_by_label("Place").select_option("top")
    editing.get_by_role("button", name="Save").click()
    page.locator("#level-global .level-status").get_by_text("Saved rule #1 (*).").wait_for()
    after = table_matches(page)
    assert after == [("1", "*"), ("2", "claude-haiku-*"), ("3", "claude-opus-*")]
    # The resolver sees the same order: "Try it" lists the rules it considered in evaluation order.
    page.get_by_label("Requested model").fill("claude-haiku-4-5")
    page.get_by_role("button", name="Explain").click()
    page.locator("#try-result").get_by_text("Rules considered").wait_for()
    considered = page.locator("#try-result tbody tr")
    seen = [
        (considered.nth(i).locator("td").nth(1).inner_text(), considered.nth(i).locator("code").inner_text())
        for i in range(considered.count())
    ]
    assert seen[0] == ("1", "*")
    # …and the table warns that the rules below the catch-all can never match.
    assert page.locator("#level-global tr.shadowed").count() == 2
    assert "never matches: #1 *" in page.locator("#level-global tr.shadowed").first.inner_text()
    shot(page, screenshots, "defect1-rule-order-1280")
    assert_clean(page)
    context.close()


def test_new_rule_lands_above_the_catch_all_and_a_shadowed_placement_is_warned(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/rules")
    section = page.locator("#level-global")
    section.get_by_text("Add a rule").click()
    place = section.locator("#new-global-place")
    assert place.locator("option:checked").inner_text() == "before #3 *"
    section.get_by_label("Match (model name, glob, or re:regex)").fill("claude-sonnet-*")
    section.get_by_label("Target (PROVIDER/MODEL or deployment/NAME)").fill("oai/gpt-4.1")
    section.locator(".validation").get_by_text("Looks valid").wait_for()
    # At the bottom it could never match: the warning says so before saving…
    place.select_option("bottom")
    section.locator(".validation").get_by_text("This rule can never match: rule #3 (*)").wait_for()
    shot(page, screenshots, "defect2-shadow-warning-1280")
    section.get_by_role("button", name="Add rule").click()
    # …and after saving, in the notice and in the table.
    section.locator(".level-status").get_by_text("Rule #4 can never match").wait_for()
    assert table_matches(page)[-1] == ("4", "claude-sonnet-*")
    assert "never matches" in page.locator("#rule-4, #level-global tr.shadowed").last.inner_text()
    # Placed before another rule it lands exactly there.
    section.get_by_text("Add a rule").click()
    section.get_by_label("Match (model name, glob, or re:regex)").fill("claude-opus-4-1")
    section.get_by_label("Target (PROVIDER/MODEL or deployment/NAME)").fill("oai/gpt-4.1")
    place.select_option(label="before #2 claude-opus-*")
    section.get_by_role("button", name="Add rule").click()
    section.locator(".level-status").get_by_text("Added rule #2 (claude-opus-4-1).").wait_for()
    assert [m for _, m in table_matches(page)][:3] == ["claude-haiku-*", "claude-opus-4-1", "claude-opus-*"]
    assert_clean(page)
    context.close()


@pytest.mark.parametrize("width", ["1280", "390"])
def test_rule_editing_works_by_keyboard_alone(
    chromium: Any, live_router: LiveRouter, screenshots: Path, width: str
) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site, viewport=DESKTOP if width == "1280" else PHONE)
    page.goto(f"{site.base}/admin/rules")
    # Tab from the last "Try it" control reaches the first rule row (past the table's scroll region).
    page.get_by_role("button", name="Explain").focus()
    for _ in range(3):
        page.keyboard.press("Tab")
        if active(page).startswith("TR#"):
            break
    assert active(page).startswith("TR#rule-"), active(page)
    first_id = page.evaluate("() => document.activeElement.id")
    # Enter opens the editor with focus in it; Escape cancels and gives focus back to the row.
    page.keyboard.press("Enter")
    editing = page.locator(f"#{first_id}.editing")
    editing.wait_for()
    page.wait_for_function("() => document.activeElement.name === 'match'")
    page.keyboard.type("-changed")
    page.keyboard.press("Escape")
    page.locator(f"#{first_id}.editable").wait_for()
    page.wait_for_function(f"() => document.activeElement.id === '{first_id}'")
    assert table_matches(page)[0] == ("1", "claude-haiku-*")
    # Enter in a field saves; the notice confirms it and focus returns to the saved row.
    page.keyboard.press("Enter")
    editing.wait_for()
    page.wait_for_function("() => document.activeElement.name === 'match'")
    if width == "390":
        save = editing.get_by_role("button", name="Save").bounding_box()
        assert save is not None and save["x"] >= 0 and save["x"] + save["width"] <= 390, save
        shot(page, screenshots, "defect3-rule-editor-390")
    page.keyboard.press("End")
    page.keyboard.type("x")
    page.keyboard.press("Enter")
    page.locator("#level-global .level-status").get_by_text("Saved rule #1 (claude-haiku-*x).").wait_for()
    page.wait_for_function(f"() => document.activeElement.id === '{first_id}'")
    # ↓ moves the rule and focus stays on that rule's ↓ button, so pressing again keeps moving it.
    page.locator(f"#{first_id} .move-down").focus()
    page.keyboard.press("Enter")
    page.locator("#level-global .level-status").get_by_text("Moved rule #2").wait_for()
    page.wait_for_function(
        f"() => document.activeElement.closest('tr') && document.activeElement.closest('tr').id === '{first_id}'"
    )
    assert "down" in active(page)
    page.keyboard.press("Enter")
    page.locator("#level-global .level-status").get_by_text("Moved rule #3").wait_for()
    # At the bottom the ↓ button is disabled: focus falls back to the row, never to <body>.
    page.wait_for_function(f"() => document.activeElement.id === '{first_id}'")
    assert [m for _, m in table_matches(page)] == ["claude-opus-*", "*", "claude-haiku-*x"]
    shot(page, screenshots, f"defect3-rule-keyboard-{width}")
    assert_clean(page)
    context.close()


def test_a_rule_dragged_onto_another_takes_its_place(chromium: Any, live_router: LiveRouter) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/rules")
    rows = page.locator("#level-global tr.editable")
    rows.nth(2).drag_to(rows.nth(0))
    page.locator("#level-global .level-status").get_by_text("Moved rule #1 (*).").wait_for()
    assert [m for _, m in table_matches(page)] == ["*", "claude-haiku-*", "claude-opus-*"]
    page.wait_for_function("() => document.activeElement.getAttribute('aria-label') === 'Rule 1: *'")
    assert_clean(page)
    context.close()


MANY_RULES = (
    SEED.split("rules:")[0]
    + "rules:\n"
    + "".join(f'  - {{match: "claude-m{i:02d}", target: oai/gpt-4.1}}\n' for i in range(51))
    + '  - {match: "*", target: oai/gpt-4.1}\n'
)


def test_rule_tables_page_keeping_the_evaluation_order_and_a_move_shows_the_moved_rules_page(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router, config=MANY_RULES)  # 52 global rules: two pages of 50
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/rules")
    first = table_matches(page)
    assert len(first) == 50 and first[0] == ("1", "claude-m00") and first[-1] == ("50", "claude-m49")
    pager = page.locator("#level-global nav.pager")
    assert "Page 1 of 2" in pager.inner_text()
    pager.get_by_role("link", name="Next →").click()
    page.wait_for_url(re.compile(r"page_global=2"))
    assert table_matches(page) == [("51", "claude-m50"), ("52", "*")]
    shot(page, screenshots, "rules-paged-1280")
    # By keyboard: ↑ on rule #51 moves it to #50, on page 1, and that page is the one re-rendered.
    page.locator("#level-global tr.editable").first.locator(".move-up").focus()
    page.keyboard.press("Enter")
    page.locator("#level-global .level-status").get_by_text("Moved rule #50 (claude-m50).").wait_for()
    moved = table_matches(page)
    assert len(moved) == 50 and moved[-2:] == [("49", "claude-m48"), ("50", "claude-m50")]
    assert "Page 1 of 2" in pager.inner_text()
    page.wait_for_url(re.compile(r"/admin/rules$"))  # a reload shows the same page
    page.wait_for_function(
        "() => document.activeElement.closest('tr').getAttribute('aria-label') === 'Rule 50: claude-m50'"
    )
    assert_clean(page)
    context.close()


def test_the_rules_filter_survives_an_edit_a_move_and_a_drag(chromium: Any, live_router: LiveRouter) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/rules?q=claude-")
    assert table_matches(page) == [("1", "claude-haiku-*"), ("2", "claude-opus-*")]  # "*" is filtered out
    status = page.locator("#level-global .level-status")
    # Edit by keyboard: Enter opens the row's editor, Enter in a field saves.
    page.locator("#level-global tr.editable").first.focus()
    page.keyboard.press("Enter")
    page.locator("#level-global tr.editing").wait_for()
    page.wait_for_function("() => document.activeElement.name === 'match'")
    page.keyboard.press("End")
    page.keyboard.type("x")
    page.keyboard.press("Enter")
    status.get_by_text("Saved rule #1 (claude-haiku-*x).").wait_for()
    assert table_matches(page) == [("1", "claude-haiku-*x"), ("2", "claude-opus-*")]
    # Move by keyboard: ↓ on rule #1.
    page.locator("#level-global tr.editable").first.locator(".move-down").focus()
    page.keyboard.press("Enter")
    status.get_by_text("Moved rule #2 (claude-haiku-*x).").wait_for()
    assert table_matches(page) == [("1", "claude-opus-*"), ("2", "claude-haiku-*x")]
    # Drag (the table shows two of the level's three rules): the dropped rule takes the row's place.
    rows = page.locator("#level-global tr.editable")
    rows.nth(1).drag_to(rows.nth(0))
    status.get_by_text("Moved rule #1 (claude-haiku-*x).").wait_for()
    assert table_matches(page) == [("1", "claude-haiku-*x"), ("2", "claude-opus-*")]
    assert page.get_by_label("Show rules containing").input_value() == "claude-"
    assert "q=claude-" in page.url
    page.reload()
    assert table_matches(page) == [("1", "claude-haiku-*x"), ("2", "claude-opus-*")]
    assert_clean(page)
    context.close()


def test_a_row_is_live_as_soon_as_it_is_swapped_in_so_the_quickest_click_opens_its_editor(
    chromium: Any, live_router: LiveRouter
) -> None:
    """htmx wires up new content when it settles, by default 20 ms after the swap and later on a busy machine;
    a row clicked in between called an Edit button htmx had not wired yet, and nothing opened (CI's flaky
    admin flow). Here the row is clicked in the very task that swapped it in, before any timer can run."""
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/rules")
    page.evaluate(
        """() => {
          document.addEventListener("htmx:afterSwap", function once() {
            document.removeEventListener("htmx:afterSwap", once);
            queueMicrotask(function () {
              document.querySelector("#level-global tr.editable").click();
              window.clickedAtOnce = true;
            });
          });
        }"""
    )
    # ↓ on the first rule swaps the whole level back in.
    page.locator("#level-global tr.editable").first.locator(".move-down").click()
    page.wait_for_function("() => window.clickedAtOnce === true")
    page.locator("#level-global tr.editing").wait_for(timeout=5_000)
    assert_clean(page)
    context.close()
