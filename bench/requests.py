"""The request bodies the benchmark sends, built once and encoded once.

`claude_code()` is shaped like what Claude Code sends on a working session: a system block list with
cache_control, ~20 tools with real-looking JSON schemas and long descriptions, and a few turns with tool_use
and tool_result blocks; about 50 KB encoded. `tiny()` is a one-word "hi". `openai_equivalent()` turns either
into the chat-completions body a proxy would send upstream, for the floor measurement straight at the fake
upstream.
"""

from __future__ import annotations

import json
from typing import Any

MODEL = "claude-sonnet-4-5-20250929"

# Real-looking filler: the prose of tool descriptions is what makes Claude Code requests large.
_PROSE = (
    "Use this tool when the task needs it and prefer it over shell equivalents. Before using it, check that "
    "the "
    "path or pattern exists and that you have read the relevant files first; never guess at file contents. "
    "Results longer than the output limit are truncated, so narrow the query when you can. When several "
    "independent calls are needed, make them in parallel in one message rather than one after another. "
)


def _desc(summary: str, paragraphs: int) -> str:
    usage = "\n".join(f"- Note {i + 1}: {_PROSE}" for i in range(paragraphs))
    return f"{summary}\n\nUsage notes:\n{usage}"


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }


def _s(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _tools() -> list[dict[str, Any]]:
    todo_item = _obj(
        {
            "content": {"type": "string", "minLength": 1},
            "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
            "activeForm": {"type": "string", "minLength": 1},
        },
        ["content", "status", "activeForm"],
    )
    specs: list[tuple[str, str, int, dict[str, Any]]] = [
        (
            "Task",
            "Launch a new agent to handle complex, multi-step tasks autonomously.",
            5,
            _obj(
                {
                    "description": _s("A short (3-5 word) description of the task"),
                    "prompt": _s("The task"),
                    "subagent_type": _s("The type of specialized agent to use"),
                },
                ["description", "prompt", "subagent_type"],
            ),
        ),
        (
            "Bash",
            "Executes a given bash command in a persistent shell session with optional timeout.",
            8,
            _obj(
                {
                    "command": _s("The command to execute"),
                    "timeout": {
                        "type": "number",
                        "description": "Optional timeout in milliseconds (max 600000)",
                    },
                    "description": _s("Clear, concise description of what this command does in 5-10 words"),
                    "run_in_background": {
                        "type": "boolean",
                        "description": "Run this command in the background",
                    },
                },
                ["command"],
            ),
        ),
        (
            "Glob",
            "Fast file pattern matching tool that works with any codebase size.",
            3,
            _obj(
                {
                    "pattern": _s("The glob pattern to match files against"),
                    "path": _s("The directory to search in. Defaults to the current working directory."),
                },
                ["pattern"],
            ),
        ),
        (
            "Grep",
            "A powerful search tool built on ripgrep.",
            4,
            _obj(
                {
                    "pattern": _s("The regular expression pattern to search for in file contents"),
                    "path": _s("File or directory to search in"),
                    "glob": _s("Glob pattern to filter files"),
                    "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]},
                    "-B": {"type": "number"},
                    "-A": {"type": "number"},
                    "-C": {"type": "number"},
                    "-n": {"type": "boolean"},
                    "-i": {"type": "boolean"},
                    "type": _s("File type to search"),
                    "head_limit": {"type": "number"},
                    "multiline": {"type": "boolean"},
                },
                ["pattern"],
            ),
        ),
        (
            "ExitPlanMode",
            "Use this tool when you are in plan mode and have finished presenting your plan.",
            2,
            _obj(
                {"plan": _s("The plan you came up with, that you want to run by the user for approval.")},
                ["plan"],
            ),
        ),
        (
            "Read",
            "Reads a file from the local filesystem.",
            5,
            _obj(
                {
                    "file_path": _s("The absolute path to the file to read"),
                    "offset": {"type": "number", "description": "The line number to start reading from"},
                    "limit": {"type": "number", "description": "The number of lines to read"},
                },
                ["file_path"],
            ),
        ),
        (
            "Edit",
            "Performs exact string replacements in files.",
            5,
            _obj(
                {
                    "file_path": _s("The absolute path to the file to modify"),
                    "old_string": _s("The text to replace"),
                    "new_string": _s("The text to replace it with"),
                    "replace_all": {"type": "boolean", "default": False},
                },
                ["file_path", "old_string", "new_string"],
            ),
        ),
        (
            "MultiEdit",
            "Makes multiple edits to a single file in one operation.",
            5,
            _obj(
                {
                    "file_path": _s("The absolute path to the file to modify"),
                    "edits": {
                        "type": "array",
                        "minItems": 1,
                        "items": _obj(
                            {
                                "old_string": _s("The text to replace"),
                                "new_string": _s("The replacement"),
                                "replace_all": {"type": "boolean", "default": False},
                            },
                            ["old_string", "new_string"],
                        ),
                    },
                },
                ["file_path", "edits"],
            ),
        ),
        (
            "Write",
            "Writes a file to the local filesystem.",
            3,
            _obj(
                {"file_path": _s("The absolute path to the file to write"), "content": _s("The content")},
                ["file_path", "content"],
            ),
        ),
        (
            "NotebookEdit",
            "Completely replaces the contents of a specific cell in a Jupyter notebook.",
            2,
            _obj(
                {
                    "notebook_path": _s("The absolute path to the notebook"),
                    "cell_id": _s("The ID of the cell"),
                    "new_source": _s("The new source for the cell"),
                    "cell_type": {"type": "string", "enum": ["code", "markdown"]},
                    "edit_mode": {"type": "string", "enum": ["replace", "insert", "delete"]},
                },
                ["notebook_path", "new_source"],
            ),
        ),
        (
            "WebFetch",
            "Fetches content from a specified URL and processes it using an AI model.",
            4,
            _obj(
                {
                    "url": {"type": "string", "format": "uri"},
                    "prompt": _s("The prompt to run on the content"),
                },
                ["url", "prompt"],
            ),
        ),
        (
            "TodoWrite",
            "Use this tool to create and manage a structured task list for your current session.",
            7,
            _obj(
                {"todos": {"type": "array", "items": todo_item, "description": "The updated todo list"}},
                ["todos"],
            ),
        ),
        (
            "WebSearch",
            "Allows Claude to search the web and use the results to inform responses.",
            3,
            _obj(
                {
                    "query": {"type": "string", "minLength": 2},
                    "allowed_domains": {"type": "array", "items": {"type": "string"}},
                    "blocked_domains": {"type": "array", "items": {"type": "string"}},
                },
                ["query"],
            ),
        ),
        (
            "BashOutput",
            "Retrieves output from a running or completed background bash shell.",
            2,
            _obj(
                {"bash_id": _s("The ID of the background shell"), "filter": _s("Optional regex filter")},
                ["bash_id"],
            ),
        ),
        (
            "KillShell",
            "Kills a running background bash shell by its ID.",
            1,
            _obj({"shell_id": _s("The ID of the background shell to kill")}, ["shell_id"]),
        ),
        (
            "SlashCommand",
            "Execute a slash command within the main conversation.",
            3,
            _obj({"command": _s("The slash command to execute with its arguments")}, ["command"]),
        ),
        (
            "mcp__ide__getDiagnostics",
            "Get language diagnostics from VS Code.",
            1,
            _obj({"uri": _s("Optional file URI to get diagnostics for")}, []),
        ),
        (
            "mcp__ide__executeCode",
            "Execute python code in the Jupyter kernel for the current notebook file.",
            2,
            _obj({"code": _s("The code to be executed on the kernel.")}, ["code"]),
        ),
        (
            "mcp__github__search_issues",
            "Search for issues and pull requests across GitHub repositories.",
            2,
            _obj(
                {
                    "q": _s("Search query using GitHub issues search syntax"),
                    "sort": {"type": "string", "enum": ["comments", "reactions", "created", "updated"]},
                    "order": {"type": "string", "enum": ["asc", "desc"]},
                    "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
                    "page": {"type": "integer", "minimum": 1},
                },
                ["q"],
            ),
        ),
        (
            "mcp__github__get_pull_request",
            "Get details of a specific pull request.",
            1,
            _obj(
                {
                    "owner": _s("Repository owner"),
                    "repo": _s("Repository name"),
                    "pull_number": {"type": "number", "description": "Pull request number"},
                },
                ["owner", "repo", "pull_number"],
            ),
        ),
    ]
    return [
        {"name": name, "description": _desc(summary, paras), "input_schema": schema}
        for name, summary, paras, schema in specs
    ]


_SOURCE = "\n".join(
    f"{i:>5}\tdef handler_{i}(request: Request) -> Response:  # returns the page for item {i}"
    for i in range(1, 90)
)


def _messages() -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "<system-reminder>\nAs you answer the user's questions, you can use the "
                    "following context:\n# claudeMd\nCodebase and user instructions are shown below.\n"
                    + _PROSE * 3
                    + "\n</system-reminder>",
                },
                {
                    "type": "text",
                    "text": "The handlers in app/views.py return 500 when the item is missing. "
                    "Find why and fix it, then run the tests.",
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll look at the handlers first."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A",
                    "name": "Grep",
                    "input": {
                        "pattern": "def handler_",
                        "path": "app/views.py",
                        "output_mode": "content",
                        "-n": True,
                    },
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": _SOURCE[:3000]},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_01B",
                    "name": "Read",
                    "input": {"file_path": "/home/dev/project/app/views.py", "offset": 1, "limit": 200},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01B",
                    "content": [{"type": "text", "text": _SOURCE}],
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "text",
                    "text": "The lookup raises KeyError instead of returning 404. Running the tests.",
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01C",
                    "name": "Bash",
                    "input": {
                        "command": "python -m pytest tests/test_views.py -q",
                        "description": "Run view tests",
                    },
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01C",
                    "is_error": True,
                    "content": "FAILED tests/test_views.py::test_missing_item - KeyError: 42\n"
                    "1 failed, 88 passed",
                },
                {"type": "text", "text": "go ahead and fix it", "cache_control": {"type": "ephemeral"}},
            ],
        },
    ]


