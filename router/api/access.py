"""Which access level each management API route needs (the same levels and decision as the admin pages).

tests/identity/test_role_route_matrix.py walks every registered /api/v1 route too: a route missing here is
owner-only and fails that test.
"""

from __future__ import annotations

from router.identity.roles import Access

A = Access
T = "/api/v1/tenants/{tenant_id:int}"

API_ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/api/v1/me"): A.SIGNED_IN,
    ("GET", "/api/v1/tenants"): A.READ_TENANT,
    ("POST", "/api/v1/tenants"): A.WRITE,
    ("GET", T): A.READ_TENANT,
    ("PATCH", T): A.WRITE,
    ("DELETE", T): A.WRITE,
    ("GET", f"{T}/keys"): A.READ_TENANT,
    ("POST", f"{T}/keys"): A.WRITE_TENANT,
    ("PATCH", f"{T}/keys/{{key_id:int}}"): A.WRITE_TENANT,
    ("DELETE", f"{T}/keys/{{key_id:int}}"): A.WRITE_TENANT,
    ("GET", f"{T}/budgets"): A.READ_TENANT,
    # tenant-admins set their members' and keys' budgets; the tenant's own is an admin's (the handler: 403)
    ("PUT", f"{T}/budgets"): A.WRITE_TENANT,
    ("GET", f"{T}/rules"): A.READ_TENANT,
    ("GET", f"{T}/reach"): A.READ_TENANT,  # read-only: the tenant's and the global rules, and their targets
    ("POST", f"{T}/rules"): A.WRITE_TENANT,
    ("PATCH", f"{T}/rules/{{rule_id:int}}"): A.WRITE_TENANT,
    ("POST", f"{T}/rules/{{rule_id:int}}/move"): A.WRITE_TENANT,
    ("DELETE", f"{T}/rules/{{rule_id:int}}"): A.WRITE_TENANT,
    ("GET", "/api/v1/rules"): A.READ_TENANT,
    ("POST", "/api/v1/rules"): A.WRITE,
    ("PATCH", "/api/v1/rules/{rule_id:int}"): A.WRITE,
    ("POST", "/api/v1/rules/{rule_id:int}/move"): A.WRITE,
    ("DELETE", "/api/v1/rules/{rule_id:int}"): A.WRITE,
    ("GET", "/api/v1/providers"): A.READ,
    # Admins create and edit providers; a body with `api_key` is the owners' (the handler answers 403).
    ("POST", "/api/v1/providers"): A.WRITE,
    ("PATCH", "/api/v1/providers/{provider_id:int}"): A.WRITE,
    ("DELETE", "/api/v1/providers/{provider_id:int}"): A.OWNER,
    ("GET", "/api/v1/deployments"): A.READ,
    ("POST", "/api/v1/deployments"): A.WRITE,
    ("PATCH", "/api/v1/deployments/{deployment_id:int}"): A.WRITE,
    ("DELETE", "/api/v1/deployments/{deployment_id:int}"): A.WRITE,
    ("GET", "/api/v1/chains"): A.READ,
    ("POST", "/api/v1/chains"): A.WRITE,
    ("PATCH", "/api/v1/chains/{chain_id:int}"): A.WRITE,
    ("DELETE", "/api/v1/chains/{chain_id:int}"): A.WRITE,
    # alerts: as the Alerts page (router/admin/access.py); the webhook and its secret are write-only
    ("GET", "/api/v1/alerts"): A.READ,
    ("POST", "/api/v1/alerts"): A.WRITE,
    ("GET", "/api/v1/alerts/deliveries"): A.READ,
    ("GET", "/api/v1/alerts/{alert_id:int}"): A.READ,
    ("PATCH", "/api/v1/alerts/{alert_id:int}"): A.WRITE,
    ("DELETE", "/api/v1/alerts/{alert_id:int}"): A.WRITE,
    ("GET", "/api/v1/alerts/{alert_id:int}/deliveries"): A.READ,
    ("POST", "/api/v1/alerts/{alert_id:int}/test"): A.WRITE,
    ("GET", "/api/v1/users"): A.OWNER,
    ("POST", "/api/v1/users"): A.OWNER,
    ("PATCH", "/api/v1/users/{username:str}"): A.OWNER,
    ("DELETE", "/api/v1/users/{username:str}"): A.OWNER,
    ("GET", "/api/v1/usage"): A.READ_TENANT,
}

# Reports a tenant-limited token must name one of its tenants for (?tenant_id=...).
TENANT_FILTERED = frozenset({"/api/v1/usage"})
