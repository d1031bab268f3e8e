"""/me: a member's own page, reached through the company IdP: their keys, this month's usage and budget."""

from router.me.page import ME_ROUTES, MemberPageCompletion

__all__ = ["ME_ROUTES", "MemberPageCompletion"]
