"""Hostile request bodies on /v1/messages and /v1/messages/count_tokens: every answer is a 2xx or a 4xx in
Anthropic's error shape, never a 5xx and never a stack trace. Bodies reach every provider path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.fixtures.app import LiveRouter
from tests.hardening.support import assert_error_body, parse_sse

EVERY_PATH = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
  - {name: gem, kind: gemini, api_base: "${UPSTREAM}", api_key: "${GEMINI_API_KEY}"}
  - {name: ant, kind: anthropic, api_base: "${UPSTREAM}", api_key: "${ANTHROPIC_API_KEY}"}
  - {name: azure-eu, kind: azure, api_base: "${UPSTREAM}", api_key: "${AZURE_API_KEY}", api_version: "2024-10-21"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-prod, model: gpt-4o}
rules:
  - {match: "claude-opus-*", target: gem/gemini-2.5-pro}
  - {match: "claude-haiku-*", target: ant/claude-haiku-4-5}
  - {match: "claude-3*", target: deployment/gpt4o-eu}
  - {match: "*", target: oai/gpt-4.1}
"""
# One model name per provider path (OpenAI wire, Gemini through LiteLLM, Anthropic native, Azure).
MODELS = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5", "claude-3-7-sonnet-latest"]
PATHS = ["/v1/messages", "/v1/messages/count_tokens"]


# Huge bodies (10k tools) take LiteLLM's Gemini path seconds of CPU before its first byte on a loaded
# machine: these tests are about the answer's shape, not the first-byte timeout, so give it room.
ROUTER_OVERRIDES: dict[str, Any] = {"upstream_first_byte_timeout": 15.0, "upstream_timeout": 60.0}


@pytest.fixture(scope="module")
def target(module_router: LiveRouter) -> tuple[LiveRouter, str]:
    module_router.apply(EVERY_PATH)
    return module_router, module_router.key("acme", "fuzzer")