def claude_code(stream: bool) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 32000,
        "temperature": 1,
        "stream": stream,
        "metadata": {"user_id": "user_bench_account__session_0000"},
        "system": [
            {
                "type": "text",
                "text": "You are Claude Code, Anthropic's official CLI for Claude.",
                "cache_control": {"type": "ephemeral"},
            },
            {
                "type": "text",
                "text": "You are an interactive CLI tool that helps users with software engineering "
                "tasks.\n\n# Tone and style\n"
                + _PROSE
                * 8
                + "\n<env>\nWorking directory: /home/dev/project\n"
                "Is directory a git repo: Yes\nPlatform: linux\n</env>",
                "cache_control": {"type": "ephemeral"},
            },
        ],
        "tools": _tools(),
        "messages": _messages(),
    }


def tiny(stream: bool) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content if b.get("type") == "text")


def openai_equivalent(body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """The chat-completions body a proxy sends upstream for `body` (the floor's request)."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text(system)})
    for msg in body["messages"]:
        content = msg["content"]
        if isinstance(content, str):
            messages.append({"role": msg["role"], "content": content})
            continue
        tool_calls = [
            {
                "id": b["id"],
                "type": "function",
                "function": {"name": b["name"], "arguments": json.dumps(b["input"])},
            }
            for b in content
            if b["type"] == "tool_use"
        ]
        for b in content:
            if b["type"] == "tool_result":
                messages.append(
                    {"role": "tool", "tool_call_id": b["tool_use_id"], "content": _text(b["content"])}
                )
        text = _text(content)
        if msg["role"] == "assistant":
            out: dict[str, Any] = {"role": "assistant", "content": text or None}
            if tool_calls:
                out["tool_calls"] = tool_calls
            messages.append(out)
        elif text:
            messages.append({"role": "user", "content": text})
    out_body: dict[str, Any] = {
        "model": upstream_model,
        "messages": messages,
        "max_tokens": body["max_tokens"],
        "stream": body["stream"],
    }
    if body.get("tools"):
        out_body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t["description"],
                    "parameters": t["input_schema"],
                },
            }
            for t in body["tools"]
        ]
    if body["stream"]:
        out_body["stream_options"] = {"include_usage": True}
    return out_body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
