"""`router route explain`: the rule and targets a request would get, and why each earlier rule did not match.

Reads the routing snapshot straight from the database, without LiteLLM (model limits and prices are not
needed to explain a route) and without decrypting any credential.
"""

from __future__ import annotations

import json

import click

from router.cli.common import cli_errors, fail, load_settings, reading, run
from router.routing.explain import Explanation, explain, find_tenant_id
from router.routing.facts import THINKING_MODES, ThinkingMode, request_facts, sample_request
from router.routing.model import RoutingConfig
from router.store.snapshot import ModelFacts, load_routing_config


class _NoCredentials:
    """Explaining a route needs no credential: never decrypt one (no secret key, nor cryptography, needed)."""

    def decrypt(self, token: str, *, provider: str | None = None) -> str:
        return ""


def _no_model_facts(kind: str, model: str) -> ModelFacts:
    return ModelFacts()


@click.group("route")
def route() -> None:
    """Inspect routing decisions."""


@route.command("explain")
@click.option("--tenant", "tenant", default=None, help="Tenant name (or id); without it, global rules only.")
@click.option(
    "--model", "model", required=True, help="The requested model name, e.g. claude-sonnet-4-20250514."
)
@click.option(
    "--thinking",
    type=click.Choice(THINKING_MODES),
    is_flag=False,
    flag_value="enabled",
    default=None,
    help="The request's thinking: enabled (the default when no value is given), adaptive or disabled.",
)
@click.option(
    "--tools", "tools", type=click.IntRange(min=0), default=0, help="Number of tools in the request."
)
@click.option(
    "--tool", "tool_names", multiple=True, help="A tool name or server tool type present (repeatable)."
)
@click.option("--stream", is_flag=True, help="The request streams.")
@click.option("--input-tokens", type=click.IntRange(min=0), default=0, help="Input tokens of the request.")
@click.option("--member", default=None, help="The key's member.")
@click.option(
    "--budget-used-pct",
    "budget_used_pct",
    type=click.FloatRange(min=0),
    default=None,
    help="Spend against the caller's tightest budget, in percent.",
)
@click.option(
    "--user-id",
    "user_id",
    default=None,
    help="The request's metadata.user_id (its session decides a sticky pool's member).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@cli_errors
def explain_command(
    tenant: str | None,
    model: str,
    thinking: ThinkingMode | None,
    tools: int,
    tool_names: tuple[str, ...],
    stream: bool,
    input_tokens: int,
    member: str | None,
    budget_used_pct: float | None,
    user_id: str | None,
    fmt: str,
) -> None:
    """Print the matching rule, the targets in the order they would be tried, and why each rule before
    it did not match."""
    sample = sample_request(
        model, thinking=thinking, tools=tools, tool_names=tool_names, stream=stream, user_id=user_id
    )
    facts = request_facts(sample, input_tokens=input_tokens, member=member, budget_used_pct=budget_used_pct)

    async def load() -> RoutingConfig:
        async with reading(load_settings()) as session:
            return await load_routing_config(session, _NoCredentials(), _no_model_facts, with_keys=False)

    config = run(load())
    tenant_id = None
    if tenant is not None:
        tenant_id = find_tenant_id(config, tenant)
        if tenant_id is None:
            fail(f"no tenant named {tenant!r}")
    result: Explanation = explain(config, tenant_id, facts)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(result.to_text())
