"""Anthropic Messages API as types: requests, responses, stream events, SSE framing, errors (pure)."""
