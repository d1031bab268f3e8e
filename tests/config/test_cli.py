"""`router config apply/export/check` and `router route explain` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from router.cli import main
from tests.config.conftest import ENV, EXAMPLE, SECRETS


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("ROUTER_DATABASE_URL", db_url)
    monkeypatch.setenv("ROUTER_SECRET_KEY", "cli test secret")
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(EXAMPLE)
    return CliRunner()


def test_apply_prints_changes_then_no_changes(cli: CliRunner) -> None:
    dry = cli.invoke(main, ["config", "apply", "--dry-run", "config.yaml"])
    assert dry.exit_code == 0, dry.output
    assert "+ provider azure-eu" in dry.output and "dry run" in dry.output
    first = cli.invoke(main, ["config", "apply", "config.yaml"])
    assert first.exit_code == 0, first.output
    assert "+ tenant acme rule[0] claude-opus-* -> deployment/gpt4o-eu" in first.output
    again = cli.invoke(main, ["config", "apply", "config.yaml"])
    assert again.output.strip() == "no changes"


def test_export_writes_references_and_lists_the_variables(cli: CliRunner) -> None:
    assert cli.invoke(main, ["config", "apply", "config.yaml"]).exit_code == 0
    result = cli.invoke(main, ["config", "export", "-o", "out.yaml"])
    assert result.exit_code == 0, result.output
    text = Path("out.yaml").read_text()
    assert "${OPENAI_API_KEY}" in text and not any(s in text for s in SECRETS)
    assert "to apply this file, set: AZURE_API_KEY, GEMINI_API_KEY, OPENAI_API_KEY" in result.output
    assert cli.invoke(main, ["config", "apply", "out.yaml"]).output.strip() == "no changes"


def test_a_bad_file_exits_1_naming_each_problem(cli: CliRunner) -> None:
    Path("bad.yaml").write_text(
        EXAMPLE.replace("chain: big}", "chain: bigg}").replace("kind: gemini", "knd: gemini")
    )
    result = cli.invoke(main, ["config", "apply", "bad.yaml"])
    assert result.exit_code == 1
    assert "providers[1].knd: unknown key" in result.output
    assert "nothing was applied" in result.output
    check = cli.invoke(main, ["config", "check", "config.yaml"])
    assert check.exit_code == 0 and "ok (3 providers, 1 chains, 4 rules, 1 tenants)" in check.output


def test_route_explain_text_and_json(cli: CliRunner) -> None:
    assert cli.invoke(main, ["config", "apply", "config.yaml"]).exit_code == 0
    text = cli.invoke(
        main, ["route", "explain", "--tenant", "acme", "--model", "claude-sonnet-4", "--thinking"]
    )
    assert text.exit_code == 0, text.output
    assert "global rule[1] '*': matches" in text.output
    assert "1. gemini/gemini-2.5-pro" in text.output
    raw = cli.invoke(
        main, ["route", "explain", "--tenant", "acme", "--model", "claude-opus-4", "--format", "json"]
    )
    data = json.loads(raw.output)
    assert data["rule"]["level"] == "tenant" and data["targets"] == ["deployment/gpt4o-eu"]
    missing = cli.invoke(main, ["route", "explain", "--tenant", "nobody", "--model", "m"])
    assert missing.exit_code == 1 and "no tenant named 'nobody'" in missing.output


def test_dry_run_lists_changes_made_outside_apply_since_the_last_one(cli: CliRunner, db_url: str) -> None:
    from router.store import catalog
    from router.store.db import Database
    from tests.fixtures.db import run_async

    assert cli.invoke(main, ["config", "apply", "config.yaml"]).exit_code == 0

    async def edit_in_the_page() -> None:
        db = Database(db_url)
        try:
            async with db.transaction() as session:
                rule = (await catalog.list_rules(session, None))[0]
                await catalog.patch_rule(
                    session, rule.id, {"description": "edited in the page"}, actor="alice"
                )
        finally:
            await db.dispose()

    run_async(edit_in_the_page())
    dry = cli.invoke(main, ["config", "apply", "--dry-run", "config.yaml"])
    assert dry.exit_code == 0, dry.output
    assert "changed outside `config apply` since the last apply" in dry.output
    assert "alice: update rule" in dry.output
    assert cli.invoke(main, ["config", "apply", "config.yaml"]).exit_code == 0
    again = cli.invoke(main, ["config", "apply", "--dry-run", "config.yaml"])
    assert "changed outside" not in again.output
