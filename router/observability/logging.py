"""Structured logs: one JSON object per line (time, level, logger, message, request_id, extra fields).

What goes into a log line is the caller's decision (the gateway passes prompts only when
Settings.log_requests is on). As defence in depth, a filter masks anything that looks like a proxy or
provider key (`sk-…`) or a bearer token in the message and in string extras, before any handler sees it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

SECRET_PATTERNS = (
    re.compile(r"sk-[A-Za-z0-9_-]{10,}"),
    re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]+"),
)
MASK = "[REDACTED]"

# Attributes every LogRecord has: anything else on a record came from `extra=` and is logged as a field.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Bookkeeping others put on records, not information: uvicorn's ANSI-coloured copy of the message and
# LiteLLM's "already redacted" marker object (which would print as "<object object at 0x...>").
_NOT_FIELDS = frozenset({"color_message", "litellm_redacted"})


def redact(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda m: "Bearer " + MASK if m.group(0)[:1] in "bB" else MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in the formatted message and in string `extra` values (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extras that JSON cannot encode are written as their str()."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and name not in entry and name not in _NOT_FIELDS:
                entry[name] = value
        if record.exc_info:
            entry["exc_info"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack_info"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def use_json(log_format: str) -> bool:
    """ "json", "text", or "auto": JSON unless stderr is a terminal (a person watching `router serve`)."""
    if log_format == "auto":
        return not sys.stderr.isatty()
    return log_format == "json"


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route the root logger to stderr, as JSON lines (or plain text for a terminal), secrets masked.

    Replaces the root logger's handlers, so calling it twice does not duplicate lines.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
