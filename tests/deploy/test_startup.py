"""Start-up does not wait for LiteLLM: the service answers while LiteLLM loads in a background thread (an
Anthropic target never needs it); the first OpenAI-wire call waits for it and then answers as usual.

Run in a fresh interpreter (this test process has long since imported LiteLLM)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.deploy.support import ROOT, clean_env

SCRIPT = r"""
import sys, time
from tests.fakes.upstream import FakeUpstream
from tests.fakes import Reply
from tests.fixtures.app import LiveRouter, ServerThread, router_settings
from router.app import create_app

CONFIG = '''
providers:
  - {name: ant, kind: anthropic, api_base: "${UPSTREAM}", api_key: "${ANTHROPIC_API_KEY}"}
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "claude-*", target: ant/claude-sonnet-4-5}
  - {match: "*", target: oai/gpt-4.1}
'''

with FakeUpstream() as upstream:
    server = ServerThread(create_app(router_settings(sys.argv[1]), configure_logs=False))
    server.start()
    router = LiveRouter(settings=server.server.config.app.state.settings, upstream=upstream, server=server)
    router.apply(CONFIG)
    key = router.key()
    client = router.client(key)
    upstream.script(Reply(text="native"), Reply(text="via openai"))
    ask = dict(max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    first = client.messages.create(model="claude-sonnet-4-5", **ask)
    print("anthropic", first.content[0].text, "litellm" in sys.modules, flush=True)
    second = client.messages.create(model="gpt-4.1", **ask)
    print("openai", second.content[0].text, "litellm" in sys.modules, flush=True)
    server.stop()
"""


def test_the_service_answers_before_litellm_is_loaded(tmp_path: Path, sqlite_template: Path) -> None:
    from tests.fixtures.db import _sqlite_copy

    db_url = _sqlite_copy(sqlite_template, tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, db_url],
        cwd=ROOT,
        env=clean_env(PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    # Hub start-up began the background import; an Anthropic answer does not wait for it, and whether it
    # is in yet is a race. The OpenAI-wire answer needed it, so it is in by then.
    assert lines[0].startswith("anthropic native ")
    assert lines[1] == "openai via openai True"


# The parts registered after start-up (router/late_routes.py) and the libraries only they, alert delivery,
# sign-in tokens or migrations need: none of them may be loaded to answer /v1.
LATE_MODULES = [
    "router.surfaces",
    "router.admin",
    "router.api",
    "router.me",
    "router.identity.routes",
    "jinja2",
    "httpx",
    "rich",
    "joserfc",
    "alembic",
]

HELD_LATE_ROUTES = r"""
import json, socket, sys, threading, time, urllib.error, urllib.request
import uvicorn
import router.app
import router.providers.runtime
from router.settings import Settings

# LiteLLM loads in a thread of its own after start-up (the test above); held here so that the modules seen
# are the ones serving /v1 loaded, not LiteLLM's.
router.providers.runtime.preload = lambda then=None: None
# The late routes' load waits until the test lets it go.
release = threading.Event()
build = router.app._build_surfaces
def held(*args):
    release.wait(60)
    return build(*args)
router.app._build_surfaces = held

settings = Settings(_env_file=None, database_url=sys.argv[1], secret_key="test-secret-key-for-the-router",
                    config_poll_interval=0.2)
app = router.app.create_app(settings, configure_logs=False)
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); base = "http://127.0.0.1:%d" % sock.getsockname()[1]
server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True); thread.start()
while not server.started:
    time.sleep(0.01)

def call(path, body=None, headers={}):
    request = urllib.request.Request(base + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()

body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 16,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
status, text = call("/v1/messages", body, {"x-api-key": sys.argv[2], "content-type": "application/json",
                                           "anthropic-version": "2023-06-01"})
print(json.dumps({"v1": [status, json.loads(text)["content"][0]["text"]],
                  "loaded": sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules)}), flush=True)

admin = {}
asking = threading.Thread(target=lambda: admin.update(answer=call("/admin/login")))
asking.start()
asking.join(1.0)
status, text = call("/readyz")
print(json.dumps({"admin_waiting": asking.is_alive(), "readyz": [status, json.loads(text)["routes"]]}))
release.set()
asking.join(60)
status, text = admin["answer"]
print(json.dumps({"admin": [status, "password" in text], "unknown": call("/no/such/page")[0]}), flush=True)
server.should_exit = True
thread.join(30)
"""


def test_v1_is_served_before_the_admin_page_and_api_are_loaded_and_their_requests_wait_for_them(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """The admin page, the management API, /me and sign-in are registered after start-up: /v1 answers
    without importing them (nor httpx, Jinja, joserfc, Alembic), a request for the admin page arriving
    meanwhile is held (not answered 404) and served once they are in, and /readyz says not ready until
    then."""
    import json

    from router.store.config_file import apply_config_text
    from router.store.crypto import CredentialCipher
    from router.store.db import Database
    from router.store.keys import create_key
    from router.store.tenants import create_tenant
    from tests.fakes import Reply
    from tests.fakes.upstream import FakeUpstream
    from tests.fixtures.app import SECRET
    from tests.fixtures.db import _sqlite_copy, run_async

    db_url = _sqlite_copy(sqlite_template, tmp_path)
    with FakeUpstream() as upstream:

        async def configure() -> str:
            db = Database(db_url)
            try:
                async with db.transaction() as session:
                    await apply_config_text(
                        session,
                        'providers:\n  - {name: ant, kind: anthropic, api_base: "${UPSTREAM}", api_key: "k"}\n'
                        'rules:\n  - {match: "*", target: ant/claude-sonnet-4-5}\n',
                        env={"UPSTREAM": upstream.base_url},
                        cipher=CredentialCipher(SECRET),
                        actor="test",
                    )
                    await create_tenant(session, "default", actor="test")
                    return (await create_key(session, "default", "tester"))[1]
            finally:
                await db.dispose()

        key = run_async(configure())
        upstream.script(Reply(text="served"))
        done = subprocess.run(
            [sys.executable, "-c", HELD_LATE_ROUTES, db_url, key, json.dumps(LATE_MODULES)],
            cwd=ROOT,
            env=clean_env(PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    first, meanwhile, after = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert first == {"v1": [200, "served"], "loaded": []}
    assert meanwhile == {"admin_waiting": True, "readyz": [503, False]}
    assert after == {"admin": [200, True], "unknown": 404}
