"""Every text column's width is the limit its input is held to: each String column of the schema is either
reached by input, and then its validator accepts a value of exactly the column's width and refuses one more
character at the field's path, or is listed as bounded at its edge or written by the router only.

A column added without a decision fails here; a column widened or narrowed without its validator (or the
reverse) fails here too, since the values are built from the column's own width."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import String

import router.store.identity_models
import router.store.usage_models  # noqa: F401 - registers the usage tables on Base.metadata
from router.config.drafts import (
    AlertDraft,
    ChainDraft,
    DeploymentDraft,
    DesiredConfig,
    PoolDraft,
    PoolMemberDraft,
    PriceDraft,
    ProviderDraft,
    RuleDraft,
    SsoAdminDraft,
    SsoDraft,
    SsoMemberDraft,
    TenantDraft,
)
from router.config.validate import validate_config
from router.identity.oidc import groups_from_claims
from router.store.admins import validate_username
from router.store.budgets import check_member
from router.store.keys import check_alias
from router.store.models import Base

OPENAI = ProviderDraft("openai", "openai", "https://api.example.com/v1")
AZURE = ProviderDraft("azure-eu", "azure", "https://azure.example.com", api_version="2024-10-21")
DEPLOYMENT = DeploymentDraft("gpt4o-eu", "azure-eu", "gpt-4o-prod", "gpt-4o")
WEBHOOK = "https://hooks.example.com/services/T0"


def url_of(length: int, head: str = "https://api.example.com/") -> str:
    return head + "a" * (length - len(head))


def host_of(length: int) -> str:
    """A host name of `length` characters (URL parsing does not bound a label's length)."""
    return "h" * length


def config(**parts: object) -> DesiredConfig:
    base: dict[str, object] = {"providers": (OPENAI, AZURE), "deployments": (DEPLOYMENT,)}
    base.update(parts)
    return DesiredConfig(**base)  # type: ignore[arg-type]


def problems_at(cfg: DesiredConfig, path: str) -> list[str]:
    return [issue.message for issue in validate_config(cfg) if issue.path == path]


def store_check(check: Callable[[str], object]) -> Callable[[str], list[str]]:
    def problems(value: str) -> list[str]:
        try:
            check(value)
        except ValueError as exc:
            return [str(exc)]
        return []

    return problems


@dataclass(frozen=True)
class Reach:
    """How input reaches one column: `problems(value)` are what the check says of the value there."""

    problems: Callable[[str], list[str]]
    # A value of the given length the column may hold.
    value: Callable[[int], str] = lambda n: "a" * n


def in_config(build: Callable[[str], DesiredConfig], path: str) -> Callable[[str], list[str]]:
    return lambda value: problems_at(build(value), path)


# Every column a person or a file sets: the config file (and so the management API and the admin page, whose
# services run the same validators), and the store's own checks for keys.
REACHED: dict[str, Reach] = {
    "providers.api_base": Reach(
        in_config(
            lambda v: config(providers=(ProviderDraft("openai", "openai", v), AZURE)), "providers[0].api_base"
        ),
        url_of,
    ),
    "providers.api_version": Reach(
        in_config(
            lambda v: config(providers=(OPENAI, ProviderDraft("azure-eu", "azure", OPENAI.api_base, v))),
            "providers[1].api_version",
        )
    ),
    "providers.credential_ref": Reach(
        in_config(
            lambda v: config(
                providers=(ProviderDraft("openai", "openai", api_key="k", credential_ref=v), AZURE)
            ),
            "providers[0].api_key",
        )
    ),
    "deployments.deployment": Reach(
        in_config(
            lambda v: config(deployments=(DeploymentDraft("d", "azure-eu", v, "m"),)),
            "deployments[0].deployment",
        )
    ),
    "deployments.model": Reach(
        in_config(
            lambda v: config(deployments=(DeploymentDraft("d", "azure-eu", "x", v),)), "deployments[0].model"
        )
    ),
    "deployments.api_version": Reach(
        in_config(
            lambda v: config(deployments=(DeploymentDraft("d", "azure-eu", "x", "m", v),)),
            "deployments[0].api_version",
        )
    ),
    "chain_targets.target": Reach(
        in_config(lambda v: config(chains=(ChainDraft("c", (v,)),)), "chains[0].targets[0]"),
        lambda n: "openai/" + "m" * (n - 7),
    ),
    "pool_members.target": Reach(
        in_config(
            lambda v: config(pools=(PoolDraft("p", (PoolMemberDraft(v),)),)), "pools[0].members[0].target"
        ),
        lambda n: "openai/" + "m" * (n - 7),
    ),
    "rules.match": Reach(
        in_config(lambda v: config(rules=(RuleDraft(v, "glob", target="openai/m"),)), "rules[0].match")
    ),
    "rules.target": Reach(
        in_config(lambda v: config(rules=(RuleDraft("a", "glob", target=v),)), "rules[0].target"),
        lambda n: "openai/" + "m" * (n - 7),
    ),
    "rules.description": Reach(
        in_config(
            lambda v: config(rules=(RuleDraft("a", "glob", target="openai/m", description=v),)),
            "rules[0].description",
        )
    ),
    "model_prices.target": Reach(
        in_config(lambda v: config(prices=(PriceDraft(v),)), "prices[0].target"),
        lambda n: "openai/" + "m" * (n - 7),
    ),
    # The member is in the path itself (member_budgets.MEMBER).
    "budgets.member": Reach(
        lambda v: problems_at(
            config(tenants=(TenantDraft("acme", member_budgets=((v, (("month", 1),)),)),)),
            f"tenants[0].member_budgets.{v}",
        )
    ),
    "sso_mappings.group": Reach(
        in_config(
            lambda v: config(
                tenants=(TenantDraft("acme"),),
                sso=SsoDraft(members=(SsoMemberDraft(v, "acme"),), admins=(SsoAdminDraft(v, "owner"),)),
            ),
            "sso.members[0].group",
        )
    ),
    "alerts.webhook_host": Reach(
        in_config(
            lambda v: config(alerts=(AlertDraft("a", "cooldown", webhook=f"https://{v}/x"),)),
            "alerts[0].webhook",
        ),
        host_of,
    ),
    "alerts.webhook_ref": Reach(
        in_config(
            lambda v: config(alerts=(AlertDraft("a", "cooldown", webhook=WEBHOOK, webhook_ref=v),)),
            "alerts[0].webhook",
        )
    ),
    "alerts.secret_ref": Reach(
        in_config(
            lambda v: config(
                alerts=(AlertDraft("a", "cooldown", webhook=WEBHOOK, secret="s" * 8, secret_ref=v),)
            ),
            "alerts[0].secret",
        )
    ),
    "api_keys.member": Reach(store_check(check_member)),
    "api_keys.alias": Reach(store_check(check_alias)),
    # Local and SSO admins alike (an SSO admin's name is their IdP e-mail: admin/sso.py refuses a longer one).
    "admin_users.username": Reach(store_check(validate_username)),
}

# Names: every name goes through name_error's pattern (1-NAME_CHARS characters); a kind through the known
# kinds. Checked here the same way, by width.
NAMED: dict[str, Reach] = {
    "tenants.name": Reach(in_config(lambda v: config(tenants=(TenantDraft(v),)), "tenants[0].name")),
    "providers.name": Reach(
        in_config(lambda v: config(providers=(ProviderDraft(v, "openai"), AZURE)), "providers[0].name")
    ),
    "deployments.name": Reach(
        in_config(
            lambda v: config(deployments=(DeploymentDraft(v, "azure-eu", "x", "m"),)), "deployments[0].name"
        )
    ),
    "chains.name": Reach(
        in_config(lambda v: config(chains=(ChainDraft(v, ("openai/m",)),)), "chains[0].name")
    ),
    "pools.name": Reach(
        in_config(lambda v: config(pools=(PoolDraft(v, (PoolMemberDraft("openai/m"),)),)), "pools[0].name")
    ),
    "alerts.name": Reach(
        in_config(lambda v: config(alerts=(AlertDraft(v, "cooldown", webhook=WEBHOOK),)), "alerts[0].name")
    ),
}

# Set only by the router, or from values it already bounded where they came in (named with where).
BOUNDED_AT_THE_EDGE = {
    "audit_log.actor": "an admin user's name, 'member:' and an e-mail, 'token:' and a prefix: all fit whole",
    "audit_log.object_id": "store/audit.py record_audit",
    "audit_log.object_name": "store/audit.py record_audit (a rule's match is up to MATCH_CHARS)",
    "alert_deliveries.last_error": "store/alert_deliveries.py finish_delivery (quotes the receiver)",
    "alert_deliveries.alert_name": "an alert's name (NAME_CHARS, validated)",
    "alert_deliveries.subject": "tenant, member, key prefix or target: each bounded, together under 400",
    "device_authorizations.denied_reason": "store/member_signin.py settle_device",
    "device_authorizations.surface": "identity/device.py cuts the client's surface",
    "signin_sessions.member": "the IdP's e-mail: identity/oidc.py refuses a longer one",
    "signin_sessions.subject": "the IdP's sub: identity/oidc.py refuses a longer one",
    "signin_sessions.surface": "the device authorization's surface",
    "signin_sessions.revoked_reason": "store/member_signin.py cuts it",
    "member_page_sessions.email": "the IdP's e-mail: identity/oidc.py refuses a longer one",
    "admin_sessions.address": "store/sessions.py cuts the client address",
    "admin_api_tokens.name": "store/api_tokens.py cuts it",
    "admin_api_tokens.created_by": "the creating actor, as audit_log.actor",
    "sign_in_throttle.key": "store/throttle.py MAX_KEY_LENGTH",
    "usage_records.request_id": "store/usage_bounds.py via bounded() (widths read from the table)",
    "usage_records.key_prefix": "bounded()",
    "usage_records.member": "bounded()",
    "usage_records.requested_model": "bounded()",
    "usage_records.target": "bounded()",
    "usage_records.provider": "bounded()",
    "usage_records.upstream_model": "bounded()",
    "usage_records.error_type": "bounded()",
    "usage_records.outcome": "bounded()",
    "usage_dead_letters.request_id": "the usage record's, already bounded",
}
for rollup in ("usage_hourly", "usage_daily"):
    for column in ("key_prefix", "member", "requested_model", "target", "outcome"):
        BOUNDED_AT_THE_EDGE[f"{rollup}.{column}"] = "summed from bounded usage records"
    BOUNDED_AT_THE_EDGE[f"{rollup}.dims"] = "a hash"

# Enumerations checked against their lists, hashes, prefixes and ids the router makes.
WRITTEN_BY_THE_ROUTER = {
    "providers.kind",  # one of the known kinds (KIND_RE, KNOWN_KINDS)
    "api_keys.key_hash",
    "api_keys.prefix",
    "budgets.subject_kind",
    "budgets.period",
    "pools.strategy",
    "rules.match_kind",
    "audit_log.action",
    "audit_log.object_type",
    "sso_mappings.kind",
    "sso_mappings.role",
    "alerts.watch",
    "alert_deliveries.status",
    "admin_users.password_hash",
    "admin_users.role",
    "admin_sessions.token_hash",
    "admin_api_tokens.token_hash",
    "admin_api_tokens.prefix",
    "admin_api_tokens.role",
    "member_page_sessions.token_hash",
    "oidc_logins.state",
    "oidc_logins.purpose",
    "oidc_logins.code_verifier",
    "oidc_logins.nonce",
    "oidc_logins.browser_hash",
    "device_authorizations.device_code_hash",
    "device_authorizations.user_code",
    "device_authorizations.status",
    "device_authorizations.session_id",
    "signin_sessions.id",
    "signin_sessions.refresh_token_hash",
}


def string_columns() -> dict[str, int]:
    widths: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String) and column.type.length is not None:
                widths[f"{table.name}.{column.name}"] = column.type.length
    return widths


