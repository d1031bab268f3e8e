"""Message and tool-use ids look like Anthropic's and do not repeat."""

from __future__ import annotations

import re

from router.wire.responses import new_message_id, new_tool_use_id


def test_message_ids_are_msg_plus_24_base62_characters_and_unique() -> None:
    ids = {new_message_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"msg_[0-9A-Za-z]{24}", i) for i in ids)


def test_tool_use_ids_are_toolu_plus_24_base62_characters_and_unique() -> None:
    ids = {new_tool_use_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"toolu_[0-9A-Za-z]{24}", i) for i in ids)
