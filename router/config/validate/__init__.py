"""Validation of a whole desired configuration, and of its parts: pure, every problem named by its place.

Config apply validates the whole file before touching the database (desired.py: `validate_config`); the
admin pages, the management API and `store/catalog/` use the same check of one entity at a time, one module
a kind (rules, tenants and their limits, providers and deployments, chains, pools, prices, alerts, sso).
Import from here: this package is the one entry point, its modules are how the checks are kept short.
"""

from router.config.validate.alerts import ALERT_SUBJECTS, ALERT_WATCHES, alert_issues, webhook_error
from router.config.validate.chains import MAX_CHAIN_BACKOFF_MS, MAX_CHAIN_RETRIES, chain_issues
from router.config.validate.desired import validate_config
from router.config.validate.issues import KnownNames
from router.config.validate.limits import BUDGET_WINDOWS, budget_issues, limit_issues
from router.config.validate.pools import MAX_POOL_WEIGHT, POOL_STRATEGIES, pool_issues
from router.config.validate.prices import PRICE_FIELDS, price_issues
from router.config.validate.providers import deployment_issues, provider_issues
from router.config.validate.rules import rule_issues
from router.config.validate.sso import ADMIN_ROLES
from router.config.validate.tenants import tenant_issues

__all__ = [
    "ADMIN_ROLES",
    "ALERT_SUBJECTS",
    "ALERT_WATCHES",
    "BUDGET_WINDOWS",
    "MAX_CHAIN_BACKOFF_MS",
    "MAX_CHAIN_RETRIES",
    "MAX_POOL_WEIGHT",
    "POOL_STRATEGIES",
    "PRICE_FIELDS",
    "KnownNames",
    "alert_issues",
    "budget_issues",
    "chain_issues",
    "deployment_issues",
    "limit_issues",
    "pool_issues",
    "price_issues",
    "provider_issues",
    "rule_issues",
    "tenant_issues",
    "validate_config",
    "webhook_error",
]
