"""Test doubles. FakeUpstream: a real local HTTP server speaking each provider's wire format."""

from tests.fakes.upstream import FakeUpstream
from tests.fakes.upstream_anthropic import signature_for
from tests.fakes.upstream_render import estimate_tokens
from tests.fakes.upstream_script import (
    BreakStream,
    Delay,
    ErrorIn200,
    Fail,
    NotJson,
    RecordedRequest,
    Reply,
    Step,
    ToolCall,
)

__all__ = [
    "BreakStream",
    "Delay",
    "ErrorIn200",
    "Fail",
    "FakeUpstream",
    "NotJson",
    "RecordedRequest",
    "Reply",
    "Step",
    "ToolCall",
    "estimate_tokens",
    "signature_for",
]
