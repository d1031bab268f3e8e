"""The webhook body and its signature. Pure.

The body is Slack-compatible (`text` is what an incoming webhook shows) with the same facts as structured
fields under `alert`, for receivers that route or count. With a shared secret, each attempt carries
`X-Router-Timestamp` (unix seconds) and `X-Router-Signature: sha256=HEX`, the HMAC-SHA256 of
`TIMESTAMP.BODY` keyed with the secret; a receiver recomputes it and refuses old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from router.alerts.rules import Firing

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "body_for",
    "sample_body",
    "sign",
    "signature_headers",
    "verify",
]

SIGNATURE_HEADER = "X-Router-Signature"
TIMESTAMP_HEADER = "X-Router-Timestamp"
DELIVERY_HEADER = "X-Router-Delivery"

_WINDOW_NAMES = {"day": "today", "week": "this week", "month": "this month"}


def _pct(value: float) -> str:
    return f"{value:.0f}%" if abs(value - round(value)) < 0.05 else f"{value:.1f}%"


def _usd(value: Any) -> str:
    return f"${float(value):,.2f}"


def text_for(firing: Firing) -> str:
    """One line a person reads in Slack."""
    r, name = firing.reading, firing.rule.name
    if r.watch == "budget":
        spent, budget = r.details.get("spent_usd"), r.details.get("budget_usd")
        money = f" ({_usd(spent)} of {_usd(budget)})" if spent is not None and budget is not None else ""
        when = _WINDOW_NAMES.get(r.window, r.window)
        return (
            f"[{name}] {r.label} has used {_pct(r.value)} of its {r.window} budget {when}{money}: "
            f"past the {_pct(firing.threshold)} threshold."
        )
    if r.watch == "error_rate":
        attempts, failures = r.details.get("attempts"), r.details.get("failures")
        counts = f" ({failures} of {attempts} attempts)" if attempts is not None else ""
        minutes = r.details.get("window_minutes", r.window)
        return (
            f"[{name}] {r.label}: {_pct(r.value)} of attempts failed in the last {minutes} min{counts}: "
            f"past the {_pct(firing.threshold)} threshold."
        )
    return f"[{name}] {r.label} is in cool-down: it failed repeatedly and requests skip it for now."


def body_for(firing: Firing, fired_at: datetime) -> dict[str, Any]:
    r = firing.reading
    return {
        "text": text_for(firing),
        "alert": {
            "name": firing.rule.name,
            "watch": r.watch,
            "subject": r.subject,
            "subject_kind": r.kind,
            "label": r.label,
            "tenant": r.tenant,
            "threshold": firing.threshold,
            "value": r.value,
            "window": r.window,
            "window_start": r.window_start.isoformat(),
            "fired_at": fired_at.isoformat(),
            "details": dict(r.details),
        },
    }


def sample_body(name: str, watch: str, fired_at: datetime) -> dict[str, Any]:
    """The test message an operator sends from the page, the API or the CLI to check a webhook."""
    return {
        "text": f"[{name}] Test message from the router: this webhook gets its messages.",
        "alert": {"name": name, "watch": watch, "test": True, "fired_at": fired_at.isoformat()},
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_headers(secret: str | None, timestamp: int, body: bytes) -> dict[str, str]:
    if not secret:
        return {}
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(secret: str, timestamp: str, signature: str, body: bytes) -> bool:
    """What a receiver does (and the tests do): recompute and compare in constant time."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