def check_answer(response: httpx.Response) -> None:
    """2xx with a well-formed body, or a 4xx in Anthropic's error shape; anything else fails."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:1000]}"
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert_error_body(response)
        return
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        sse = parse_sse(response.content)
        assert sse.types[-1] in ("message_stop", "error"), sse.types[-3:]
        if sse.types[-1] == "error":
            # An error after the first byte must not be a server fault either.
            assert sse.events[-1]["error"]["type"] not in ("api_error",), sse.events[-1]
        return
    body = response.json()
    assert body.get("type") in ("message", None), body
    if body.get("type") == "message":
        assert body["role"] == "assistant"
    else:
        assert isinstance(body.get("input_tokens"), int), body


# One keep-alive client per server for the whole module: thousands of requests, no per-request set-up.
_CLIENTS: dict[str, httpx.Client] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    for client in _CLIENTS.values():
        client.close()
    _CLIENTS.clear()


def post_raw(router: LiveRouter, key: str, path: str, raw: bytes, **headers: str) -> httpx.Response:
    http = _CLIENTS.get(router.base_url)
    if http is None:
        http = _CLIENTS[router.base_url] = httpx.Client(base_url=router.base_url, timeout=30)
    return http.post(
        path, content=raw, headers={"x-api-key": key, "content-type": "application/json", **headers}
    )


# ---- hand-picked nasties -------------------------------------------------------------------------------


DEEP = "__deep__"


def _deep_array(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def _deep_schema(depth: int) -> bytes:
    return b'{"type": "object", "properties": {"a": ' * depth + b'{"type": "string"}' + b"}}" * depth


def encode(body: dict[str, Any], deep: bytes = b"") -> bytes:
    """JSON for `body`, with the string "__deep__" replaced by `deep` (too deep for json.dumps to build)."""
    raw = json.dumps(body).encode()
    return raw.replace(f'"{DEEP}"'.encode(), deep) if deep else raw


def _good(model: str = MODELS[0], **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}], **extra}


RAW_NASTIES: dict[str, bytes] = {
    "empty": b"",
    "null": b"null",
    "array": b"[]",
    "string": b'"hello"',
    "number": b"1e999999",
    "truncated": b'{"model": "claude-sonnet-4-5", "max_tokens": 3',
    "bom": b"\xef\xbb\xbf" + json.dumps(_good()).encode(),
    "not utf-8": b'{"model": "\xff\xfe", "max_tokens": 5, "messages": []}',
    "lone surrogate": b'{"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "\\ud800"}]}',
    "nul byte": b'{"model": "claude-sonnet-4-5\\u0000", "max_tokens": 5, "messages": []}',
    "NaN": b'{"model": "claude-sonnet-4-5", "max_tokens": 5, "temperature": NaN, "messages": []}',
    "huge int": b'{"model": "claude-sonnet-4-5", "max_tokens": ' + b"9" * 5000 + b', "messages": []}',
    "deep array": b'{"x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
    "deep object": b'{"x": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"}",
    "duplicate keys": b'{"model": "claude-sonnet-4-5", "model": 5, "max_tokens": 5, "messages": []}',
}

# What replaces DEEP in each body (depths a JSON decoder takes but recursive code may not).
DEEP_PARTS = {
    "deep metadata": _deep_array(2000),
    "deep tool_result content": _deep_array(3000),
    "deep tool schema": _deep_schema(1500),
}

BODY_NASTIES: dict[str, dict[str, Any]] = {
    "max_tokens 2**63": _good(max_tokens=2**63),
    "max_tokens 2**31": _good(max_tokens=2**31),
    "max_tokens float": _good(max_tokens=1e308),
    "temperature huge": _good(temperature=1e308),
    "top_k 2**70": _good(top_k=2**70),
    "thinking budget 2**62": _good(
        max_tokens=2**63 - 1, thinking={"type": "enabled", "budget_tokens": 2**62}
    ),
    "deep metadata": _good(metadata={"user_id": "u", "x": DEEP}),
    "deep tool_result content": _good(
        messages=[
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": DEEP}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
        ],
        tools=[{"name": "t", "input_schema": {"type": "object"}}],
    ),
    "deep tool schema": _good(tools=[{"name": "t", "input_schema": DEEP}]),
    "unicode everywhere": _good(
        system="\u017f\U0001d518\U0001d52b\U0001d526 \u202e\u0000\ufeff",
        messages=[{"role": "user", "content": "👩‍👩‍👧‍👦" * 500 + "\u0301" * 100}],
        stop_sequences=["\u2028", "🙂"],
    ),
    "image with garbage base64": _good(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "!!!"}}
                ],
            }
        ]
    ),
    "image url not http": _good(
        messages=[
            {
                "role": "user",
                "content": [{"type": "image", "source": {"type": "url", "url": "file:///etc/passwd"}}],
            }
        ]
    ),
    "tool_choice for a missing tool": _good(tool_choice={"type": "tool", "name": "nope"}),
    "assistant first and empty content": _good(messages=[{"role": "assistant", "content": []}]),
    "10k messages": _good(messages=[{"role": "user", "content": "x"}] * 10_000),
    "10k tools": _good(tools=[{"name": f"t{i}", "input_schema": {"type": "object"}} for i in range(10_000)]),
    "stop_sequences 10k": _good(stop_sequences=["s"] * 10_000),
    "model name 100k": _good(model="claude-" + "a" * 100_000),
    "model name with slashes": _good(model="openai/../../etc/passwd"),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(RAW_NASTIES))
def test_raw_nasty_bodies_get_a_clean_4xx(target: tuple[LiveRouter, str], name: str, path: str) -> None:
    router, key = target
    response = post_raw(router, key, path, RAW_NASTIES[name])
    check_answer(response)
    if name != "bom":
        assert 400 <= response.status_code < 500


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("name", sorted(BODY_NASTIES))
def test_nasty_bodies_on_every_provider_path_are_never_a_server_error(
    target: tuple[LiveRouter, str], name: str, stream: bool, model: str
) -> None:
    router, key = target
    body = {**BODY_NASTIES[name], "stream": stream}
    if "model" in BODY_NASTIES[name] and BODY_NASTIES[name]["model"] != MODELS[0]:
        body["model"] = BODY_NASTIES[name]["model"]
    else:
        body["model"] = model
    deep = DEEP_PARTS.get(name, b"")
    check_answer(post_raw(router, key, "/v1/messages", encode(body, deep)))
    counted = {
        k: v
        for k, v in body.items()
        if k not in ("max_tokens", "stream", "stop_sequences", "temperature", "top_k")
    }
    check_answer(post_raw(router, key, "/v1/messages/count_tokens", encode(counted, deep)))


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/messages", 405),
        ("PUT", "/v1/messages", 405),
        ("DELETE", "/v1/messages/count_tokens", 405),
        ("POST", "/v1/models", 405),
        ("POST", "/v1/complete", 404),
        ("POST", "/v1/messages/batches", 404),
        ("POST", "/v1/messages%00", 404),
    ],
)
def test_wrong_methods_and_unknown_paths_get_anthropic_errors(
    target: tuple[LiveRouter, str], method: str, path: str, status: int
) -> None:
    router, key = target
    http = _CLIENTS.get(router.base_url) or httpx.Client(base_url=router.base_url, timeout=30)
    _CLIENTS[router.base_url] = http
    response = http.request(method, path, headers={"x-api-key": key}, content=b"{}")
    # A wrong method is a 400 invalid_request_error by design (Anthropic's error table has no 405).
    assert response.status_code in (status, 400), response.text
    assert_error_body(response)


# ---- property tests ------------------------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def maybe(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all (wrong types included)."""
    return st.one_of(plausible, plausible, json_values)


