"""Test-wide set-up: fixture plugins, and LiteLLM kept off the network."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fakes.fixtures",
    "tests.fakes.oidc",
    "tests.fixtures.app",
]
