"""The service's configuration: one Settings object, read from ROUTER_* variables and a .env file.

Nothing else in the package reads os.environ (the claude-code-proxy import reads its own, documented variables
through `LegacyProxyEnv`), but router/settings_light.py: CLI data commands read their few fields there without
pydantic, and come here whenever anything more is set.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from router.settings_light import DEFAULT_SQLITE_URL, ENV_FILE, DatabaseUrlFacts


class Settings(BaseSettings, DatabaseUrlFacts):
    # populate_by_name: the OTEL_* fields below are read from OpenTelemetry's own variable names, and code
    # (tests) may still pass them by field name.
    model_config = SettingsConfigDict(
        env_prefix="ROUTER_", env_file=ENV_FILE, extra="ignore", populate_by_name=True
    )

    database_url: str = DEFAULT_SQLITE_URL
    # `router serve` applies pending migrations before listening. Off in production, where a job runs
    # `router db upgrade` before a rollout: a replica then finds the schema behind and reports not-ready.
    migrate_on_start: bool = True
    host: str = "127.0.0.1"
    port: int = 8082
    workers: int = 1
    # Proxies whose X-Forwarded-For / -Proto are trusted (comma-separated, or "*" behind a private LB).
    forwarded_allow_ips: str = "127.0.0.1"
    # How long an idle client connection stays open: longer than a load balancer's idle timeout (commonly
    # 60 s), so the balancer closes idle connections first; otherwise a request sent just as the router
    # closes one fails with no answer (uvicorn's own default is 5 s).
    keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    secret_key: str | None = Field(default=None, repr=False)
    log_level: str = "INFO"
    # OpenTelemetry, under the standard variable names: traces are exported over OTLP/HTTP only when the
    # endpoint is set (the SDK's other OTEL_* variables apply as usual); prompt text only when opted in.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_service_name: str = Field(default="router", validation_alias="OTEL_SERVICE_NAME")
    otel_capture_content: bool = Field(
        default=False, validation_alias="OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
    )
    # "auto": JSON lines unless stderr is a terminal, where a readable line per record is easier to follow.
    log_format: Literal["auto", "json", "text"] = "auto"
    redis_url: str | None = None
    # Prefix of every Redis key, so that deployments (or test runs) can share one Redis.
    redis_namespace: str = "router"
    # The most requests one process is sized to have in flight at once; per-process resources follow from
    # it (the Redis pool for limits: one connection per 16 requests, 4 to 256).
    concurrency: int = Field(default=1024, ge=1)
    # Redis connections per process for limits, when not derived from `concurrency`. An admission holds
    # one for a round trip; when all are busy a request waits up to redis_pool_timeout seconds, then that
    # request alone is refused (529), never served uncounted.
    redis_pool_size: int | None = Field(default=None, ge=1)
    redis_pool_timeout: float = Field(default=2.0, gt=0)
    # While Redis cannot be asked: "open" serves limited requests uncounted (their spend is added back when
    # Redis returns), "closed" refuses them (529 overloaded_error). Logged and counted in /metrics.
    limits_on_redis_down: Literal["open", "closed"] = "open"

    # How often every process checks the config version (seconds): a change saved elsewhere is live
    # within this.
    config_poll_interval: float = 1.0
    # A request body larger than this is refused with 413 before it is read whole.
    max_request_bytes: int = 32 * 1024 * 1024
    # LiteLLM's model cost map (prices, context windows): the copy shipped inside the package unless this
    # is on, when LiteLLM fetches the latest at start-up (a network round trip, and a wait if it is slow).
    litellm_remote_cost_map: bool = False
    # Upstream timeouts (seconds): connect + first byte, and the whole call.
    upstream_connect_timeout: float = 10.0
    upstream_timeout: float = 600.0
    # The first-byte wait: how long one target may take to start answering before the chain falls back
    # (nothing, not even headers, reaches the client meanwhile; it also bounds silence inside a stream).
    # A load balancer's idle timeout must exceed it (times the targets a chain may try): see
    # docs/gateway-contract.md, "Keep-alives and the first-byte wait".
    upstream_first_byte_timeout: float = 120.0
    # The most of one upstream answer the router buffers: a whole non-streamed body, and one SSE line (or
    # event). Past either the client gets a clear error (502 api_error) and memory is let go.
    upstream_max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    upstream_max_line_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Once a stream has started, an `event: ping` goes out after this many seconds of upstream silence,
    # so neither the client nor a load balancer idles out while a reasoning model thinks (0: no pings).
    stream_ping_interval: float = Field(default=10.0, ge=0)
    # A target that keeps failing is skipped for this long (seconds), per process.
    cooldown_seconds: float = 30.0
    cooldown_after_failures: int = 3
    # Usage recorder: queue bound, batch size and flush interval (seconds).
    usage_queue_size: int = 50_000
    usage_batch_size: int = 500
    usage_flush_interval: float = 0.5
    # Crash durability: each usage record is appended to a local spool in this directory before its
    # response completes, and replayed on the next start after a crash. Empty: off.
    usage_spool_dir: str = "usage-spool"
    # Seconds between the spool's fsyncs: a record is written to the spool file (safe from a process crash)
    # before its response completes, and on disk (safe from a machine crash) within this. 0: each response
    # waits for its record's fsync (group commit): nothing acknowledged is lost even to a power cut, at an
    # fsync's latency per response.
    usage_spool_sync_interval: float = Field(default=0.2, ge=0)
    # Raw usage rows older than this many days are deleted hourly (PostgreSQL: whole monthly partitions once
    # the month is past this age; SQLite: by date, in batches); the hourly rollups that reports read are
    # kept. 0 keeps raw rows forever.
    usage_retention_days: int = Field(default=0, ge=0)
    # PostgreSQL: monthly partitions of the raw usage rows kept created ahead of the current month.
    usage_partitions_ahead: int = Field(default=2, ge=0, le=24)
    # Alerts (config `alerts:`): how often each process evaluates error rates and cool-downs, and budgets
    # (seconds; budgets read the rollups, so less often); a webhook's timeout; attempts per delivery, the
    # first retry's delay (doubling on each retry, at most alert_max_retry_seconds).
    alert_interval: float = Field(default=10.0, gt=0)
    alert_budget_interval: float = Field(default=60.0, gt=0)
    alert_webhook_timeout: float = Field(default=5.0, gt=0)
    alert_delivery_attempts: int = Field(default=6, ge=1, le=20)
    alert_retry_seconds: float = Field(default=5.0, ge=0)
    alert_max_retry_seconds: float = Field(default=600.0, ge=0)
    # Requests per minute each key may make to /v1/messages/count_tokens, counted apart from its messages
    # (as Anthropic limits it separately); 0 turns the limit off.
    count_tokens_rpm: int = Field(default=600, ge=0)
    # Log prompts and responses: off unless explicitly turned on.
    log_requests: bool = False
    # /metrics needs `Authorization: Bearer <metrics_token>`; unset, only signed-in admins read the text
    # (at /admin/metrics, where their session cookie is sent).
    metrics_token: str | None = Field(default=None, repr=False)
    # Admin sessions (server-side): end after this long without a request, and at the latest after this long.
    admin_session_idle_seconds: float = Field(default=2 * 60 * 60, gt=0)
    admin_session_max_seconds: float = Field(default=12 * 60 * 60, gt=0)
    # Password sign-ins per client address per window; beyond it the address waits (no argon2 work).
    sign_in_attempts_per_address: int = Field(default=20, ge=1)
    sign_in_window_seconds: float = Field(default=60.0, gt=0)
    # Off: admins sign in only through the identity provider (OIDC); the setup link and the CLI still work.
    admin_password_sign_in: bool = True
    # On SIGTERM: /readyz answers 503 at once, new requests are still served for `shutdown_drain_seconds`
    # (long enough for the load balancer or Kubernetes to see the replica go unready), then the listener
    # closes and requests and streams in flight get `shutdown_grace_seconds` to finish (set it to the
    # longest stream that must survive a restart) before the usage queue is drained and the process exits.
    shutdown_drain_seconds: float = 0.0
    shutdown_grace_seconds: float = 20.0
    # A replica that has reached its database stays ready this long after it stops answering (a restart or
    # fail-over): requests do not need it, and every replica shares it, so failing at once would take them
    # all out of the load balancer together. 0: not ready from the first failed check.
    readiness_database_grace_seconds: float = Field(default=30.0, ge=0)

    # Company sign-in (OIDC), shared by the admin sign-in and the Claude Code sign-in. The one redirect URI to
    # register at the IdP is `{public_url}/oidc/callback`.
    # The URL clients, browsers and the IdP reach the router at (no trailing slash).
    public_url: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    oidc_scopes: str = "openid profile email offline_access"
    # The ID-token (or userinfo) claim that lists the user's groups.
    oidc_groups_claim: str = "groups"
    # Seconds a browser has between leaving for the IdP and coming back to /oidc/callback.
    oidc_login_ttl: int = 600
    # Claude Code sign-in: lifetime of a minted access token, of a refresh token (sliding: each refresh
    # issues a new one), and of a device code (seconds); the poll interval the device flow asks for.
    signin_access_token_ttl: int = 3600
    signin_refresh_token_ttl: int = 30 * 24 * 3600
    signin_device_code_ttl: int = 600
    signin_poll_interval: int = 5
    # OTLP/HTTP base URL that signed-in clients' telemetry (POST /v1/metrics|logs|traces) is relayed to,
    # e.g. http://otel-collector:4318; unset: accepted and dropped.
    telemetry_otlp_endpoint: str | None = None
    # Headers sent with each relayed batch (OTEL_EXPORTER_OTLP_HEADERS' form: "k1=v1,k2=v2"), e.g. the
    # collector's API key.
    telemetry_otlp_headers: str | None = Field(default=None, repr=False)

    @field_validator("public_url", "oidc_issuer", "telemetry_otlp_endpoint")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        """An http(s) base URL without a trailing slash (the IdP compares redirect URIs byte for byte)."""
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError(f"must be an http:// or https:// URL without query or fragment, not {value!r}")
        return value

    @property
    def oidc_missing(self) -> list[str]:
        """The sign-in settings still missing when some are set (empty: none set, or all needed are)."""
        needed = {
            "ROUTER_PUBLIC_URL": self.public_url,
            "ROUTER_OIDC_ISSUER": self.oidc_issuer,
            "ROUTER_OIDC_CLIENT_ID": self.oidc_client_id,
        }
        if not any(needed.values()):
            return []
        return [name for name, value in needed.items() if not value]

    @property
    def oidc_configured(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.public_url)

    @property
    def oidc_redirect_uri(self) -> str:
        return f"{(self.public_url or '').rstrip('/')}/oidc/callback"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
