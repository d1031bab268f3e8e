"""The most characters each stored text field holds: one number a field, used by the column definitions
(store/models.py, store/identity_models.py, store/usage_models.py) and by everything that keeps longer
values out: the validators (config/validate/), the page forms, the store's own checks, and the edges that
bound what an IdP, a client or an upstream sends. Pure: imports nothing.

Changing a number here changes a column: it needs a migration (tests/config/test_lengths.py compares)."""

from __future__ import annotations

# Names of tenants, providers, deployments, chains, pools, alerts; API token names.
NAME_CHARS = 100
# A provider's kind (openai, azure, a LiteLLM provider name).
KIND_CHARS = 50
# A provider's base URL.
API_BASE_CHARS = 500
# An API version (Azure's "2024-10-21").
API_VERSION_CHARS = 50
# The `${ENV}` name a config file gave for a credential, a webhook or a secret.
ENV_REF_CHARS = 200
# An Azure deployment's name at Azure, and the model behind it.
DEPLOYMENT_CHARS = 200
MODEL_CHARS = 200
# A target ref ("openai/gpt-4.1", "deployment/NAME", "pool/NAME"): chains, pools, rules, prices, usage.
TARGET_CHARS = 300
# A rule's pattern and its description.
MATCH_CHARS = 500
DESCRIPTION_CHARS = 500
# A member of a tenant (their e-mail when they sign in through the IdP), a key's alias.
MEMBER_CHARS = 200
ALIAS_CHARS = 100
# An IdP group named by a sign-in mapping (and carried by a sign-in session).
GROUP_CHARS = 200
# What the IdP says of a person: the subject (`sub`, up to 255 ASCII characters in OpenID Connect Core 1.0,
# 5.1) and the e-mail.
SUBJECT_CHARS = 255
EMAIL_CHARS = 200
# An admin user's name: an SSO admin's is their IdP e-mail, so it holds the longest e-mail.
ADMIN_NAME_CHARS = EMAIL_CHARS
# A webhook's host (and port), the part of its URL pages show.
WEBHOOK_HOST_CHARS = 255
# An alert delivery's subject ("member:TENANT/MEMBER:WINDOW") and the receiver's refusal.
DELIVERY_SUBJECT_CHARS = 400
DELIVERY_ERROR_CHARS = 500
# The audit log's who and what. The who (also an API token's `created_by`) is an admin user's name, or
# "member:" and a member's e-mail (the /me page), or "token:" and a token's prefix: each fits whole, since a
# cut name could be another person's.
AUDIT_ACTOR_CHARS = 255
AUDIT_OBJECT_ID_CHARS = 100
AUDIT_OBJECT_NAME_CHARS = 300
# Why a device sign-in was denied, why a sign-in session was revoked; the client that asked (surface).
REASON_CHARS = 200
SURFACE_CHARS = 50
# A sign-in throttle's key: "user:" and an admin user's name, or "addr:" and a client address.
THROTTLE_KEY_CHARS = 255
# A client address (an admin session's), a request id.
ADDRESS_CHARS = 64
REQUEST_ID_CHARS = 64


def length_error(value: object, limit: int) -> str | None:
    """ "must be at most N characters" when `value` is a longer string (anything else is another check's)."""
    if isinstance(value, str) and len(value) > limit:
        return f"must be at most {limit} characters"
    return None


def bounded(value: str, limit: int) -> str:
    """`value` cut to `limit` characters, the cut shown by a closing "…" (for labels and messages only,
    never for a value something is looked up by)."""
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"
