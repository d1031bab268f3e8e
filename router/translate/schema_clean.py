"""Tool input schemas cleaned for targets that accept only a subset of JSON Schema.

Gemini's function declarations take an OpenAPI-3 subset and reject a whole request over one unknown
key, so we keep only the keys it documents (an allow-list survives new JSON-Schema keywords that a
deny-list would miss), rewrite the constructs it lacks (const, type arrays, anyOf-with-null, local
$refs) into ones it has, and never mutate the caller's schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["clean_schema_for_gemini"]

# Keys a Gemini Schema object accepts (besides properties/items/anyOf, handled structurally).
_GEMINI_KEYS: Final = frozenset(
    {
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
    }
)
_STRING_FORMATS: Final = frozenset({"enum", "date-time"})
_NUMBER_FORMATS: Final = frozenset({"int32", "int64", "float", "double"})
_MAX_DEPTH: Final = 32


def clean_schema_for_gemini(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `schema` that Gemini's function-declaration parser accepts.

    Local references (`#/$defs/X`, `#/definitions/X`) are inlined; recursive or foreign references
    become a plain object schema, since Gemini has no way to express them.
    """
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        found = schema.get(key)
        if isinstance(found, Mapping):
            defs.update({f"#/{key}/{name}": value for name, value in found.items()})
    cleaned = _clean(schema, defs, (), 0)
    cleaned.setdefault("type", "object")
    return cleaned


def _clean(
    schema: Mapping[str, Any], defs: dict[str, Any], seen: tuple[str, ...], depth: int
) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        return {"type": "object"}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _inline_ref(schema, ref, defs, seen, depth)

    out: dict[str, Any] = {key: value for key, value in schema.items() if key in _GEMINI_KEYS}
    _merge_all_of(schema, out, defs, seen, depth)

    if "const" in schema and "enum" not in out:
        out["enum"] = [schema["const"]]
    _normalise_type(out)

    variants = schema.get("anyOf", schema.get("oneOf"))
    if isinstance(variants, list):
        _apply_variants(out, variants, defs, seen, depth)

    properties = schema.get("properties")
    if isinstance(properties, Mapping) and properties:
        out["properties"] = {
            name: _clean(sub, defs, seen, depth + 1) if isinstance(sub, Mapping) else {"type": "string"}
            for name, sub in properties.items()
        }
        out.setdefault("type", "object")
    items = schema.get("items")
    if isinstance(items, Mapping):
        out["items"] = _clean(items, defs, seen, depth + 1)
    elif out.get("type") == "array":
        # Gemini requires `items` on every array; an untyped array is the closest we can say.
        out["items"] = {"type": "string"}

    _fix_enum(out)
    _fix_format(out)
    _fix_required(out)
    return out


def _inline_ref(
    schema: Mapping[str, Any], ref: str, defs: dict[str, Any], seen: tuple[str, ...], depth: int
) -> dict[str, Any]:
    target = defs.get(ref)
    if isinstance(target, Mapping) and ref not in seen:
        out = _clean(target, defs, (*seen, ref), depth + 1)
    else:
        out = {"type": "object"}
    if isinstance(schema.get("description"), str):
        out["description"] = schema["description"]
    return out


def _merge_all_of(
    schema: Mapping[str, Any], out: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...], depth: int
) -> None:
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        cleaned = _clean(part, defs, seen, depth + 1)
        props = cleaned.pop("properties", None)
        required = cleaned.pop("required", None)
        for key, value in cleaned.items():
            out.setdefault(key, value)
        if props:
            out.setdefault("properties", {}).update(props)
        if required:
            out["required"] = [*out.get("required", []), *required]


def _normalise_type(out: dict[str, Any]) -> None:
    kind = out.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) < len(kind):
            out["nullable"] = True
        if len(kinds) == 1:
            out["type"] = kinds[0]
        elif kinds:
            del out["type"]
            out["anyOf"] = [{"type": k} for k in kinds]
        else:
            out["type"] = "string"
    elif kind == "null":
        out["type"] = "string"
        out["nullable"] = True


def _apply_variants(
    out: dict[str, Any], variants: list[Any], defs: dict[str, Any], seen: tuple[str, ...], depth: int
) -> None:
    non_null = [v for v in variants if isinstance(v, Mapping) and v.get("type") != "null"]
    if len(non_null) < len(variants):
        out["nullable"] = True
    cleaned = [_clean(v, defs, seen, depth + 1) for v in non_null]
    if len(cleaned) == 1:
        # `anyOf: [X, null]` is just a nullable X; the outer description wins over X's.
        for key, value in cleaned[0].items():
            if key != "description" or "description" not in out:
                out[key] = value
    elif cleaned:
        out["anyOf"] = cleaned


def _fix_enum(out: dict[str, Any]) -> None:
    values = out.get("enum")
    if values is None:
        return
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        out["type"] = "string"
        return
    # Gemini enums are strings only; keep the constraint visible to the model in the description.
    del out["enum"]
    if isinstance(values, list) and values:
        allowed = ", ".join(str(v) for v in values)
        out["description"] = (out.get("description", "") + f" (one of: {allowed})").strip()


def _fix_format(out: dict[str, Any]) -> None:
    fmt = out.get("format")
    if fmt is None:
        return
    allowed = _STRING_FORMATS if out.get("type") == "string" else _NUMBER_FORMATS
    # A client's schema can say anything: a non-string format (a list, say) is dropped, not a crash.
    if not isinstance(fmt, str) or fmt not in allowed:
        del out["format"]


def _fix_required(out: dict[str, Any]) -> None:
    if "required" not in out:
        return
    props = out.get("properties") or {}
    required = out["required"]
    kept = [r for r in required if isinstance(r, str) and r in props] if isinstance(required, list) else []
    if kept:
        out["required"] = list(dict.fromkeys(kept))
    else:
        del out["required"]
