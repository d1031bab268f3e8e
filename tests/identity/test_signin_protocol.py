"""Claude Code's sign-in protocol against the running service and a real OpenID provider on loopback:
discovery, the device flow with its RFC 8628 errors, the browser leg (CSRF-checked) through the IdP, minted
tokens answering /v1 as the member (usage attributed to their e-mail), refresh with rotation, revocation,
expiry, managed settings with ETag/304/404, and the telemetry relay."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

import anthropic
import httpx
import pytest
from click.testing import CliRunner

from router.cli import main
from router.identity.tokens import TokenSigner
from router.store.audit import list_audit
from router.store.db import Database
from router.store.usage_records import UsageFilters, list_usage_records
from tests.fakes import Reply
from tests.fakes.oidc import CLIENT_ID, CLIENT_SECRET, IdpUser, TestIdp, default_users
from tests.fixtures.app import SECRET, LiveRouter
from tests.fixtures.db import run_async

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
tenants:
  - name: eng
    managed_settings: {model: claude-sonnet-4-5, env: {OTEL_METRICS_EXPORTER: otlp, TEAM: eng}}
  - name: ops
sso:
  members:
    - {group: engineering, tenant: eng}
    - {group: platform, tenant: eng, managed_settings: {env: {TEAM: platform}, availableModels: [sonnet]}}
    - {group: sre, tenant: ops}
"""


@pytest.fixture
def db_url(sqlite_template: Any, tmp_path: Any) -> str:
    """SQLite: the sign-in's storage runs on both backends in tests/identity/test_oidc_login.py and the
    migrations tests; this proves the protocol."""
    from tests.fixtures.db import _sqlite_copy

    return _sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def router(start_router: Callable[..., LiveRouter], oidc_idp: TestIdp) -> LiveRouter:
    live = start_router(
        oidc_issuer=oidc_idp.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        signin_poll_interval=1,
    )
    live.apply(CONFIG)
    return live


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    email: str


def _authorize(http: httpx.Client) -> dict[str, Any]:
    response = http.post("/oauth/device_authorization", data={"surface": "claude_code"})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def _poll(http: httpx.Client, device_code: str) -> httpx.Response:
    return http.post("/oauth/token", data={"grant_type": DEVICE_GRANT, "device_code": device_code})


def _approve_in_browser(router: LiveRouter, idp: TestIdp, grant: dict[str, Any], user: str) -> httpx.Response:
    """The person's browser: the verification page, confirm the code, sign in at the IdP, back to us."""
    with httpx.Client(timeout=20) as browser:
        page = browser.get(grant["verification_uri_complete"])
        assert page.status_code == 200
        assert grant["user_code"] in page.text
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        confirm = browser.post(
            f"{router.base_url}/device",
            data={"_csrf": csrf.group(1), "user_code": grant["user_code"]},
            headers={"origin": router.base_url},
        )
        assert confirm.status_code == 303, confirm.text
        back = idp.sign_in(browser, confirm.headers["location"], user)
        assert back.headers["location"].startswith(f"{router.base_url}/oidc/callback?")
        return browser.get(back.headers["location"])


def sign_in(router: LiveRouter, idp: TestIdp, user: str = "alice") -> Tokens:
    with router.http() as http:
        grant = _authorize(http)
        pending = _poll(http, grant["device_code"])
        assert (pending.status_code, pending.json()) == (400, {"error": "authorization_pending"})
        done = _approve_in_browser(router, idp, grant, user)
        assert done.status_code == 200, done.text
        assert "You are signed in" in done.text
        time.sleep(grant["interval"])
        response = _poll(http, grant["device_code"])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        # The device code is single-use.
        again = _poll(http, grant["device_code"])
        assert again.json()["error"] == "invalid_grant"
        return Tokens(body["access_token"], body["refresh_token"], body["expires_in"], body["email"])


def _ask(router: LiveRouter, token: str) -> anthropic.types.Message:
    client = anthropic.Anthropic(auth_token=token, base_url=router.base_url, max_retries=0)
    return client.messages.create(
        model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )


