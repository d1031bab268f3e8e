"""The store's tests share the usage part's databases (a clean schema on SQLite and PostgreSQL)."""

from tests.usage.conftest import pg_db, usage_db, usage_pg_name, usage_sqlite_url

__all__ = ["pg_db", "usage_db", "usage_pg_name", "usage_sqlite_url"]
