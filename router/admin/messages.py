"""Store error messages as sentences for the page."""

from __future__ import annotations


def sentence(error: Exception | str) -> str:
    """`invalid tenant name 'x': ...` -> `Invalid tenant name 'x': ....` (KeyError's quotes dropped)."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    text = text.strip() or "Invalid value"
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
