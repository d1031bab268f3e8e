"""Routing's own errors: plain exceptions, mapped to Anthropic's error types at the HTTP edge.

Each carries the HTTP status and Anthropic error type it stands for, so the gateway's single mapping
table can use them directly; nothing here knows about the wire format.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["ForbiddenError", "ModelDeniedError", "NoRouteError", "RoutingError", "RuleError"]


class RoutingError(Exception):
    """Base of every routing failure."""

    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "api_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoRouteError(RoutingError):
    """No rule matches the requested model (or the matching rule has no usable target)."""

    status = 404
    error_type = "not_found_error"


class ForbiddenError(RoutingError):
    """The tenant or key may not use this model or these targets, or the tenant is disabled."""

    status = 403
    error_type = "permission_error"


class ModelDeniedError(ForbiddenError):
    """The key's or tenant's model allowlist excludes the requested model. Claude Code's gateway protocol
    asks for `400 invalid_request_error` here (a 403 reads as "sign in again")."""

    status = 400
    error_type = "invalid_request_error"


class RuleError(RoutingError):
    """A rule (or a key's model pattern) cannot be compiled: names the pattern and the reason."""

    status = 400
    error_type = "invalid_request_error"
