"""The shipped parameter table: generated from the installed LiteLLM, equal to its answers, and what lets an
OpenAI-wire target answer before LiteLLM is imported."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Hashable
from pathlib import Path

import pytest

from router.providers import param_table, params
from router.providers.param_table_build import PARAM_NAMES, STRING_VALUES, build, rendered
from tests.fakes.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)  # about 20 s of CPU: a loaded machine stretches it
def test_shipped_table_is_what_the_installed_litellm_generates() -> None:
    regenerated = rendered(build())

    assert regenerated == param_table.TABLE_FILE.read_text(encoding="utf-8"), (
        "router/providers/param_table.json is stale: run `make param-table` and commit the file"
    )


def _random_key(rng: random.Random) -> tuple[tuple[str, Hashable], ...]:
    key: list[tuple[str, Hashable]] = []
    for name in rng.sample(PARAM_NAMES, rng.randint(1, len(PARAM_NAMES))):
        value: Hashable = None
        if name in ("temperature", "top_p"):
            value = rng.choice([round(rng.uniform(0, 2), 3), 1, 1.0, 0, 0.5])
        elif name in STRING_VALUES:
            value = rng.choice([*STRING_VALUES[name], None] if name == "tool_choice" else STRING_VALUES[name])
        key.append((name, value))
    return tuple(sorted(key))


@pytest.mark.parametrize(
    ("provider", "model", "api_version"),
    [
        ("openai", "gpt-4o", None),
        ("openai", "gpt-4.1-mini", None),
        ("openai", "o3-mini", None),
        ("openai", "gpt-5", None),
        ("openai", "gpt-5.1", None),
        ("openai", "bench-model", None),
        ("openai", "my-llama-finetune", None),
        ("deepseek", "deepseek-reasoner", None),
        ("azure", "gpt-4o", "2024-10-21"),
        ("azure", "o3-mini", "2025-04-01-preview"),
        ("azure", "gpt-5", ""),
    ],
)
def test_table_answers_exactly_as_litellm_for_random_parameter_sets(
    provider: str, model: str, api_version: str | None
) -> None:
    rng = random.Random(f"{provider}/{model}")
    answered = 0
    for _ in range(300):
        key = _random_key(rng)
        found = param_table.lookup(provider, model, model, api_version, key)
        if found is None:
            continue  # the router asks LiteLLM for these
        answered += 1
        plan = params.plan_with_litellm(provider, model, model, api_version, key)
        assert found == (plan.renames, plan.fixed), key
    assert answered >= 100  # most requests never need LiteLLM


def test_table_leaves_to_litellm_what_it_cannot_answer_exactly() -> None:
    # gpt-5.1 keeps temperature only with reasoning_effort "none": a pair the generator found interacting.
    assert (
        param_table.lookup("openai", "gpt-5.1", "gpt-5.1", None, (("reasoning_effort", "none"),)) is not None
    )
    assert (
        param_table.lookup(
            "openai", "gpt-5.1", None, None, (("reasoning_effort", "none"), ("temperature", 0.5))
        )
        is None
    )
    # An Azure API version the table was not generated for; a parameter it does not know.
    assert param_table.lookup("azure", "gpt-4o", "gpt-4o", "2023-05-15", (("max_tokens", None),)) is None
    assert param_table.lookup("openai", "gpt-4o", "gpt-4o", None, (("logit_bias", None),)) is None
    # Names LiteLLM classifies by pattern are never taken for its unknown model.
    assert not param_table.plain_unknown("my-gpt-5-finetune")
    assert not param_table.plain_unknown("org/model")
    assert param_table.plain_unknown("bench-model")


_SCRIPT = """
import asyncio, dataclasses, json, sys
from router.providers import ProviderHub, runtime
from router.settings import Settings
from tests.providers.support import make_call, make_target

runtime.preload = lambda then=None: None  # no background import: the call alone decides whether it needs it

async def main(base, model, version):
    hub = ProviderHub(Settings(upstream_connect_timeout=2.0))
    await hub.start()
    if version is None:
        target = dataclasses.replace(make_target("openai", base), upstream_model=model, base_model=model)
    else:  # the Azure deployment of `model`, called with API version `version`
        target = make_target("azure", base)
        deployment = dataclasses.replace(target.deployment, model=model, api_version=version)
        target = dataclasses.replace(target, deployment=deployment, base_model=model)
    message = await hub.complete(make_call(target, body={"temperature": 0.5}))
    before = "litellm" in sys.modules
    events = [e async for e in hub.stream(make_call(target, stream=True, body={"temperature": 0.5}))]
    await hub.close()
    print(json.dumps([message["type"], events[-1]["type"], before, "litellm" in sys.modules]))

asyncio.run(main(*json.loads(sys.argv[1])))
"""


def _first_calls(base: str, model: str, api_version: str | None) -> list[object]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps([base, model, api_version])],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: list[object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_openai_wire_target_answers_without_importing_litellm(fake_upstream: FakeUpstream) -> None:
    assert _first_calls(fake_upstream.base_url, "o3-mini", None) == ["message", "message_stop", False, False]

    sent = fake_upstream.requests_for("openai")
    assert len(sent) == 2
    for request in sent:  # mapped as LiteLLM maps an o-series model: no temperature, max_completion_tokens
        assert request.json["max_completion_tokens"] == 4000
        assert "max_tokens" not in request.json and "temperature" not in request.json


def test_call_the_table_cannot_answer_waits_for_litellm(fake_upstream: FakeUpstream) -> None:
    assert _first_calls(fake_upstream.base_url, "gpt-4o", "2023-05-15") == [
        "message",
        "message_stop",
        True,
        True,
    ]

    sent = fake_upstream.requests_for("azure")
    assert len(sent) == 2 and all(r.json["temperature"] == 0.5 for r in sent)
