"""A real OpenID provider on loopback (panva's oidc-provider, see idp.mjs), started by a pytest fixture.

`make idp` installs its npm package into tests/fakes/oidc/node_modules (`make test` depends on it). Without
node or the package the fixture skips with the reason, and fails instead when ROUTER_REQUIRE_OIDC=1 or
ROUTER_REQUIRE_CLAUDE_CODE=1 (CI) says it must be there.

    def test_x(oidc_idp: TestIdp) -> None:
        oidc_idp.issuer                          # http://127.0.0.1:PORT
        oidc_idp.set_users([IdpUser("dora", groups=["engineering"])])   # change users while it runs
        oidc_idp.sign_in(client, url, "alice")   # drive its login form with an httpx client
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "idp.mjs"
PACKAGE = HERE / "node_modules" / "oidc-provider"

CLIENT_ID = "router"
CLIENT_SECRET = "router-test-client-secret"
PASSWORD = "correct horse battery staple"


@dataclass
class IdpUser:
    username: str
    groups: list[str] = field(default_factory=list)
    email: str = ""
    name: str = ""
    password: str = PASSWORD
    disabled: bool = False

    def __post_init__(self) -> None:
        self.email = self.email or f"{self.username}@example.com"
        self.name = self.name or self.username.title()


def default_users() -> list[IdpUser]:
    return [
        IdpUser("alice", ["engineering"]),
        IdpUser("bob", ["sales"]),
        IdpUser("carol", ["engineering", "platform"]),
    ]


class TestIdp:
    __test__ = False

    def __init__(self, users: list[IdpUser]) -> None:
        self.users = list(users)
        self._proc: subprocess.Popen[str] | None = None
        self.issuer = ""
        self._stderr: list[str] = []

    def start(self, workdir: Path) -> None:
        config = workdir / "idp.json"
        config.write_text(
            json.dumps(
                {
                    "clients": [
                        {
                            "client_id": CLIENT_ID,
                            "client_secret": CLIENT_SECRET,
                            "redirect_uris": ["http://127.0.0.1/oidc/callback"],
                        }
                    ],
                    "users": [asdict(u) for u in self.users],
                    "port": 0,
                }
            )
        )
        # A node process was once seen to hang before printing its address (0 s of CPU, in one CI run): wait
        # a bounded time for it, then start another, so one stuck start cannot stall every test of a worker.
        for _ in range(3):
            line = self._spawn(config, timeout=20.0)
            if line:
                break
            assert self._proc is not None
            self._proc.kill()
            self._proc.wait(timeout=5)
        if not line:
            raise RuntimeError("the test IdP did not start: " + "".join(self._stderr)[-2000:])
        self.issuer = json.loads(line)["issuer"]

    def _spawn(self, config: Path, *, timeout: float) -> str:
        """Start the IdP; its first stdout line (the issuer as JSON), or "" if it exits or says nothing in time."""
        self._proc = subprocess.Popen(
            ["node", str(SCRIPT), str(config)],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        stderr, stdout = self._proc.stderr, self._proc.stdout
        threading.Thread(target=lambda: self._stderr.extend(stderr), daemon=True).start()
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return first[0] if first else ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None

    def set_users(self, users: list[IdpUser]) -> None:
        """Replace the IdP's users (groups changed, someone disabled); sessions and grants stay."""
        self.users = list(users)
        httpx.post(
            f"{self.issuer}/_test/users", json=[asdict(u) for u in users], timeout=5
        ).raise_for_status()

    def settings(self, public_url: str) -> dict[str, str]:
        """Router settings that point at this IdP."""
        return {
            "public_url": public_url,
            "oidc_issuer": self.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
        }

    def sign_in(
        self, client: httpx.Client, url: str, username: str, password: str = PASSWORD
    ) -> httpx.Response:
        """Follow `url` (the router's redirect to the IdP) through the login form as `username`, up to the
        redirect back to the router, which is returned unfollowed."""
        response = client.get(url, follow_redirects=False)
        for _ in range(10):
            if response.status_code in (302, 303) and not response.headers["location"].startswith(
                self.issuer
            ):
                location = response.headers["location"]
                if location.startswith("/"):
                    response = client.get(f"{self.issuer}{location}", follow_redirects=False)
                    continue
                return response
            if response.status_code in (302, 303):
                response = client.get(response.headers["location"], follow_redirects=False)
                continue
            if response.status_code == 200 and "/login" in response.text:
                action = response.text.split('action="', 1)[1].split('"', 1)[0]
                response = client.post(
                    f"{self.issuer}{action}",
                    data={"username": username, "password": password},
                    follow_redirects=False,
                )
                continue
            raise AssertionError(f"unexpected IdP answer {response.status_code}: {response.text[:500]}")
        raise AssertionError("the IdP never sent the browser back")


def idp_available() -> str | None:
    """Why the test IdP cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not PACKAGE.exists():
        return "oidc-provider is not installed: run `make idp`"
    return None


def _require() -> bool:
    return os.environ.get("ROUTER_REQUIRE_OIDC") == "1" or os.environ.get("ROUTER_REQUIRE_CLAUDE_CODE") == "1"


@pytest.fixture(scope="session")
def oidc_idp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestIdp]:
    missing = idp_available()
    if missing:
        if _require():
            pytest.fail(f"the test IdP cannot run: {missing}")
        pytest.skip(f"the test IdP cannot run: {missing}")
    idp = TestIdp(default_users())
    idp.start(tmp_path_factory.mktemp("idp"))
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture
def oidc_idp(oidc_idp_server: TestIdp) -> Iterator[TestIdp]:
    """The session's IdP with its default users (alice: engineering, bob: sales, carol: engineering and
    platform), restored after each test."""
    yield oidc_idp_server
    if [asdict(u) for u in oidc_idp_server.users] != [asdict(u) for u in default_users()]:
        oidc_idp_server.set_users(default_users())
