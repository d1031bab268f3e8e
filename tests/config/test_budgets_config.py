"""Budget windows in the config file: `limits.budgets` by window (with `limits.budget_usd` still the month
budget) and `member_budgets`; applied, exported and applied again without a change, validated by path."""

from __future__ import annotations

import pytest
import yaml

from router.config.drafts import ConfigInvalid
from router.store.budgets import list_budgets
from router.store.crypto import CredentialCipher
from router.store.db import Database
from tests.config.conftest import EXAMPLE, apply, export

WITH_BUDGETS = EXAMPLE.replace(
    "  - name: acme\n",
    "  - name: acme\n"
    "    limits: {rpm: 60, budgets: {month: 3000, day: 200}}\n"
    "    member_budgets:\n"
    "      ann@example.com: {day: 20, month: 300}\n"
    "      bob@example.com: {week: 50}\n",
)


async def _budgets(database: Database) -> list[tuple[str, str, str, float]]:
    async with database.session() as session:
        return [
            (b.subject_kind, b.subject, b.window, b.amount_usd) for b in await list_budgets(session, "acme")
        ]


async def test_budgets_by_window_and_member_budgets_apply_export_and_round_trip(
    database: Database, cipher: CredentialCipher
) -> None:
    lines = (await apply(database, WITH_BUDGETS, cipher)).lines()
    assert "+ tenant acme" in lines
    assert await _budgets(database) == [
        ("tenant", "", "day", 200.0),
        ("tenant", "", "month", 3000.0),
        ("member", "ann@example.com", "day", 20.0),
        ("member", "ann@example.com", "month", 300.0),
        ("member", "bob@example.com", "week", 50.0),
    ]
    exported = await export(database)
    acme = next(t for t in yaml.safe_load(exported.text)["tenants"] if t["name"] == "acme")
    assert acme["limits"] == {"rpm": 60, "budgets": {"day": 200.0, "month": 3000.0}}
    assert acme["member_budgets"] == {
        "ann@example.com": {"day": 20.0, "month": 300.0},
        "bob@example.com": {"week": 50.0},
    }
    assert (await apply(database, exported.text, cipher)).lines() == ["no changes"]

    # Editing the file: bob's budget goes, ann's day budget changes, the tenant's day budget goes.
    edited = WITH_BUDGETS.replace("      bob@example.com: {week: 50}\n", "").replace("day: 20,", "day: 25,")
    edited = edited.replace("budgets: {month: 3000, day: 200}", "budget_usd: 3000")
    lines = (await apply(database, edited, cipher)).lines()
    assert lines == ["~ tenant acme (budgets: day, ann@example.com/day, bob@example.com/week)"]
    assert await _budgets(database) == [
        ("tenant", "", "month", 3000.0),
        ("member", "ann@example.com", "day", 25.0),
        ("member", "ann@example.com", "month", 300.0),
    ]
    again = await export(database)
    acme = next(t for t in yaml.safe_load(again.text)["tenants"] if t["name"] == "acme")
    assert acme["limits"] == {"rpm": 60, "budget_usd": 3000.0}  # a month budget alone keeps its shorthand
    assert (await apply(database, again.text, cipher)).lines() == ["no changes"]


@pytest.mark.parametrize(
    ("limits", "members", "expected"),
    [
        (
            "{budgets: {hour: 5}}",
            "{}",
            "tenants[0].limits.budgets.hour: must be day, week or month, not 'hour'",
        ),
        ("{budgets: {day: -1}}", "{}", "tenants[0].limits.budgets.day: must be a number >= 0, not -1"),
        ("{budget_usd: 10, budgets: {month: 20}}", "{}", "tenants[0].limits.budgets.month: given twice"),
        ("{budgets: {day: 10}}", "{ann: {day: 11}}", "tenants[0].member_budgets.ann.day: 11 is more than"),
        (
            "{}",
            "{ann: {fortnight: 1}}",
            "tenants[0].member_budgets.ann.fortnight: must be day, week or month",
        ),
    ],
)
async def test_a_bad_budget_in_the_file_names_its_path_and_applies_nothing(
    database: Database, cipher: CredentialCipher, limits: str, members: str, expected: str
) -> None:
    bad = EXAMPLE.replace(
        "  - name: acme\n", f"  - name: acme\n    limits: {limits}\n    member_budgets: {members}\n"
    )
    with pytest.raises(ConfigInvalid) as exc:
        await apply(database, bad, cipher)
    messages = [str(i) for i in exc.value.issues]
    assert any(m.startswith(expected) for m in messages), messages
    assert await _budgets_or_none(database) == []


async def _budgets_or_none(database: Database) -> list[tuple[str, str, str, float]]:
    async with database.session() as session:
        return [(b.subject_kind, b.subject, b.window, b.amount_usd) for b in await list_budgets(session)]
