"""Providers, deployments, chains (with ordered targets), rules (with order) and model prices: validated CRUD.

Every function takes the caller's AsyncSession and never commits; each mutation bumps the config version and
writes an audit entry in the same transaction. Functions return the ORM rows (Provider, Deployment with
`provider` loaded, Chain with `targets` loaded, Rule with `chain` loaded, ModelPrice). A Provider row holds
only the encrypted credential; `provider_state()` is the view safe to show, audit or export.
In updates, `...` (the default) leaves a field as it is and None clears it.
Refusals raise `CatalogError` (its `field` names the offending field when there is one), `CatalogConflict`
(also an AlreadyExistsError) for a taken name, and the store's `NotFoundError` for a missing id.
"""

from router.store.catalog._base import (
    CatalogConflict,
    CatalogError,
    Direction,
    known_names,
    target_users,
)
from router.store.catalog.chains import (
    add_chain_target,
    chain_refs,
    chain_state,
    create_chain,
    delete_chain,
    find_chain,
    get_chain,
    list_chains,
    move_chain_target,
    remove_chain_target,
    update_chain,
)
from router.store.catalog.prices import (
    create_price,
    delete_price,
    find_price,
    get_price,
    list_prices,
    price_state,
    set_price,
    update_price,
)
from router.store.catalog.providers import (
    create_deployment,
    create_provider,
    delete_deployment,
    delete_provider,
    deployment_state,
    find_deployment,
    find_provider,
    get_deployment,
    get_provider,
    list_deployments,
    list_providers,
    provider_state,
    update_deployment,
    update_provider,
)
from router.store.catalog.rules import (
    create_rule,
    delete_rule,
    get_rule,
    list_all_rules,
    list_rules,
    move_rule,
    place_rule,
    reorder_rules,
    rule_state,
    update_rule,
)

__all__ = [
    "CatalogConflict",
    "CatalogError",
    "Direction",
    "add_chain_target",
    "chain_refs",
    "chain_state",
    "create_chain",
    "create_deployment",
    "create_price",
    "create_provider",
    "create_rule",
    "delete_chain",
    "delete_deployment",
    "delete_price",
    "delete_provider",
    "delete_rule",
    "deployment_state",
    "find_chain",
    "find_deployment",
    "find_price",
    "find_provider",
    "get_chain",
    "get_deployment",
    "get_price",
    "get_provider",
    "get_rule",
    "known_names",
    "list_all_rules",
    "list_chains",
    "list_deployments",
    "list_prices",
    "list_providers",
    "list_rules",
    "move_chain_target",
    "move_rule",
    "place_rule",
    "price_state",
    "provider_state",
    "remove_chain_target",
    "reorder_rules",
    "rule_state",
    "set_price",
    "target_users",
    "update_chain",
    "update_deployment",
    "update_price",
    "update_provider",
    "update_rule",
]