def _usage(router: LiveRouter, count: int) -> list[tuple[str | None, str | None, int | None]]:
    async def load() -> list[tuple[str | None, str | None, int | None]]:
        db = Database(router.settings.database_url)
        try:
            async with db.session() as session:
                rows = await list_usage_records(
                    session, UsageFilters(since=datetime(2000, 1, 1, tzinfo=UTC)), limit=100
                )
                return [(r.member, r.key_prefix, r.tenant_id) for r in rows]
        finally:
            await db.dispose()

    deadline = time.monotonic() + 10
    while True:
        rows = run_async(load())
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def _sign_in_audit(router: LiveRouter) -> list[tuple[str, str, str | None]]:
    async def load() -> list[tuple[str, str, str | None]]:
        db = Database(router.settings.database_url)
        try:
            async with db.session() as session:
                entries = await list_audit(session, limit=100, object_type="signin_session")
                return [(e.action, e.actor, (e.after or {}).get("reason")) for e in entries]
        finally:
            await db.dispose()

    return run_async(load())


def _wait_until_refused(router: LiveRouter, token: str) -> anthropic.AuthenticationError:
    deadline = time.monotonic() + 10
    while True:
        try:
            _ask(router, token)
        except anthropic.AuthenticationError as exc:
            return exc
        except anthropic.RateLimitError:
            pass  # still accepted as the member (only over their budget)
        assert time.monotonic() < deadline, "the revoked token kept working"
        time.sleep(0.1)


def test_discovery_names_the_device_flow_endpoints(router: LiveRouter) -> None:
    with router.http() as http:
        meta = http.get("/.well-known/oauth-authorization-server").json()
    base = router.base_url
    assert meta["issuer"] == base
    assert meta["device_authorization_endpoint"] == f"{base}/oauth/device_authorization"
    assert meta["token_endpoint"] == f"{base}/oauth/token"
    assert meta["revocation_endpoint"] == f"{base}/oauth/revoke"
    assert meta["grant_types_supported"] == [DEVICE_GRANT, "refresh_token"]
    assert meta["token_endpoint_auth_methods_supported"] == ["none"]
    assert meta["gateway_protocol_version"] == 1


def test_device_authorization_answers_rfc_8628(router: LiveRouter) -> None:
    with router.http() as http:
        grant = _authorize(http)
        assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", grant["user_code"])
        assert len(grant["device_code"]) >= 43  # 256 bits, url-safe
        assert grant["verification_uri"] == f"{router.base_url}/device"
        assert (
            grant["verification_uri_complete"] == f"{router.base_url}/device?user_code={grant['user_code']}"
        )
        assert (grant["expires_in"], grant["interval"]) == (600, 1)
        # Polling faster than the interval: slow_down; an unknown code: invalid_grant; a bad grant type.
        assert _poll(http, grant["device_code"]).json() == {"error": "authorization_pending"}
        assert _poll(http, grant["device_code"]).json()["error"] == "slow_down"
        assert _poll(http, "not-a-code").json()["error"] == "invalid_grant"
        bad = http.post("/oauth/token", data={"grant_type": "password"})
        assert (bad.status_code, bad.json()["error"]) == (400, "unsupported_grant_type")


