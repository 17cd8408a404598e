"""OpenTelemetry spans, captured by an in-memory exporter from the app built in process.

A request is a SERVER span continuing the caller's ``traceparent``; each provider attempt, tool
call and cache use is a child span with the GenAI semantic conventions' attributes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dependency_injector import providers
from litestar.testing import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway_http.app import create_app
from gateway_http.observability.tracing import tracer_provider
from gateway_http.settings import Settings
from gateway_http.wiring import Container
from tests.support.fake_upstream import FakeUpstream, Turn

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def client(
    tmp_path: Path, fake_upstream: FakeUpstream, exporter: InMemorySpanExporter
) -> Iterator[TestClient]:
    config = {
        "providers": {
            "fake-openai": {"type": "openai", "base_url": f"{fake_upstream.url}/v1",
                            "api_key_env": ["TRACING_TEST_KEY"], "requires_api_key": False},
        },
        "models": {"gpt-4o": {"provider": "fake-openai"}},
    }
    providers_path = tmp_path / "providers.json"
    providers_path.write_text(json.dumps(config))
    container = Container()
    container.settings.override(providers.Object(Settings(
        providers_config=providers_path, tracing_enabled=True, cache_only_deterministic=True,
    )))
    container.adapters.tracer_provider.override(providers.Object(
        tracer_provider(enabled=True, processor=SimpleSpanProcessor(exporter))
    ))
    with TestClient(app=create_app(container)) as test_client:
        yield test_client


def _by_name(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


def test_a_chat_request_is_a_server_span_with_a_child_per_provider_attempt(
    client: TestClient, fake_upstream: FakeUpstream, exporter: InMemorySpanExporter
) -> None:
    fake_upstream.script(Turn(text="Hi there", prompt_tokens=12, completion_tokens=3))
    response = client.post(
        "/v1/chat/completions", headers={"traceparent": TRACEPARENT},
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}],
              "temperature": 0.3, "max_tokens": 50},
    )
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    [server] = _by_name(spans, "POST /v1/chat/completions")
    [attempt] = _by_name(spans, "chat gpt-4o")
    [admission] = _by_name(spans, "admission")
    assert admission.parent.span_id == server.context.span_id
    assert server.kind == SpanKind.SERVER
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert format(server.parent.span_id, "016x") == PARENT_SPAN_ID
    assert server.attributes["http.route"] == "/v1/chat/completions"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["gen_ai.request.model"] == "gpt-4o"
    assert attempt.kind == SpanKind.CLIENT
    assert attempt.parent.span_id == server.context.span_id
    attributes = attempt.attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.system"] == "fake-openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o"
    assert attributes["gen_ai.request.temperature"] == 0.3
    assert attributes["gen_ai.request.max_tokens"] == 50
    assert attributes["gen_ai.usage.input_tokens"] == 12
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_a_streamed_answer_ends_its_span_with_the_usage_and_marks_the_first_chunk(
    client: TestClient, fake_upstream: FakeUpstream, exporter: InMemorySpanExporter
) -> None:
    fake_upstream.script(Turn(text="one two three", prompt_tokens=5, completion_tokens=3))
    with client.stream(
        "POST", "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "Count"}],
              "stream": True, "stream_options": {"include_usage": True}},
    ) as response:
        body = "".join(response.iter_text())
    assert "[DONE]" in body
    [attempt] = _by_name(exporter.get_finished_spans(), "chat gpt-4o")
    assert attempt.attributes["gen_ai.usage.output_tokens"] == 3
    assert [event.name for event in attempt.events] == ["gen_ai.first_chunk"]


def test_a_failed_attempt_is_an_error_span_named_by_its_error(
    client: TestClient, fake_upstream: FakeUpstream, exporter: InMemorySpanExporter
) -> None:
    from tests.support.fake_upstream import Fault

    fake_upstream.script(Turn(fault=Fault.SERVER_ERROR))
    response = client.post(
        "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    )
    assert response.status_code >= 500
    # Every attempt (retries included) failed: the last one names the error the client saw.
    attempt = _by_name(exporter.get_finished_spans(), "chat gpt-4o")[-1]
    assert attempt.status.is_ok is False
    assert attempt.attributes["error.type"]
    [server] = _by_name(exporter.get_finished_spans(), "POST /v1/chat/completions")
    assert server.attributes["error.type"] == attempt.attributes["error.type"]


def test_tool_calls_and_cache_lookups_are_child_spans(
    client: TestClient, fake_upstream: FakeUpstream, exporter: InMemorySpanExporter
) -> None:
    fake_upstream.script(
        Turn(text=None, tool_calls=(("calculator", {"expression": "2 + 3"}),)),
        Turn(text="It is 5."),
    )
    tools = [{"type": "function", "function": {"name": "calculator"}}]
    response = client.post("/v1/chat/completions", json={
        "model": "gpt-4o", "messages": [{"role": "user", "content": "2 + 3?"}], "tools": tools,
    })
    assert response.status_code == 200, response.text
    spans = exporter.get_finished_spans()
    [tool] = _by_name(spans, "execute_tool calculator")
    assert tool.attributes["gen_ai.tool.name"] == "calculator"
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    [server] = _by_name(spans, "POST /v1/chat/completions")
    assert tool.context.trace_id == server.context.trace_id
    assert len(_by_name(spans, "chat gpt-4o")) == 2

    exporter.clear()
    fake_upstream.script(Turn(text="cached"))
    plain = {"model": "gpt-4o", "messages": [{"role": "user", "content": "cache me"}],
             "temperature": 0}
    for _ in range(2):
        assert client.post("/v1/chat/completions", json=plain).status_code == 200
    lookups = _by_name(exporter.get_finished_spans(), "cache lookup")
    assert [span.attributes["gateway.cache.hit"] for span in lookups] == [False, True]


def test_no_span_and_no_tracer_when_tracing_is_off() -> None:
    assert tracer_provider(enabled=False) is None
