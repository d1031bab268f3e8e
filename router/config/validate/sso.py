"""Single sign-on mappings: identity-provider groups to tenants (members) and to admin roles."""

from __future__ import annotations

from collections.abc import Set

from router.config.drafts import SsoDraft, ValidationIssue
from router.config.fields import managed_settings_error
from router.config.lengths import GROUP_CHARS, length_error
from router.config.validate.issues import Issues

ADMIN_ROLES = ("owner", "admin", "tenant-admin", "viewer")


def group_error(group: str) -> str | None:
    """An IdP group a mapping names: not empty, and no longer than a group the sign-in keeps."""
    if not group.strip():
        return "must not be empty"
    return length_error(group, GROUP_CHARS)


def sso_issues(sso: SsoDraft, tenants: Set[str]) -> list[ValidationIssue]:
    """Every problem with the sso section (paths: members[I].group/tenant/managed_settings,
    admins[I].group/role/tenants[J]); `tenants` are the tenants the file lists."""
    issues = Issues()

    def tenant(path: str, name: str) -> None:
        if name not in tenants:
            issues.add(path, f"unknown tenant {name!r}: list it under tenants:")

    for i, m in enumerate(sso.members):
        path = f"members[{i}]"
        issues.add(f"{path}.group", group_error(m.group))
        tenant(f"{path}.tenant", m.tenant)
        issues.add(f"{path}.managed_settings", managed_settings_error(m.managed_settings))
    seen: set[tuple[str, str]] = set()
    for i, m in enumerate(sso.members):
        if (m.group, m.tenant) in seen:
            issues.add(f"members[{i}]", f"group {m.group!r} is mapped to tenant {m.tenant!r} twice")
        seen.add((m.group, m.tenant))
    for i, a in enumerate(sso.admins):
        path = f"admins[{i}]"
        issues.add(f"{path}.group", group_error(a.group))
        if a.role not in ADMIN_ROLES:
            issues.add(f"{path}.role", f"must be one of {', '.join(ADMIN_ROLES)}, not {a.role!r}")
        if a.role == "tenant-admin" and not a.tenants:
            issues.add(f"{path}.tenants", "a tenant-admin needs the tenants they administer")
        if a.role in ("owner", "admin") and a.tenants:
            issues.add(f"{path}.tenants", f"an {a.role} is not limited to tenants: leave tenants out")
        for j, name in enumerate(a.tenants or ()):
            tenant(f"{path}.tenants[{j}]", name)
    return issues
