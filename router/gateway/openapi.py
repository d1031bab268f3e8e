"""The /v1 request bodies in the OpenAPI document, from the same msgspec types that decode them.

The handlers read raw bytes (decoding is ours, for speed and Anthropic-shaped errors), so Litestar cannot see
the body types; this puts their JSON Schema into the document for clients and schema fuzzers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody

from router.wire.requests import CountTokensRequest, MessagesRequest

_REF = "#/components/schemas/{name}"

_refs, _schemas = msgspec.json.schema_components((MessagesRequest, CountTokensRequest), ref_template=_REF)
MESSAGES_REF: dict[str, Any] = _refs[0]
COUNT_TOKENS_REF: dict[str, Any] = _refs[1]


def add_wire_schemas(app: Litestar) -> None:
    """Put the schemas the /v1 bodies refer to into the app's OpenAPI document (Litestar fills
    components only from its own registry, so they are added once the document is built)."""
    document = app.openapi_schema  # built once and cached; the served JSON is rendered from it
    if document.components.schemas is None:
        document.components.schemas = {}
    # JSON Schema dicts pass through the spec serialiser as they are.
    document.components.schemas.update(_schemas)


def _json_body(schema: dict[str, Any], description: str) -> RequestBody:
    return RequestBody(
        required=True,
        description=description,
        content={"application/json": OpenAPIMediaType(schema=schema)},  # type: ignore[arg-type]
    )


@dataclass
class MessagesOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _json_body(MESSAGES_REF, "An Anthropic Messages API request.")


@dataclass
class CountTokensOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _json_body(COUNT_TOKENS_REF, "A Messages request to count the input tokens of.")
