"""Budget windows from the CLI: `--budget-usd` alone still means a month; `--budget-window` picks day, week
or month; `router budget set/remove/list` handles several budgets of a tenant, a member or a key at once."""

from __future__ import annotations

from tests.cli.test_cli import assert_one_error_line, db_state, invoke


def _listed(db_url: str, *args: str) -> list[list[str]]:
    result = invoke(db_url, "budget", "list", *args)
    assert result.exit_code == 0, result.output
    return [line.split() for line in result.stdout.strip().splitlines()[1:]]


def test_budget_usd_alone_is_a_month_budget_and_budget_window_picks_another(db_url: str) -> None:
    assert invoke(db_url, "tenant", "create", "acme", "--budget-usd", "300").exit_code == 0
    assert (
        invoke(db_url, "tenant", "create", "beta", "--budget-usd", "50", "--budget-window", "week").exit_code
        == 0
    )
    created = invoke(
        db_url,
        "key",
        "create",
        "--tenant",
        "acme",
        "--member",
        "ann",
        "--budget-usd",
        "20",
        "--budget-window",
        "day",
    )
    assert created.exit_code == 0, created.output
    prefix = created.stdout.splitlines()[-1][:12]
    limited = invoke(db_url, "key", "limits", prefix, "--budget-usd", "250")
    assert limited.exit_code == 0 and "budgets_usd 20/day,250/month" in limited.stdout
    tenants = invoke(db_url, "tenant", "list").stdout.strip().splitlines()[1:]
    assert [line.split()[-1] for line in tenants] == ["300/month", "50/week"]
    keys = invoke(db_url, "key", "list").stdout.strip().splitlines()
    assert keys[1].split()[-2] == "20/day,250/month"
    removed = invoke(db_url, "key", "limits", prefix, "--budget-usd", "none", "--budget-window", "day")
    assert removed.exit_code == 0 and "budgets_usd 250/month" in removed.stdout


def test_budget_set_remove_and_list_several_windows_of_each_subject(db_url: str) -> None:
    invoke(db_url, "tenant", "create", "acme")
    prefix = invoke(db_url, "key", "create", "--tenant", "acme", "--member", "ann").stdout.splitlines()[-1][
        :12
    ]
    tenant_set = invoke(db_url, "budget", "set", "--tenant", "acme", "day=100", "month=2000")
    assert (
        tenant_set.exit_code == 0
        and tenant_set.stdout.strip() == "tenant acme: budgets set: 100/day,2000/month"
    )
    member_set = invoke(db_url, "budget", "set", "--tenant", "acme", "--member", "ann", "day=20", "month=300")
    assert member_set.exit_code == 0, member_set.output
    assert invoke(db_url, "budget", "set", "--tenant", "acme", "--key", prefix, "week=50").exit_code == 0
    assert _listed(db_url, "--tenant", "acme") == [
        ["acme", "tenant", "-", "day", "100"],
        ["acme", "tenant", "-", "month", "2000"],
        ["acme", "member", "ann", "day", "20"],
        ["acme", "member", "ann", "month", "300"],
        ["acme", "key", prefix, "week", "50"],
    ]
    removed = invoke(db_url, "budget", "remove", "--tenant", "acme", "--member", "ann", "day", "month")
    assert (
        removed.exit_code == 0
        and removed.stdout.strip() == "member ann of tenant acme: budgets removed: day,month"
    )
    assert [row[1] for row in _listed(db_url)] == ["tenant", "tenant", "key"]


def test_bad_budget_input_is_one_line_and_writes_nothing(db_url: str) -> None:
    invoke(db_url, "tenant", "create", "acme")
    invoke(db_url, "budget", "set", "--tenant", "acme", "day=10")
    before = db_state(db_url)
    assert_one_error_line(
        invoke(db_url, "budget", "set", "--tenant", "acme", "hour=5"), "invalid budget 'hour=5'"
    )
    assert_one_error_line(
        invoke(db_url, "budget", "set", "--tenant", "acme", "day=lots"), "'lots' is not a number"
    )
    assert_one_error_line(
        invoke(db_url, "budget", "set", "--tenant", "nope", "day=1"), "no tenant named 'nope'"
    )
    assert_one_error_line(
        invoke(db_url, "budget", "set", "--tenant", "acme", "--member", "ann", "day=11"),
        "member ann's day budget 11 is more than tenant acme's 10",
    )
    assert_one_error_line(
        invoke(db_url, "tenant", "create", "x", "--budget-window", "day"), "--budget-window needs"
    )
    assert (
        invoke(db_url, "tenant", "create", "y", "--budget-usd", "1", "--budget-window", "year").exit_code == 2
    )
    assert db_state(db_url) == before
