"""Gemini schema cleaning on real Claude Code tool schemas and on each construct Gemini lacks."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router.translate.schema_clean import clean_schema_for_gemini

FIXTURE = Path(__file__).parent.parent / "fixtures" / "claude_code_request.json"
ALLOWED = {
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "required",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "propertyOrdering",
    "properties",
    "items",
    "anyOf",
}


def schema_keys(schema: dict[str, Any]) -> Iterator[str]:
    """Every schema keyword used anywhere (property names are not keywords)."""
    for key, value in schema.items():
        yield key
        if key == "properties":
            for sub in value.values():
                yield from schema_keys(sub)
        elif key == "items":
            yield from schema_keys(value)
        elif key == "anyOf":
            for sub in value:
                yield from schema_keys(sub)


def claude_code_schemas() -> list[tuple[str, dict[str, Any]]]:
    tools = json.loads(FIXTURE.read_text())["tools"]
    return [(t["name"], t["input_schema"]) for t in tools if "input_schema" in t]


@pytest.mark.parametrize(("name", "schema"), claude_code_schemas())
def test_claude_code_schemas_keep_their_meaning_and_lose_what_gemini_rejects(
    name: str, schema: dict[str, Any]
) -> None:
    original = copy.deepcopy(schema)
    cleaned = clean_schema_for_gemini(schema)
    assert schema == original, "the input must not be mutated"
    assert set(schema_keys(cleaned)) <= ALLOWED
    assert cleaned["type"] == "object"
    assert set(cleaned["properties"]) == set(schema["properties"])
    assert cleaned.get("required") == schema.get("required")
    for prop, sub in schema["properties"].items():
        assert cleaned["properties"][prop].get("description") == sub.get("description")
        assert cleaned["properties"][prop].get("enum") == sub.get("enum")


def test_multiedit_nested_array_items_are_cleaned() -> None:
    schema = dict(claude_code_schemas())["MultiEdit"]
    edits = clean_schema_for_gemini(schema)["properties"]["edits"]
    assert edits["minItems"] == 1
    assert edits["items"] == {
        "type": "object",
        "properties": {
            "old_string": {"type": "string", "description": "The text to replace"},
            "new_string": {"type": "string", "description": "The text to replace it with"},
            "replace_all": {
                "type": "boolean",
                "description": "Replace all occurences of old_string (default false).",
            },
        },
        "required": ["old_string", "new_string"],
    }


def test_webfetch_uri_format_is_dropped() -> None:
    url = clean_schema_for_gemini(dict(claude_code_schemas())["WebFetch"])["properties"]["url"]
    assert url == {"type": "string", "description": "The URL to fetch content from"}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "const": "fixed"}, {"type": "string", "enum": ["fixed"]}),
        (
            {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "d"},
            {"type": "string", "nullable": True, "description": "d"},
        ),
        (
            {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
            {"nullable": True, "anyOf": [{"type": "string"}, {"type": "integer"}]},
        ),
        ({"type": ["string", "null"]}, {"type": "string", "nullable": True}),
        (
            {"oneOf": [{"type": "string"}, {"type": "number"}]},
            {"anyOf": [{"type": "string"}, {"type": "number"}]},
        ),
        ({"type": "string", "format": "date-time"}, {"type": "string", "format": "date-time"}),
        ({"type": "string", "format": "email"}, {"type": "string"}),
        (
            {"type": "integer", "format": "int64", "exclusiveMinimum": 0, "minimum": 1},
            {"type": "integer", "format": "int64", "minimum": 1},
        ),
        (
            {"type": "integer", "enum": [1, 2], "description": "n"},
            {"type": "integer", "description": "n (one of: 1, 2)"},
        ),
        ({"type": "array"}, {"type": "array", "items": {"type": "string"}}),
        ({"type": "object", "properties": {}, "required": []}, {"type": "object"}),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "ghost"]},
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        ),
        (
            {
                "type": "object",
                "propertyNames": {"pattern": "^x"},
                "patternProperties": {"^x": {}},
                "additionalProperties": {"type": "string"},
                "examples": [{}],
                "$id": "i",
                "default": {},
            },
            {"type": "object"},
        ),
        (
            {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "integer"}}},
                ]
            },
            {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                "required": ["a"],
            },
        ),
    ],
)
def test_each_unsupported_construct_is_rewritten(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    wrapped = {"type": "object", "properties": {"p": schema}}
    assert clean_schema_for_gemini(wrapped)["properties"]["p"] == expected


def test_local_refs_are_inlined_and_recursive_ones_cut() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "where": {"$ref": "#/$defs/Point", "description": "target"},
            "tree": {"$ref": "#/definitions/Node"},
            "remote": {"$ref": "https://example.com/schema.json"},
        },
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}},
        "definitions": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Node"}}}},
    }
    cleaned = clean_schema_for_gemini(schema)
    assert cleaned == {
        "type": "object",
        "properties": {
            "where": {
                "type": "object",
                "properties": {"x": {"type": "number"}},
                "required": ["x"],
                "description": "target",
            },
            "tree": {"type": "object", "properties": {"child": {"type": "object"}}},
            "remote": {"type": "object"},
        },
    }


def test_a_property_named_like_a_keyword_is_kept() -> None:
    schema = {"type": "object", "properties": {"default": {"type": "string"}, "$id": {"type": "string"}}}
    assert set(clean_schema_for_gemini(schema)["properties"]) == {"default", "$id"}


def test_schema_without_type_becomes_an_object() -> None:
    assert clean_schema_for_gemini({}) == {"type": "object"}