blocks = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=40)}),
    st.fixed_dictionaries(
        {
            "type": st.just("image"),
            "source": maybe(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(["base64", "url", "file", "bogus"]),
                        "media_type": st.sampled_from(["image/png", "image/jpeg", "text/html", ""]),
                        "data": st.text(alphabet="ABCDEFabcdef0123456789+/=", max_size=40),
                        "url": st.sampled_from(["https://example.invalid/a.png", "file:///etc/passwd", "x"]),
                    }
                )
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("tool_use"),
            "id": maybe(st.text(max_size=12)),
            "name": maybe(st.text(max_size=12)),
            "input": json_values,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("tool_result"),
            "tool_use_id": maybe(st.text(max_size=12)),
            "content": maybe(st.text(max_size=20)),
        },
        optional={"is_error": maybe(st.booleans())},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["thinking", "redacted_thinking"]), "thinking": st.text(max_size=20)},
        optional={"signature": st.text(max_size=20), "data": st.text(max_size=20)},
    ),
    st.dictionaries(st.sampled_from(["type", "text", "source", "id", "content"]), json_values, max_size=3),
)
messages = st.lists(
    maybe(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["user", "assistant", "system", "tool", ""]),
                "content": st.one_of(st.text(max_size=40), st.lists(blocks, max_size=3)),
            }
        )
    ),
    max_size=4,
)
tools = st.lists(
    maybe(
        st.fixed_dictionaries(
            {
                "name": maybe(st.text(min_size=1, max_size=12)),
                "input_schema": maybe(st.just({"type": "object"})),
            },
            optional={
                "description": maybe(st.text(max_size=20)),
                "type": st.sampled_from(["custom", "web_search_20250305", "x"]),
            },
        )
    ),
    max_size=3,
)
OPTIONAL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "system": maybe(st.one_of(st.text(max_size=30), st.lists(blocks, max_size=2))),
    "tools": maybe(tools),
    "tool_choice": maybe(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["auto", "any", "tool", "none", "bogus"])},
            optional={"name": st.text(max_size=8), "disable_parallel_tool_use": maybe(st.booleans())},
        )
    ),
    "thinking": maybe(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["enabled", "disabled", "adaptive", "bogus"])},
            optional={"budget_tokens": maybe(st.integers(min_value=-10, max_value=10**6))},
        )
    ),
    "temperature": maybe(st.floats(min_value=-1, max_value=3)),
    "top_p": maybe(st.floats(min_value=-1, max_value=2)),
    "top_k": maybe(st.integers(min_value=-5, max_value=10**9)),
    "stop_sequences": maybe(st.lists(st.text(max_size=5), max_size=3)),
    "metadata": maybe(st.fixed_dictionaries({"user_id": maybe(st.text(max_size=10))})),
    "stream": st.sampled_from([False, False, False, True]),
    "service_tier": json_values,
    "container": json_values,
}
message_bodies = st.fixed_dictionaries(
    {
        "model": maybe(st.sampled_from(MODELS)),
        "messages": maybe(messages),
    },
    optional={"max_tokens": maybe(st.integers(min_value=-5, max_value=2**40)), **OPTIONAL_FIELDS},
)

