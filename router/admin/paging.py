"""Paging for admin lists: the page number read from a query value, and the pager's links."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode


def page_number(raw: str | None) -> int:
    """A 1-based page from a query value; anything else (missing, negative, absurdly long) is page 1."""
    raw = raw or "1"
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


def page_count(total: int, size: int) -> int:
    return max(1, -(-total // size))


@dataclass(frozen=True, slots=True)
class Pager:
    """What templates/admin/partials/pager.html shows: where we are and the links either side."""

    label: str
    page: int
    pages: int
    prev_href: str | None
    next_href: str | None


def pager(path: str, query: dict[str, str], param: str, page: int, pages: int, label: str) -> Pager:
    """Links to the neighbouring pages that keep every other query value (filters, other lists' pages)."""

    def href(number: int) -> str:
        values = {k: v for k, v in query.items() if v and k != param}
        if number > 1:
            values[param] = str(number)
        return f"{path}?{urlencode(values)}" if values else path

    return Pager(
        label=label,
        page=page,
        pages=pages,
        prev_href=href(page - 1) if page > 1 else None,
        next_href=href(page + 1) if page < pages else None,
    )
