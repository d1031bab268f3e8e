"""The record of a size cap one LiteLLM call hit (see litellm_http.py, which marks it from inside LiteLLM).

Apart from litellm_http so that the call path (litellm_call.py, imported at start-up) does not import httpx:
httpx's package import also loads its command-line tool's libraries (click, rich, pygments), ~0.1 s of
`router serve`'s start-up; litellm_http itself is only imported once LiteLLM (which needs httpx) is in.
"""

from __future__ import annotations

import contextvars

from router.providers.base import ProviderError
from router.providers.transport import too_large

__all__ = ["CapWatch", "watch", "watching"]


class CapWatch:
    """One upstream call's record of a cap it hit (what, and the limit), if any."""

    __slots__ = ("limit", "what")

    def __init__(self) -> None:
        self.what: str | None = None
        self.limit = 0

    def hit(self, what: str, limit: int) -> None:
        self.what, self.limit = what, limit

    def error(self, where: str) -> ProviderError | None:
        """The clear error for the client and the record, when this call was cut at a cap."""
        return too_large(self.what, self.limit, where) if self.what is not None else None


_WATCH: contextvars.ContextVar[CapWatch | None] = contextvars.ContextVar("litellm_cap_watch", default=None)


def watch() -> CapWatch:
    """Start watching the LiteLLM call about to be made in this task (and the tasks it starts)."""
    current = CapWatch()
    _WATCH.set(current)
    return current


def watching() -> CapWatch | None:
    """The watch of the call this task is making, if any (the transport marks it)."""
    return _WATCH.get()