def test_a_member_signs_in_and_the_token_answers_as_them_beside_proxy_keys(
    router: LiveRouter, oidc_idp: TestIdp
) -> None:
    tokens = sign_in(router, oidc_idp, "alice")
    assert tokens.email == "alice@example.com"
    assert tokens.expires_in == 3600
    message = _ask(router, tokens.access_token)
    assert message.content[0].type == "text"
    bearer = {"authorization": f"Bearer {tokens.access_token}"}
    with router.http() as http:
        # The same token works on every bearer endpoint.
        assert http.get("/v1/models", headers=bearer).status_code == 200
        counted = http.post(
            "/v1/messages/count_tokens?beta=true",
            headers=bearer,
            json={"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert counted.status_code == 200 and counted.json()["input_tokens"] > 0
    # A proxy key works at the same time.
    key = router.key("eng", "keyholder")
    router.client(key).messages.create(
        model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    rows = _usage(router, 2)
    members = {member for member, _, _ in rows}
    assert members == {"alice@example.com", "keyholder"}
    signed_in = next(r for r in rows if r[0] == "alice@example.com")
    assert signed_in[1] is not None and signed_in[1].startswith("sso-")
    assert ("sign_in", "alice@example.com", None) in _sign_in_audit(router)
    # `router signin list` shows the live sign-in.
    env = {"ROUTER_DATABASE_URL": router.settings.database_url, "ROUTER_SECRET_KEY": SECRET}
    listed = CliRunner().invoke(main, ["signin", "list"], env=env)
    assert "alice@example.com" in listed.output and "eng" in listed.output


def test_a_signed_in_members_budget_and_revocation_work_through_their_sign_in_key(
    router: LiveRouter, oidc_idp: TestIdp
) -> None:
    tokens = sign_in(router, oidc_idp, "alice")
    env = {"ROUTER_DATABASE_URL": router.settings.database_url, "ROUTER_SECRET_KEY": SECRET}
    listed = CliRunner().invoke(main, ["key", "list", "--tenant", "eng"], env=env)
    prefix = next(word for word in listed.output.split() if word.startswith("sso-"))
    # An admin caps the member's spend like any key holder's.
    capped = CliRunner().invoke(main, ["key", "limits", prefix, "--budget-usd", "0.0001"], env=env)
    assert capped.exit_code == 0, capped.output
    router.wait_for_config()
    router.upstream.script(Reply(text="expensive", input_tokens=100_000, output_tokens=1000), model="gpt-4.1")
    _ask(router, tokens.access_token)
    deadline = time.monotonic() + 5
    while True:
        try:
            _ask(router, tokens.access_token)
        except anthropic.RateLimitError as exc:
            assert exc.body["error"]["type"] == "billing_error"  # type: ignore[index]
            # Claude Code's usage notice headers describe the member's own cap (not a tenant pool).
            assert exc.response.headers["anthropic-ratelimit-unified-status"] == "rejected"
            assert "anthropic-ratelimit-unified-overage-scope" not in exc.response.headers
            break
        assert time.monotonic() < deadline, "the member's budget never tripped"
        time.sleep(0.1)
    # Revoking the member's sign-in key ends their token too, on the next request.
    revoked = CliRunner().invoke(main, ["key", "revoke", prefix], env=env)
    assert revoked.exit_code == 0, revoked.output
    refused = _wait_until_refused(router, tokens.access_token)
    assert refused.response.headers["x-should-retry"] == "false"


def test_a_person_in_no_mapped_group_is_denied(router: LiveRouter, oidc_idp: TestIdp) -> None:
    with router.http() as http:
        grant = _authorize(http)
        done = _approve_in_browser(router, oidc_idp, grant, "bob")
        assert done.status_code == 403
        assert "no group that may use Claude Code" in done.text
        time.sleep(grant["interval"])
        assert _poll(http, grant["device_code"]).json()["error"] == "access_denied"
    # The audit log names who was turned away and why.
    assert (
        "sign_in_denied",
        "bob@example.com",
        "you are in no group that may use Claude Code here",
    ) in _sign_in_audit(router)


def test_the_verification_page_refuses_a_post_without_its_csrf_token_or_from_another_site(
    router: LiveRouter,
) -> None:
    with router.http() as http:
        grant = _authorize(http)
    with httpx.Client(timeout=10) as browser:
        page = browser.get(grant["verification_uri_complete"])
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        forged = browser.post(
            f"{router.base_url}/device", data={"user_code": grant["user_code"], "_csrf": "x"}
        )
        assert forged.status_code == 403
        form = {"user_code": grant["user_code"], "_csrf": csrf.group(1)}
        for headers in (
            {"origin": "http://evil.example"},
            {"sec-fetch-site": "cross-site", "origin": "null"},
        ):
            other_site = browser.post(f"{router.base_url}/device", data=form, headers=headers)
            assert other_site.status_code == 403, headers
        same_site = browser.post(
            f"{router.base_url}/device", data=form, headers={"sec-fetch-site": "same-origin"}
        )
        assert same_site.status_code == 303


def test_denying_in_the_browser_stops_the_device(router: LiveRouter) -> None:
    with router.http() as http:
        grant = _authorize(http)
        with httpx.Client(timeout=10) as browser:
            page = browser.get(grant["verification_uri_complete"])
            csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            denied = browser.post(
                f"{router.base_url}/device/deny",
                data={"_csrf": csrf.group(1), "user_code": grant["user_code"]},
            )
            assert denied.status_code == 200 and "Sign-in denied" in denied.text
        time.sleep(grant["interval"])
        assert _poll(http, grant["device_code"]).json()["error"] == "access_denied"


def test_refresh_rotates_and_an_old_refresh_token_is_refused(router: LiveRouter, oidc_idp: TestIdp) -> None:
    tokens = sign_in(router, oidc_idp, "carol")
    with router.http() as http:
        fresh = http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        assert fresh.status_code == 200, fresh.text
        body = fresh.json()
        assert body["refresh_token"] != tokens.refresh_token
        assert body["access_token"] != tokens.access_token
        _ask(router, body["access_token"])
        replay = http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        assert (replay.status_code, replay.json()["error"]) == (401, "invalid_grant")


def test_removed_from_the_group_at_the_idp_means_no_refresh_and_the_token_is_ended(
    router: LiveRouter, oidc_idp: TestIdp
) -> None:
    tokens = sign_in(router, oidc_idp, "alice")
    _ask(router, tokens.access_token)
    oidc_idp.set_users([IdpUser("alice", ["sales"]), *default_users()[1:]])
    with router.http() as http:
        refused = http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_grant")
    # The refused refresh ends the sign-in: its access token stops working too, before it expires.
    _wait_until_refused(router, tokens.access_token)


def test_disabled_at_the_idp_means_no_refresh(router: LiveRouter, oidc_idp: TestIdp) -> None:
    tokens = sign_in(router, oidc_idp, "alice")
    oidc_idp.set_users([IdpUser("alice", ["engineering"], disabled=True), *default_users()[1:]])
    with router.http() as http:
        refused = http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_grant")


def test_an_admin_sign_out_ends_the_access_token_within_the_poll_interval(
    router: LiveRouter, oidc_idp: TestIdp
) -> None:
    tokens = sign_in(router, oidc_idp, "alice")
    _ask(router, tokens.access_token)
    env = {"ROUTER_DATABASE_URL": router.settings.database_url, "ROUTER_SECRET_KEY": SECRET}
    result = CliRunner().invoke(main, ["signin", "sign-out", "alice@example.com"], env=env)
    assert result.exit_code == 0, result.output
    refused = _wait_until_refused(router, tokens.access_token)
    assert refused.response.headers["x-should-retry"] == "false"
    assert refused.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with router.http() as http:
        again = http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
    assert (again.status_code, again.json()["error"]) == (401, "invalid_grant")


def test_sign_out_through_the_revocation_endpoint(router: LiveRouter, oidc_idp: TestIdp) -> None:
    tokens = sign_in(router, oidc_idp, "alice")
    with router.http() as http:
        assert http.post("/oauth/revoke", data={"token": tokens.access_token}).status_code == 200
        assert http.post("/oauth/revoke", data={"token": "unknown"}).status_code == 200
    _wait_until_refused(router, tokens.access_token)


def test_an_expired_or_forged_token_gets_401_authentication_error(
    router: LiveRouter, oidc_idp: TestIdp
) -> None:
    tokens = sign_in(router, oidc_idp, "alice")
    signer = TokenSigner(SECRET, router.base_url)
    claims = signer.verify(tokens.access_token)
    expired, _ = signer.mint(
        session_id=claims.session_id,
        key_hash=claims.key_hash,
        tenant_id=claims.tenant_id,
        member=claims.member,
        subject=claims.subject,
        groups=claims.groups,
        ttl=3600,
        now=time.time() - 7200,
    )
    forged, _ = TokenSigner("another-secret", router.base_url).mint(
        session_id=claims.session_id,
        key_hash=claims.key_hash,
        tenant_id=claims.tenant_id,
        member=claims.member,
        subject=claims.subject,
        groups=claims.groups,
        ttl=3600,
    )
    for token, message in ((expired, "expired"), (forged, "invalid access token")):
        with pytest.raises(anthropic.AuthenticationError) as caught:
            _ask(router, token)
        assert message in caught.value.message
        assert caught.value.response.headers["x-should-retry"] == "false"


def _checksum(settings: dict[str, Any]) -> str:
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_managed_settings_layer_groups_over_the_tenant_with_etag_and_304(
    router: LiveRouter, oidc_idp: TestIdp
) -> None:
    alice = sign_in(router, oidc_idp, "alice")
    carol = sign_in(router, oidc_idp, "carol")
    with router.http() as http:
        plain = http.get("/managed/settings", headers={"authorization": f"Bearer {alice.access_token}"})
        assert plain.status_code == 200
        body = plain.json()
        assert body["settings"] == {
            "model": "claude-sonnet-4-5",
            "env": {"OTEL_METRICS_EXPORTER": "otlp", "TEAM": "eng"},
        }
        assert body["checksum"] == _checksum(body["settings"])
        assert plain.headers["etag"] == f'"{body["checksum"]}"'
        # carol is also in `platform`: its settings are layered on top (env merged key by key).
        layered = http.get(
            "/managed/settings", headers={"authorization": f"Bearer {carol.access_token}"}
        ).json()
        assert layered["settings"] == {
            "model": "claude-sonnet-4-5",
            "env": {"OTEL_METRICS_EXPORTER": "otlp", "TEAM": "platform"},
            "availableModels": ["sonnet"],
        }
        assert layered["uuid"] != body["uuid"]
        cached = http.get(
            "/managed/settings",
            headers={
                "authorization": f"Bearer {alice.access_token}",
                "if-none-match": f'"{body["checksum"]}"',
            },
        )
        assert cached.status_code == 304
        stale = http.get(
            "/managed/settings",
            headers={"authorization": f"Bearer {alice.access_token}", "if-none-match": '"sha256:old"'},
        )
        assert stale.status_code == 200
        missing = http.get("/managed/settings")
        assert missing.status_code == 401
        assert missing.json()["error"]["type"] == "authentication_error"
    # A tenant without a document and a member in no group with one: 404 (no policy).
    router.apply(
        CONFIG.replace(
            "    managed_settings: {model: claude-sonnet-4-5, env: {OTEL_METRICS_EXPORTER: otlp, TEAM: eng}}\n",
            "",
        )
    )
    with router.http() as http:
        none = http.get("/managed/settings", headers={"authorization": f"Bearer {alice.access_token}"})
        assert none.status_code == 404


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(
            (self.path, self.headers["content-type"], body, self.headers["x-collector-key"])
        )
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes, str]]]]:
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Collector.received
    finally:
        server.shutdown()


