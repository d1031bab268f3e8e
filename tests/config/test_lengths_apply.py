"""Over-long text through `router config apply`, on both databases: one character past a column's width is an
`error:` line naming the path and the width, exit 1, and the stored configuration stays as it was; exactly
the width is applied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from router.cli import main
from router.config import lengths as L
from tests.api.conftest import CONFIG

BASE: dict[str, Any] = {
    **yaml.safe_load(CONFIG),
    # Named by nothing: renamed freely.
    "providers": [*yaml.safe_load(CONFIG)["providers"], {"name": "spare", "kind": "openai"}],
    "pools": [{"name": "both", "members": [{"target": "openai/gpt-4.1"}, {"target": "openai/gpt-4.1-mini"}]}],
    "prices": [{"target": "openai/gpt-4.1", "input_per_mtok": 1, "output_per_mtok": 2}],
    "sso": {"members": [{"group": "eng", "tenant": "alpha"}]},
    "alerts": [{"name": "cool", "watch": "cooldown", "webhook": "https://hooks.example.com/T0"}],
}


def ref(n: int) -> str:
    return "openai/" + "m" * (n - 7)


def url(n: int) -> str:
    head = "https://api.example.com/"
    return head + "a" * (n - len(head))


@dataclass(frozen=True)
class Case:
    path: str
    # Sets the field to a value of n characters in the (copied) file.
    put: Callable[[dict[str, Any], int], None]
    width: int


def at(*keys: Any, value: Callable[[int], Any]) -> Callable[[dict[str, Any], int], None]:
    def put(cfg: dict[str, Any], n: int) -> None:
        node: Any = cfg
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value(n)

    return put


CASES = {
    "api_base": Case("providers[0].api_base", at("providers", 0, "api_base", value=url), L.API_BASE_CHARS),
    "api_version": Case(
        "providers[1].api_version",
        at("providers", 1, "api_version", value=lambda n: "v" * n),
        L.API_VERSION_CHARS,
    ),
    "api_key ${ENV}": Case(
        "providers[0].api_key",
        at("providers", 0, "api_key", value=lambda n: "${" + "K" * n + "}"),
        L.ENV_REF_CHARS,
    ),
    "provider name": Case(
        "providers[2].name", at("providers", 2, "name", value=lambda n: "p" * n), L.NAME_CHARS
    ),
    "deployment": Case(
        "deployments[0].deployment",
        at("deployments", 0, "deployment", value=lambda n: "d" * n),
        L.DEPLOYMENT_CHARS,
    ),
    "deployment model": Case(
        "deployments[0].model", at("deployments", 0, "model", value=lambda n: "m" * n), L.MODEL_CHARS
    ),
    "chain target": Case("chains[0].targets[0]", at("chains", 0, "targets", 0, value=ref), L.TARGET_CHARS),
    "pool member": Case(
        "pools[0].members[0].target", at("pools", 0, "members", 0, "target", value=ref), L.TARGET_CHARS
    ),
    "rule match": Case("rules[2].match", at("rules", 2, "match", value=lambda n: "c" * n), L.MATCH_CHARS),
    "rule target": Case("rules[2].target", at("rules", 2, "target", value=ref), L.TARGET_CHARS),
    "rule description": Case(
        "rules[2].description", at("rules", 2, "description", value=lambda n: "d" * n), L.DESCRIPTION_CHARS
    ),
    "tenant rule match": Case(
        "tenants[1].rules[0].match",
        at("tenants", 1, "rules", 0, "match", value=lambda n: "c" * n),
        L.MATCH_CHARS,
    ),
    "price target": Case("prices[0].target", at("prices", 0, "target", value=ref), L.TARGET_CHARS),
    "sso group": Case(
        "sso.members[0].group", at("sso", "members", 0, "group", value=lambda n: "g" * n), L.GROUP_CHARS
    ),
    "webhook host": Case(
        "alerts[0].webhook",
        at("alerts", 0, "webhook", value=lambda n: f"https://{'h' * n}/T0"),
        L.WEBHOOK_HOST_CHARS,
    ),
}


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("ROUTER_DATABASE_URL", db_url)
    monkeypatch.setenv("ROUTER_SECRET_KEY", "cli test secret")
    for n in (L.ENV_REF_CHARS, L.ENV_REF_CHARS + 1):
        monkeypatch.setenv("K" * n, "sk-from-a-long-name")
    monkeypatch.chdir(tmp_path)
    Path("base.yaml").write_text(yaml.safe_dump(BASE))
    runner = CliRunner()
    applied = runner.invoke(main, ["config", "apply", "base.yaml"])
    assert applied.exit_code == 0, applied.output
    return runner


def with_field(case: Case, n: int) -> str:
    cfg = yaml.safe_load(yaml.safe_dump(BASE))
    case.put(cfg, n)
    Path("changed.yaml").write_text(yaml.safe_dump(cfg))
    return "changed.yaml"


def exported(cli: CliRunner) -> str:
    result = cli.invoke(main, ["config", "export"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_one_character_too_many_is_an_error_line_naming_the_path(cli: CliRunner, case: Case) -> None:
    before = exported(cli)
    result = cli.invoke(main, ["config", "apply", with_field(case, case.width + 1)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: changed.yaml: {case.path}: "), errors
    assert str(case.width) in errors[0], errors
    assert exported(cli) == before


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_value_of_the_full_width_is_applied(cli: CliRunner, case: Case) -> None:
    result = cli.invoke(main, ["config", "apply", with_field(case, case.width)])
    assert result.exit_code == 0, result.output
