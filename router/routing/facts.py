"""The request facts a rule looks at, taken from a Messages request by ONE function.

The live path (`gateway/`) and the explanations (`router route explain`, the page's try-it box) both call
`request_facts()` on a `MessagesRequest`: the gateway on the one the client sent, the explanations on one
`sample_request()` builds from their inputs. So what a condition sees can never differ between the two.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Literal

from router.routing.model import RequestFacts
from router.wire.content import Message
from router.wire.requests import (
    MessagesRequest,
    Metadata,
    ThinkingAdaptive,
    ThinkingConfig,
    ThinkingDisabled,
    ThinkingEnabled,
    Tool,
)

__all__ = [
    "THINKING_MODES",
    "ThinkingMode",
    "request_facts",
    "sample_request",
    "session_of",
    "thinking_on",
]

_SESSION = re.compile(r"session_([0-9A-Za-z-]{1,100})")
_MAX_SESSION = 200

ThinkingMode = Literal["enabled", "adaptive", "disabled"]
THINKING_MODES: tuple[ThinkingMode, ...] = ("enabled", "adaptive", "disabled")


def thinking_on(thinking: ThinkingConfig | None) -> bool:
    """Extended thinking is on when enabled (with a budget) or adaptive; off when disabled or absent."""
    return isinstance(thinking, ThinkingEnabled | ThinkingAdaptive)


def tool_names(tools: Iterable[Tool] | None) -> frozenset[str]:
    """Each tool's name, and a server tool's type too (`web_search_20250305`)."""
    names: set[str] = set()
    for tool in tools or ():
        names.add(tool.name)
        if tool.type:
            names.add(tool.type)
    return frozenset(names)


def session_of(user_id: str | None) -> str | None:
    """The client session in `metadata.user_id`: Claude Code sends `user_<hash>_account_<id>_session_<uuid>`
    or a JSON object with `session_id`; any other value is taken whole (bounded) as the session."""
    if not user_id:
        return None
    if user_id.startswith("{"):
        try:
            parsed = json.loads(user_id)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str) and parsed["session_id"]:
            return str(parsed["session_id"])[:_MAX_SESSION]
    found = _SESSION.search(user_id)
    if found:
        return found.group(1)
    return user_id[:_MAX_SESSION]


def request_facts(
    req: MessagesRequest,
    *,
    input_tokens: int,
    member: str | None,
    budget_used_pct: float | None = None,
) -> RequestFacts:
    """What a rule can see of `req`; `input_tokens` is the caller's estimate of the prompt's size and
    `budget_used_pct` its spend against its tightest budget (usage/limits.py reads it)."""
    return RequestFacts(
        model=req.model,
        thinking=thinking_on(req.thinking),
        tools=bool(req.tools),
        tool_names=tool_names(req.tools),
        stream=req.stream,
        input_tokens=max(0, input_tokens),
        member=member,
        session=session_of(req.metadata.user_id if req.metadata is not None else None),
        budget_used_pct=budget_used_pct,
    )


def sample_request(
    model: str,
    *,
    thinking: ThinkingMode | None = None,
    tools: int = 0,
    tool_names: Iterable[str] = (),
    stream: bool = False,
    user_id: str | None = None,
) -> MessagesRequest:
    """A request with the given traits, for explaining a route without a client's body.

    `tools` client tools are added (named `tool_1`, ...) besides the named ones; a named tool is a client
    tool of that name, which a condition on a server tool's type matches too (see `tool_present`).
    """
    config: ThinkingConfig | None = None
    if thinking == "enabled":
        config = ThinkingEnabled(budget_tokens=1024)
    elif thinking == "adaptive":
        config = ThinkingAdaptive()
    elif thinking == "disabled":
        config = ThinkingDisabled()
    named = list(dict.fromkeys(tool_names))
    unnamed = [f"tool_{i + 1}" for i in range(max(0, tools - len(named)))]
    tool_list = [Tool(name=name, input_schema={"type": "object"}) for name in [*named, *unnamed]]
    return MessagesRequest(
        model=model,
        max_tokens=2048,
        messages=[Message(role="user", content="")],
        stream=stream,
        tools=tool_list or None,
        thinking=config,
        metadata=Metadata(user_id=user_id) if user_id else None,
    )