def test_telemetry_is_relayed_to_the_operators_collector(
    start_router: Callable[..., LiveRouter], oidc_idp: TestIdp, collector: tuple[str, list[Any]]
) -> None:
    url, received = collector
    router = start_router(
        oidc_issuer=oidc_idp.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        signin_poll_interval=1,
        telemetry_otlp_endpoint=url,
        telemetry_otlp_headers="x-collector-key=s3cret%3D,other=1",
    )
    router.apply(CONFIG)
    tokens = sign_in(router, oidc_idp, "alice")
    batch = b"\x0a\x03otlp-protobuf-bytes"
    with router.http() as http:
        auth = {"authorization": f"Bearer {tokens.access_token}", "content-type": "application/x-protobuf"}
        for signal in ("metrics", "logs", "traces"):
            assert http.post(f"/v1/{signal}", content=batch, headers=auth).status_code == 200
        assert http.post("/v1/metrics", content=batch).status_code == 401
    deadline = time.monotonic() + 10
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(path for path, _, _, _ in received) == ["/v1/logs", "/v1/metrics", "/v1/traces"]
    assert all(ctype == "application/x-protobuf" and body == batch for _, ctype, body, _ in received)
    assert all(key == "s3cret=" for _, _, _, key in received)


def test_telemetry_without_a_collector_is_accepted_and_dropped(router: LiveRouter, oidc_idp: TestIdp) -> None:
    tokens = sign_in(router, oidc_idp, "alice")
    with router.http() as http:
        response = http.post(
            "/v1/metrics", content=b"\x00", headers={"authorization": f"Bearer {tokens.access_token}"}
        )
    assert response.status_code == 200
    assert router.app.state.telemetry.dropped == 1
    assert urlsplit(router.base_url).hostname == "127.0.0.1"


