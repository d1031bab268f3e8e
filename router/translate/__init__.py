"""Anthropic <-> OpenAI chat-completions shape, provider quirks, and the stream state machine (pure)."""
