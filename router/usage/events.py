"""One usage record as plain data: what the gateway hands the recorder after each request.

The fields are exactly the `usage_records` columns (see store/models.py: UsageRecord) minus the row id,
so that the store can insert a batch of them without any mapping logic of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class UsageEvent:
    created_at: datetime
    request_id: str
    tenant_id: int | None = None
    key_id: int | None = None
    key_prefix: str | None = None
    member: str | None = None
    requested_model: str = ""
    # The target that answered (None when none did), e.g. "openai/gpt-4.1".
    target: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    # [{"target", "status", "error_type", "latency_ms"}] in the order tried
    attempts: list[dict[str, Any]] = field(default_factory=list)
    stream: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    tokens_estimated: bool = False
    cost_usd: float = 0.0
    latency_ms: int = 0
    ttft_ms: int | None = None
    status: int = 200
    error_type: str | None = None
    # "ok", "error", "client_cancelled" or "rejected" (plain str, like the column)
    outcome: str = "ok"

    def as_row(self) -> dict[str, Any]:
        """The column -> value mapping for one insert row (shallow: no deep copy on the hot path)."""
        return {name: getattr(self, name) for name in EVENT_FIELDS}

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UsageEvent))
