"""The whole schema: every table module loaded onto the one `Base`, for Alembic and the schema tests."""

from __future__ import annotations

from router.store import identity_models, models, usage_models

# Each module registers its tables on `Base` when imported; naming them here is what loads them all.
TABLE_MODULES = (models, usage_models, identity_models)
metadata = models.Base.metadata
