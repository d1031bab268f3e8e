"""Admin roles and the one decision every admin page, fragment, export and API route goes through.

Pure: no web framework, no database. A `Principal` is whoever signed in (a browser session or an API token);
`decide` says whether it may use a route of a given `Access` level on a given tenant.

- owner: everything, including admin users and providers' credentials.
- admin: all configuration (providers' other settings too), no user management, no provider credentials.
- tenant-admin: its tenants' keys, key limits and tenant rules; reads its tenants' usage and the global rules.
- viewer: reads everything, or only its tenants when it has some.

A tenant the principal is not limited to answers 404 (the caller learns nothing about it); a known tenant
but an action beyond the role answers 403.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    TENANT_ADMIN = "tenant-admin"
    VIEWER = "viewer"

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(role.value for role in cls)
            raise ValueError(f"unknown role {value!r}: choose one of {choices}") from None


class Access(enum.StrEnum):
    """What a route needs. Every admin and API route is given exactly one (router/admin/access.py)."""

    PUBLIC = "public"  # sign-in, setup, static files
    SIGNED_IN = "signed-in"  # any role: sign-out, the dashboard, /me
    READ = "read"  # global read: providers, chains, audit (unrestricted principals only)
    READ_TENANT = "read-tenant"  # reading a tenant's things (or lists filtered to the visible tenants)
    WRITE = "write"  # global configuration: owner, admin
    WRITE_TENANT = "write-tenant"  # a tenant's keys and rules: owner, admin, that tenant's tenant-admin
    OWNER = "owner"  # users, providers' credentials


class Decision(enum.Enum):
    ALLOW = 200
    FORBIDDEN = 403
    NOT_FOUND = 404


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in admin user or an API token, as far as access decisions go."""

    username: str
    role: Role
    # None: every tenant. Tenant-admins always have a set; viewers may.
    tenant_ids: frozenset[int] | None = None
    user_id: int | None = None

    @classmethod
    def of(
        cls, username: str, role: str | Role, tenant_ids: Iterable[int] | None, user_id: int | None = None
    ) -> Principal:
        parsed = role if isinstance(role, Role) else Role.parse(role)
        ids = frozenset(tenant_ids) if tenant_ids is not None else None
        if parsed in (Role.OWNER, Role.ADMIN) or (parsed is Role.VIEWER and not ids):
            ids = None
        elif parsed is Role.TENANT_ADMIN and ids is None:
            ids = frozenset()
        return cls(username=username, role=parsed, tenant_ids=ids, user_id=user_id)

    @property
    def scoped(self) -> bool:
        """True when the principal sees only some tenants."""
        return self.tenant_ids is not None

    def sees_tenant(self, tenant_id: int) -> bool:
        return self.tenant_ids is None or tenant_id in self.tenant_ids

    def visible(self, tenant_ids: Iterable[int]) -> list[int]:
        return [tenant_id for tenant_id in tenant_ids if self.sees_tenant(tenant_id)]


def may_set_credentials(principal: Principal | None) -> bool:
    """Whether the principal may set, replace or remove a provider's credential (its api key, or the JSON
    object of its secrets): owners only. Admins edit everything else about a provider."""
    return principal is not None and principal.role is Role.OWNER


CREDENTIALS_ARE_OWNERS = "only an owner sets, replaces or removes a provider's credential"


def validate_grant(role: Role, tenant_ids: Iterable[int] | None) -> None:
    """Refuse a role/tenants combination that makes no sense (raises ValueError with a readable reason)."""
    ids = list(tenant_ids or [])
    if role is Role.TENANT_ADMIN and not ids:
        raise ValueError("a tenant-admin needs at least one tenant (--tenant)")
    if role in (Role.OWNER, Role.ADMIN) and ids:
        raise ValueError(
            f"an {role.value} sees every tenant: give --tenant only to tenant-admins and viewers"
        )


# Highest first: a person in several admin groups gets the strongest role among them.
ROLE_ORDER = (Role.OWNER, Role.ADMIN, Role.TENANT_ADMIN, Role.VIEWER)


def grant_for_groups(
    groups: Iterable[str], mappings: Iterable[tuple[str, str, Iterable[str] | None]]
) -> tuple[Role, list[str]] | None:
    """The role (and tenant names) IdP groups give through `sso.admins` mappings (group, role, tenants);
    None when no group is mapped. Tenants of every mapping of the winning role are combined."""
    member_of = set(groups)
    matched: list[tuple[Role, list[str]]] = []
    for group, role, tenants in mappings:
        if group in member_of:
            try:
                matched.append((Role.parse(role), list(tenants or [])))
            except ValueError:
                continue
    if not matched:
        return None
    best = min((role for role, _ in matched), key=ROLE_ORDER.index)
    names: list[str] = []
    for role, tenants in matched:
        if role is best:
            names.extend(name for name in tenants if name not in names)
    if best in (Role.OWNER, Role.ADMIN):
        names = []
    return best, names


def decide(principal: Principal | None, access: Access, tenant_id: int | None = None) -> Decision:
    """May `principal` use a route of this access level, naming `tenant_id` (None: no tenant named)?"""
    if access is Access.PUBLIC:
        return Decision.ALLOW
    if principal is None:
        return Decision.FORBIDDEN
    if tenant_id is not None and not principal.sees_tenant(tenant_id):
        return Decision.NOT_FOUND
    role = principal.role
    allowed: bool
    if access is Access.SIGNED_IN or access is Access.READ_TENANT:
        allowed = True
    elif access is Access.READ:
        allowed = not principal.scoped
    elif access is Access.WRITE:
        allowed = role in (Role.OWNER, Role.ADMIN)
    elif access is Access.WRITE_TENANT:
        allowed = role in (Role.OWNER, Role.ADMIN) or (role is Role.TENANT_ADMIN and tenant_id is not None)
    else:  # Access.OWNER
        allowed = role is Role.OWNER
    return Decision.ALLOW if allowed else Decision.FORBIDDEN