# Bodies Anthropic would accept, with odd leaves: these get past validation and exercise translation and
# every provider path (unicode, odd tool schemas and inputs, tool round trips, every optional field).
user_blocks = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(min_size=1, max_size=60)}),
    st.fixed_dictionaries(
        {
            "type": st.just("image"),
            "source": st.fixed_dictionaries(
                {
                    "type": st.just("base64"),
                    "media_type": st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
                    "data": st.sampled_from(["iVBORw0KGgo=", "R0lGODlhAQABAAAAACw=", "AAAA"]),
                }
            ),
        }
    ),
)
schemas = st.one_of(
    st.just({"type": "object"}),
    st.fixed_dictionaries(
        {
            "type": st.just("object"),
            "properties": st.dictionaries(
                st.text(min_size=1, max_size=8),
                st.one_of(
                    st.fixed_dictionaries(
                        {"type": st.sampled_from(["string", "integer", "number", "boolean"])}
                    ),
                    st.fixed_dictionaries({"type": st.just("array"), "items": json_values}),
                    st.fixed_dictionaries({"anyOf": st.lists(json_values, max_size=2)}),
                    st.dictionaries(
                        st.sampled_from(["$ref", "format", "enum", "default", "const"]), json_values
                    ),
                ),
                max_size=3,
            ),
        },
        optional={"required": st.lists(st.text(max_size=8), max_size=2), "additionalProperties": json_values},
    ),
)


@st.composite
def valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    tool_names = draw(
        st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,20}", fullmatch=True), max_size=3, unique=True)
    )
    body: dict[str, Any] = {
        "model": draw(st.sampled_from(MODELS)),
        "max_tokens": draw(st.integers(min_value=1, max_value=2**31)),
        "stream": draw(st.booleans()),
    }
    turns: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": draw(
                st.one_of(st.text(min_size=1, max_size=80), st.lists(user_blocks, min_size=1, max_size=3))
            ),
        }
    ]
    round_trip: bool = draw(st.booleans())
    if tool_names and round_trip:
        name = tool_names[0]
        turns.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": draw(st.text(min_size=1, max_size=20))},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": name,
                        "input": draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
                    },
                ],
            }
        )
        result = draw(st.one_of(st.text(max_size=40), st.lists(user_blocks, max_size=2)))
        turns.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01",
                        "content": result,
                        "is_error": draw(st.booleans()),
                    }
                ],
            }
        )
    body["messages"] = turns
    if tool_names:
        body["tools"] = [
            {"name": n, "description": draw(st.text(max_size=30)), "input_schema": draw(schemas)}
            for n in tool_names
        ]
        body["tool_choice"] = draw(
            st.sampled_from(
                [{"type": "auto"}, {"type": "any"}, {"type": "none"}, {"type": "tool", "name": tool_names[0]}]
            )
        )
    if draw(st.booleans()):
        body["system"] = draw(
            st.one_of(
                st.text(max_size=60),
                st.lists(
                    st.fixed_dictionaries(
                        {"type": st.just("text"), "text": st.text(min_size=1, max_size=30)}
                    ),
                    min_size=1,
                    max_size=2,
                ),
            )
        )
    if draw(st.booleans()):
        budget = draw(st.integers(min_value=1024, max_value=4096))
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        body["max_tokens"] = max(body["max_tokens"], budget + 1)
    else:
        body["temperature"] = draw(st.floats(min_value=0, max_value=1))
        body["top_p"] = draw(st.floats(min_value=0, max_value=1))
    if draw(st.booleans()):
        body["stop_sequences"] = draw(st.lists(st.text(min_size=1, max_size=6), max_size=4))
        body["top_k"] = draw(st.integers(min_value=0, max_value=500))
        body["metadata"] = {"user_id": draw(st.text(max_size=20))}
    return body


HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


@HYPOTHESIS
@given(body=json_values, path=st.sampled_from(PATHS))
def test_any_json_value_as_the_body_is_a_clean_answer(
    target: tuple[LiveRouter, str], path: str, body: Any
) -> None:
    router, key = target
    check_answer(post_raw(router, key, path, json.dumps(body).encode()))


@HYPOTHESIS
@given(body=message_bodies)
def test_messages_shaped_bodies_are_never_a_server_error(
    target: tuple[LiveRouter, str], body: dict[str, Any]
) -> None:
    router, key = target
    check_answer(post_raw(router, key, "/v1/messages", json.dumps(body).encode()))


@HYPOTHESIS
@given(body=message_bodies)
def test_count_tokens_shaped_bodies_are_never_a_server_error(
    target: tuple[LiveRouter, str], body: dict[str, Any]
) -> None:
    router, key = target
    check_answer(post_raw(router, key, "/v1/messages/count_tokens", json.dumps(body).encode()))


@HYPOTHESIS
@given(body=valid_bodies())
def test_valid_bodies_with_odd_content_are_answered_on_every_provider_path(
    target: tuple[LiveRouter, str], body: dict[str, Any]
) -> None:
    router, key = target
    note(json.dumps(body))
    check_answer(post_raw(router, key, "/v1/messages", json.dumps(body).encode()))
    if not body["stream"]:  # half the examples also go to count_tokens (enough, and half the time)
        counted = {k: v for k, v in body.items() if k not in ("max_tokens", "stream")}
        check_answer(post_raw(router, key, "/v1/messages/count_tokens", json.dumps(counted).encode()))


# ---- tool schemas a client may send: whatever they say, never a server error ---------------------------

ODD_SCHEMAS: dict[str, dict[str, Any]] = {
    "format is a list": {"type": "object", "properties": {"a": {"format": []}}},
    "required holds a list": {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": [["a"], "a"],
    },
    "type holds a list of lists": {"type": "object", "properties": {"a": {"type": [["string"]]}}},
    "enum of lists": {"type": "object", "properties": {"a": {"enum": [[1], {"b": 2}]}}},
    "anyOf of scalars": {"type": "object", "properties": {"a": {"anyOf": [1, "x", None]}}},
    "$ref to itself": {
        "$defs": {"n": {"$ref": "#/$defs/n"}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/n"}},
    },
    "properties is a list": {"type": "object", "properties": [1, 2]},
    "allOf of scalars": {"type": "object", "allOf": [1, None, {"properties": {"x": {"type": "integer"}}}]},
}


def _with_schema(model: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "use the tool"}],
        "tools": [{"name": "odd", "description": "", "input_schema": schema}],
    }


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(ODD_SCHEMAS))
def test_odd_tool_schemas_are_never_a_server_error(
    target: tuple[LiveRouter, str], name: str, model: str
) -> None:
    router, key = target
    body = _with_schema(model, ODD_SCHEMAS[name])
    check_answer(post_raw(router, key, "/v1/messages", json.dumps(body).encode()))
    del body["max_tokens"]
    check_answer(post_raw(router, key, "/v1/messages/count_tokens", json.dumps(body).encode()))


@pytest.mark.parametrize("model", MODELS)
def test_count_tokens_with_a_non_schema_items_is_not_a_500(
    target: tuple[LiveRouter, str], model: str
) -> None:
    router, key = target
    body = _with_schema(model, {"type": "object", "properties": {"a": {"type": "array", "items": None}}})
    del body["max_tokens"]
    check_answer(post_raw(router, key, "/v1/messages/count_tokens", json.dumps(body).encode()))
