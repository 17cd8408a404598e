"""The observing wrapper sees every response once: routed, unrouted, failed, cut short."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import pytest
from litestar import Litestar, Request, get, post
from litestar.di import Provide
from litestar.params import FromPath
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway_http.middleware import add_request_id
from gateway_http.observability.logs import REQUEST_LOGGER, JsonLinesHandler
from gateway_http.observability.metrics import GatewayMetrics
from gateway_http.observability.middleware import (
    ObservedRequests,
    RequestObserver,
    install_observability,
)
from gateway_http.observability.outcome import RequestOutcome
from gateway_http.request_record import RequestRecord, record_of
from gateway_http.routes.metrics import prometheus_metrics
from gateway_http.sse import SERVER_SEND


@get("/items/{item_id:int}")
async def item(item_id: FromPath[int]) -> dict:
    return {"id": item_id}


@post("/v1/chat/completions", status_code=200)
async def chat(request: Request) -> dict:
    record = record_of(request.scope)
    record.model, record.provider, record.prompt_tokens = "echo", "echo", 3
    record.upstream_seconds = 0.0001
    return {"ok": True}


@get("/boom")
async def boom() -> None:
    raise RuntimeError("a bug")


def _app(metrics: GatewayMetrics) -> Litestar:
    async def gateway_metrics() -> GatewayMetrics:
        return metrics

    app = Litestar(
        [item, chat, boom, prometheus_metrics],
        dependencies={"gateway_metrics": Provide(gateway_metrics, use_cache=True)},
        before_send=[add_request_id],
        openapi_config=None,
        logging_config=None,
    )
    install_observability(app, metrics, log_prompts=False)
    return app


def _requests_total(text: str) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "llm_gateway_requests_total"
    }


def test_every_response_is_logged_once_and_counted() -> None:
    stream = io.StringIO()
    handler = JsonLinesHandler(stream)
    logger = logging.getLogger(REQUEST_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)  # as logging_config() sets it
    try:
        with TestClient(_app(GatewayMetrics(known_models=["echo"]))) as client:
            responses = [
                client.post("/v1/chat/completions", headers={"x-request-id": "chat-1"}),
                client.get("/items/7"),
                client.get("/no/such/route"),
                client.delete("/items/7"),
                client.get("/boom"),
            ]
            scrape = client.get("/metrics")
        handler.flush()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        handler.close()
    assert [r.status_code for r in responses] == [200, 200, 404, 405, 500]
    assert scrape.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert _requests_total(scrape.text) == {
        ("/v1/chat/completions", "POST", "200"): 1,
        ("/items/{item_id}", "GET", "200"): 1,
        ("unmatched", "GET", "404"): 1,
        ("unmatched", "DELETE", "405"): 1,
        ("/boom", "GET", "500"): 1,
    }
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines[:5]] == [
        r.headers["x-request-id"] for r in responses
    ]
    assert len(lines) == 6 and lines[5]["route"] == "/metrics"
    chat_line, _, unrouted, *_ = lines
    assert chat_line["request_id"] == "chat-1"
    assert (chat_line["model"], chat_line["prompt_tokens"], chat_line["status"]) == ("echo", 3, 200)
    assert chat_line["latency_ms"] > 0 and chat_line["gateway_overhead_ms"] >= 0
    assert (unrouted["route"], unrouted["path"]) == ("unmatched", "/no/such/route")


class _Seen(GatewayMetrics):
    """Keeps what it was told, for the raw ASGI cases below."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[RequestOutcome] = []

    def observe(self, outcome: RequestOutcome, record: RequestRecord) -> None:
        self.outcomes.append(outcome)


async def _call(app: Any, metrics: _Seen) -> list[dict]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/v1/x", "headers": [], "state": {}}
    await ObservedRequests(app, RequestObserver(metrics))(scope, receive, send)
    return sent


async def test_a_stream_the_client_left_is_aborted_with_its_status() -> None:
    async def stream_then_stop(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})

    metrics = _Seen()
    await _call(stream_then_stop, metrics)
    (outcome,) = metrics.outcomes
    assert (outcome.status, outcome.aborted, outcome.route) == (200, True, "unmatched")


async def test_a_failure_before_the_response_is_a_500_and_still_raises() -> None:
    async def fail(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("bug")

    metrics = _Seen()
    with pytest.raises(RuntimeError):
        await _call(fail, metrics)
    assert [(o.status, o.aborted) for o in metrics.outcomes] == [(500, False)]


async def test_a_cancelled_request_is_a_499() -> None:
    async def cancelled(scope: Any, receive: Any, send: Any) -> None:
        raise asyncio.CancelledError

    metrics = _Seen()
    with pytest.raises(asyncio.CancelledError):
        await _call(cancelled, metrics)
    assert [o.status for o in metrics.outcomes] == [499]


async def test_a_complete_response_ends_at_its_last_body_message() -> None:
    async def answer(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        await asyncio.sleep(0.05)  # background work after the response must not count

    metrics = _Seen()
    sent = await _call(answer, metrics)
    (outcome,) = metrics.outcomes
    assert (outcome.status, outcome.aborted) == (201, False)
    assert outcome.latency_seconds < 0.05
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]


async def test_the_server_send_is_in_the_scope_only_while_the_request_runs() -> None:
    """The server's send is a method of the server's request cycle, which holds the scope:
    left in the scope after the request, each request would be a reference cycle."""
    seen: list[Any] = []

    async def answer(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get(SERVER_SEND))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def server_send(message: dict) -> None:
        pass

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/v1/x", "headers": [],
                             "state": {}}  # fmt: skip
    await ObservedRequests(answer, RequestObserver(_Seen()))(scope, receive, server_send)
    assert seen == [server_send]
    assert SERVER_SEND not in scope


class _Broken(GatewayMetrics):
    def observe(self, outcome: RequestOutcome, record: RequestRecord) -> None:
        raise ValueError("a bug in observing")


def test_a_failure_to_observe_does_not_fail_the_request(caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(_app(_Broken())) as client:
        assert client.get("/items/1").status_code == 200
    assert "could not log or count a request" in caplog.text