def test_every_text_column_is_reached_by_a_check_bounded_at_its_edge_or_the_routers_own() -> None:
    columns = set(string_columns())
    decided = [*REACHED, *NAMED, *BOUNDED_AT_THE_EDGE, *WRITTEN_BY_THE_ROUTER]
    assert len(decided) == len(set(decided)), "a column is listed twice"
    assert columns - set(decided) == set(), "text columns with no decision on their input's length"
    assert set(decided) - columns == set(), "listed columns the schema no longer has"


@pytest.mark.parametrize("column", sorted({**REACHED, **NAMED}))
def test_a_reached_columns_check_takes_its_full_width_and_refuses_one_more(column: str) -> None:
    reach = {**REACHED, **NAMED}[column]
    width = string_columns()[column]
    fits, over = reach.value(width), reach.value(width + 1)
    assert (len(fits), len(over)) == (width, width + 1)
    assert reach.problems(fits) == [], column
    refused = reach.problems(over)
    assert refused, f"{column}: {width + 1} characters were accepted"
    assert any(str(width) in message for message in refused), refused


def test_an_idp_group_longer_than_a_mapping_may_name_is_left_out_not_cut() -> None:
    width = string_columns()["sso_mappings.group"]
    fits, over = "g" * width, "g" * width + "x"
    assert groups_from_claims({"groups": [fits, over]}, "groups") == (fits,)


def test_every_name_the_audit_log_or_the_throttle_keeps_fits_whole() -> None:
    """A cut name could be another person's: the actor (and a token's creator) holds an admin user's name or
    "member:" and a member's e-mail whole, and the throttle's key "user:" and an admin user's name."""
    widths = string_columns()
    admin, member = widths["admin_users.username"], widths["api_keys.member"]
    for column in ("audit_log.actor", "admin_api_tokens.created_by"):
        assert widths[column] >= max(
            admin, len("member:") + member, len("token:") + widths["admin_api_tokens.prefix"]
        )
    assert widths["sign_in_throttle.key"] >= len("user:") + admin
    assert widths["signin_sessions.member"] >= widths["member_page_sessions.email"]
    # OpenID Connect Core 1.0, 5.1: a subject is up to 255 characters.
    assert widths["signin_sessions.subject"] >= 255
