"""LiteLLM stays out until a call needs it: model limits and prices come from its shipped cost map without
importing it, and when it is imported its cost map is the local copy unless the operator opted in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # note: no LITELLM_LOCAL_MODEL_COST_MAP


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_model_facts_come_from_the_shipped_map_without_importing_litellm() -> None:
    out = _python(
        "import json, sys\n"
        "from router.providers.model_info import describe_model\n"
        "f = describe_model('gemini', 'gemini-2.5-pro')\n"
        "print(json.dumps([f.max_input_tokens, f.max_output_tokens, f.price.input > 0, 'litellm' in sys.modules]))"
    )
    max_input, max_output, priced, imported = json.loads(out)
    assert max_input and max_input >= 1_000_000 and max_output and priced
    assert imported is False


def test_litellm_reads_its_local_cost_map_unless_asked_otherwise() -> None:
    out = _python(
        "import os\n"
        "from router.providers import runtime\n"
        "runtime.use_remote_cost_map(False)\n"
        "runtime.litellm()\n"
        "print(os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP'))"
    )
    assert out == "True"


def test_a_hub_answers_at_once_for_targets_needing_litellm_only_once_it_is_loaded() -> None:
    # Readiness asks this: a replica just started must not take traffic for a LiteLLM-path target (here
    # Gemini) that it would hold while LiteLLM loads in the background; Anthropic and OpenAI-wire targets
    # never wait for it.
    out = _python(
        "import json\n"
        "from router.providers import runtime\n"
        "from router.providers.hub import ProviderHub\n"
        "from router.settings import Settings\n"
        "from tests.providers.support import make_target\n"
        "hub = ProviderHub(Settings(_env_file=None))\n"
        "oai, ant = make_target('openai', 'http://x'), make_target('anthropic', 'http://x')\n"
        "gem = make_target('gemini', 'http://x')\n"
        "before = [hub.answers_at_once([ant, oai]), hub.answers_at_once([ant, oai, gem])]\n"
        "runtime.litellm()\n"
        "print(json.dumps([*before, hub.answers_at_once([ant, oai, gem])]))"
    )
    assert json.loads(out) == [True, False, True]
