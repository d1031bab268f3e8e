"""OpenTelemetry: a SERVER span per /v1 request and a GenAI CLIENT span per upstream attempt, received as
real OTLP/HTTP protobuf on a loopback receiver; and nothing at all when no endpoint is set."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes import Fail, Reply
from tests.fakes.otlp import OtlpReceiver
from tests.fixtures.app import LiveRouter

ROOT = Path(__file__).resolve().parents[2]

CHAIN = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
  - {name: azure-eu, kind: azure, api_base: "${UPSTREAM}", api_key: "${AZURE_API_KEY}", api_version: "2024-10-21"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-prod, model: gpt-4o}
chains:
  - {name: big, targets: [oai/gpt-4.1, deployment/gpt4o-eu]}
rules:
  - {match: "*", chain: big}
"""
PROMPT = "a secret plan for the weekend"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_fallback_is_one_server_span_with_a_client_span_per_attempt(
    start_router: Callable[..., LiveRouter],
    otlp_receiver: OtlpReceiver,
    stream: bool,
) -> None:
    router = start_router(otel_exporter_otlp_endpoint=otlp_receiver.endpoint, otel_service_name="router-test")
    router.apply(CHAIN)
    key = router.key("acme", "alice")
    router.upstream.script(Fail(500, "boom"), model="gpt-4.1")
    router.upstream.script(
        Reply(text="from azure", input_tokens=30, output_tokens=4, cached_tokens=10), model="gpt-4o-prod"
    )
    client = router.client(key)
    ask = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        with client.messages.stream(**ask) as s:  # type: ignore[arg-type]
            message = s.get_final_message()
    else:
        message = client.messages.create(**ask)  # type: ignore[call-overload]
    assert message.content[0].text == "from azure"  # type: ignore[union-attr]

    spans = otlp_receiver.wait_for(3)
    (server,) = [s for s in spans if s.kind == "SPAN_KIND_SERVER"]
    clients = [s for s in spans if s.kind == "SPAN_KIND_CLIENT"]
    assert [c.name for c in clients] == ["chat gpt-4.1", "chat gpt-4o-prod"]
    assert server.name == "POST /v1/messages" and server.parent_span_id == ""
    assert all(c.trace_id == server.trace_id and c.parent_span_id == server.span_id for c in clients)
    assert server.service_name == "router-test"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["router.tenant"] == "acme" and key.startswith(
        server.attributes["router.key_prefix"]
    )
    assert server.attributes["gen_ai.request.model"] == "claude-sonnet-4-5"

    failed, answered = clients
    assert failed.attributes["gen_ai.provider.name"] == "openai"
    assert failed.attributes["error.type"] == "api_error" and failed.status_code == 2  # STATUS_CODE_ERROR
    assert answered.attributes["gen_ai.operation.name"] == "chat"
    assert answered.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert answered.attributes["gen_ai.request.model"] == "gpt-4o-prod"
    assert answered.attributes["gen_ai.response.id"] == message.id
    assert answered.attributes["gen_ai.response.model"] == message.model
    assert answered.attributes["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert answered.attributes["gen_ai.usage.input_tokens"] == message.usage.input_tokens
    assert answered.attributes["gen_ai.usage.output_tokens"] == 4
    assert answered.attributes["gen_ai.usage.cache_read.input_tokens"] == 10
    assert "error.type" not in answered.attributes and answered.status_code != 2
    assert not any(PROMPT.encode() in body for body in otlp_receiver.raw_bodies)


def test_message_content_is_recorded_only_when_opted_in(
    start_router: Callable[..., LiveRouter],
    otlp_receiver: OtlpReceiver,
) -> None:
    router = start_router(otel_exporter_otlp_endpoint=otlp_receiver.endpoint, otel_capture_content=True)
    router.apply(CHAIN)
    router.upstream.script(Reply(text="ok"), model="gpt-4.1")
    router.client(router.key()).messages.create(
        model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": PROMPT}]
    )
    spans = otlp_receiver.wait_for(2)
    (attempt,) = [s for s in spans if s.kind == "SPAN_KIND_CLIENT"]
    assert PROMPT in attempt.attributes["gen_ai.input.messages"]


def test_without_an_endpoint_the_sdk_is_never_loaded(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from router.app import create_app\n"
        "from router.settings import Settings\n"
        f"app = create_app(Settings(_env_file=None, database_url='sqlite+aiosqlite:///{tmp_path}/r.db',"
        " secret_key='s' * 32), configure_logs=False)\n"
        "assert app.state.services.tracing is None\n"
        # The tracing SDK and the exporter; (redis imports the SDK's metrics part itself when installed.)
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk.trace', 'opentelemetry.exporter'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
