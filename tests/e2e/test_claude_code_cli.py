"""The real Claude Code CLI through the router: it writes a file with Write, runs Bash, reads results back.

Claude Code is an npm package (`make tools` installs it into .tools/); the upstream is the fake, scripted to
answer like a model that uses tools. CI sets ROUTER_REQUIRE_CLAUDE_CODE=1 so that a missing CLI fails the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fakes import Fail, Reply, ToolCall
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import _sqlite_copy

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / ".tools" / "node_modules" / ".bin" / "claude"

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*haiku*", target: oai/gpt-4.1-mini}
  - {match: "*", target: oai/gpt-4.1}
"""


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: routing and storage are proven on both backends elsewhere; this proves the client."""
    return _sqlite_copy(sqlite_template, tmp_path)


def _claude() -> str:
    found = str(CLAUDE) if CLAUDE.exists() else shutil.which("claude")
    if found:
        return found
    if os.environ.get("ROUTER_REQUIRE_CLAUDE_CODE") == "1":
        pytest.fail("Claude Code CLI not installed: run `make tools`")
    pytest.skip("Claude Code CLI not installed (make tools)")


@pytest.mark.parametrize("model", [None, "claude-sonnet-4-5"], ids=["default-model", "with-model-flag"])
def test_claude_code_writes_a_file_runs_bash_and_reads_results(
    live_router: LiveRouter, tmp_path: Path, model: str | None
) -> None:
    claude = _claude()
    live_router.apply(CONFIG)
    key = live_router.key("acme", "cc-user")
    work = tmp_path / "work"
    work.mkdir()
    target = work / "hello.txt"
    upstream = live_router.upstream
    upstream.script(
        Reply(
            text="I'll create the file.",
            tool_calls=[ToolCall("Write", {"file_path": str(target), "content": "hello from the router\n"})],
        ),
        Reply(
            text="Now let me check it.",
            tool_calls=[ToolCall("Bash", {"command": f"cat {target} | wc -c", "description": "Count bytes"})],
        ),
        Reply(text="The file has 22 bytes. Done."),
        model="gpt-4.1",
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": live_router.base_url,
        "ANTHROPIC_AUTH_TOKEN": key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "IS_SANDBOX": "1",
    }
    args = [
        claude,
        "-p",
        "Write 'hello from the router' to hello.txt and count its bytes.",
        "--output-format",
        "json",
        "--dangerously-skip-permissions",
    ]
    if model:
        args += ["--model", model]
    done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    result = json.loads(done.stdout)
    assert "22 bytes" in result["result"]
    assert target.read_text() == "hello from the router\n"
    # The tool results went back to the model through the router, in OpenAI's shape.
    main_calls = upstream.requests_for(model="gpt-4.1")
    assert len(main_calls) == 3
    last = main_calls[-1].json["messages"]
    tool_messages = [m for m in last if m["role"] == "tool"]
    assert len(tool_messages) == 2
    assert "22" in json.dumps(tool_messages[-1])
    for call in upstream.requests:
        assert call.headers["authorization"] == "Bearer sk-openai-provider-credential"


def test_claude_code_reads_a_provider_context_overflow_as_prompt_too_long(
    live_router: LiveRouter, tmp_path: Path
) -> None:
    """Gateway protocol: a context overflow reaches the client as Anthropic's 400 `prompt is too long: N
    tokens > M maximum`, which Claude Code's recovery keys on; here the upstream is OpenAI, whose own
    wording is different."""
    claude = _claude()
    live_router.apply(CONFIG)
    key = live_router.key("acme", "cc-overflow")
    overflow = Fail(
        400,
        "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "131072 tokens. Please reduce the length of the messages.",
    )
    live_router.upstream.script(*([overflow] * 8), model="gpt-4.1")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": live_router.base_url,
        "ANTHROPIC_AUTH_TOKEN": key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "IS_SANDBOX": "1",
    }
    done = subprocess.run(
        [claude, "-p", "Summarise this repository.", "--output-format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(done.stdout)
    # Claude Code recognised its own overflow: the recovery path, with the provider's counts quoted.
    assert result["terminal_reason"] == "prompt_too_long", done.stdout[-2000:]
    assert (result["api_error_status"], result["api_error_type"]) == (400, "invalid_request_error")
    assert "131072 tokens" in result["result"] and "128000" in result["result"]