def test_any_replica_finishes_a_sign_in_another_began_and_revocation_reaches_both(
    start_router: Callable[..., LiveRouter], oidc_idp: TestIdp
) -> None:
    settings = {
        "oidc_issuer": oidc_idp.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
    }
    first = start_router(**settings, signin_poll_interval=1)
    # Replicas behind one load balancer share ROUTER_PUBLIC_URL (and the database and secret).
    second = start_router(**settings, signin_poll_interval=1, public_url=first.base_url)
    first.apply(CONFIG)
    second.wait_for_config()
    with first.http() as http:
        grant = _authorize(http)
        with httpx.Client(timeout=20) as browser:
            page = browser.get(grant["verification_uri_complete"])
            csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            confirm = browser.post(
                f"{first.base_url}/device", data={"_csrf": csrf.group(1), "user_code": grant["user_code"]}
            )
            back = oidc_idp.sign_in(browser, confirm.headers["location"], "alice")
            # The load balancer sends the browser's return to the other replica.
            callback = back.headers["location"].replace(first.base_url, second.base_url)
            done = browser.get(callback)
            assert done.status_code == 200 and "You are signed in" in done.text
        time.sleep(grant["interval"])
        tokens = _poll(http, grant["device_code"]).json()
    # The token works on both replicas; one sign-out ends it on both.
    _ask(first, tokens["access_token"])
    _ask(second, tokens["access_token"])
    env = {"ROUTER_DATABASE_URL": first.settings.database_url, "ROUTER_SECRET_KEY": SECRET}
    assert CliRunner().invoke(main, ["signin", "sign-out", "alice@example.com"], env=env).exit_code == 0
    _wait_until_refused(first, tokens["access_token"])
    _wait_until_refused(second, tokens["access_token"])
