"""Company sign-in: SSO group mappings, OIDC login states, device authorizations, sign-in sessions, and the
managed settings each tenant's signed-in members get.

Revision ID: 0004_signin
Revises: 0003
Create Date: 2026-12-06 04:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_signin"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("managed_settings", sa.JSON(), nullable=True))
    op.create_table(
        "sso_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("group", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("tenants", sa.JSON(), nullable=True),
        sa.Column("managed_settings", sa.JSON(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_sso_mappings_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sso_mappings"),
    )
    op.create_table(
        "oidc_logins",
        sa.Column("state", sa.String(100), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("code_verifier", sa.String(200), nullable=False),
        sa.Column("nonce", sa.String(100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("state", name="pk_oidc_logins"),
    )
    op.create_index("ix_oidc_logins_expires_at", "oidc_logins", ["expires_at"])
    op.create_table(
        "device_authorizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_code_hash", sa.String(64), nullable=False),
        sa.Column("user_code", sa.String(9), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("surface", sa.String(50), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.Column("last_polled_at", _when(), nullable=True),
        sa.Column("session_id", sa.String(40), nullable=True),
        sa.Column("denied_reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_device_authorizations"),
        sa.UniqueConstraint("device_code_hash", name="uq_device_authorizations_device_code_hash"),
        sa.UniqueConstraint("user_code", name="uq_device_authorizations_user_code"),
    )
    op.create_index("ix_device_authorizations_expires_at", "device_authorizations", ["expires_at"])
    op.create_table(
        "signin_sessions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("surface", sa.String(50), nullable=True),
        sa.Column("refresh_token_hash", sa.String(64), nullable=True),
        sa.Column("idp_refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("refreshed_at", _when(), nullable=True),
        sa.Column("expires_at", _when(), nullable=False),
        sa.Column("revoked_at", _when(), nullable=True),
        sa.Column("revoked_reason", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_signin_sessions_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name="fk_signin_sessions_key_id_api_keys", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_signin_sessions"),
        sa.UniqueConstraint("refresh_token_hash", name="uq_signin_sessions_refresh_token_hash"),
    )
    op.create_index("ix_signin_sessions_member", "signin_sessions", ["tenant_id", "member"])
    op.create_index("ix_signin_sessions_key_id", "signin_sessions", ["key_id"])
    op.create_index("ix_signin_sessions_revoked_at", "signin_sessions", ["revoked_at"])


def downgrade() -> None:
    op.drop_table("signin_sessions")
    op.drop_table("device_authorizations")
    op.drop_table("oidc_logins")
    op.drop_table("sso_mappings")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("managed_settings")
