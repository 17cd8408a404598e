"""Logs and metrics of the real service: one JSON line per request, ``/metrics`` counting every
response (unrouted 404s too), and with two workers any worker's ``/metrics`` counts both."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gateway import GatewayProcess

PROMPT_CANARY = "canary-prompt-7d1f2b"
CHAT = {"model": "echo", "messages": [{"role": "user", "content": PROMPT_CANARY}]}
CHAT_OK = {"route": "/v1/chat/completions", "method": "POST", "status": "200"}
LINE_FIELDS = {
    "ts", "level", "logger", "message", "request_id", "method", "route", "status", "latency_ms",
    "upstream_ms", "gateway_overhead_ms", "key_id", "model", "provider", "stream",
    "prompt_tokens", "completion_tokens", "cached_tokens", "cost_usd", "cache", "tool_rounds",
    "error_code", "aborted",
}  # fmt: skip
WAIT_SECONDS = 10.0


def _metric(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def _json_lines(gateway: GatewayProcess) -> list[dict]:
    return [json.loads(line) for line in gateway.logs().splitlines() if line.strip()]


def _request_lines(gateway: GatewayProcess, ids: Iterable[str]) -> dict[str, list[dict]]:
    """The request lines of these request ids, once every one has been written."""
    wanted = set(ids)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found: dict[str, list[dict]] = {}
        for line in _json_lines(gateway):
            if line.get("message") == "request" and line.get("request_id") in wanted:
                found.setdefault(line["request_id"], []).append(line)
        if set(found) == wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _send(url: str, request_id: str, method: str = "POST", path: str = CHAT_OK["route"]) -> int:
    # A fresh connection each time, so that the kernel can hand it to any worker.
    body = CHAT if method == "POST" else None
    headers = {"x-request-id": request_id}
    return httpx.request(method, url + path, json=body, headers=headers, timeout=30).status_code


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    with GatewayProcess() as process:
        yield process


def test_each_request_gets_one_json_line_and_is_counted(gateway: GatewayProcess) -> None:
    assert _send(gateway.url, "obs-chat-1") == 200
    assert _send(gateway.url, "obs-404-1", "GET", "/no/such/route") == 404
    lines = _request_lines(gateway, ["obs-chat-1", "obs-404-1"])
    assert [len(lines.get(i, ())) for i in ("obs-chat-1", "obs-404-1")] == [1, 1], gateway.logs()
    (chat,), (missing,) = lines["obs-chat-1"], lines["obs-404-1"]
    assert set(chat) >= LINE_FIELDS
    assert (chat["route"], chat["status"], chat["model"], chat["provider"]) == (
        "/v1/chat/completions", 200, "echo", "echo",
    )  # fmt: skip
    assert chat["latency_ms"] > 0 and chat["prompt_tokens"] > 0
    assert (missing["route"], missing["status"]) == ("unmatched", 404)
    assert missing["path"] == "/no/such/route"

    text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    assert _metric(text, "llm_gateway_requests_total", **CHAT_OK) == 1
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert _metric(text, "llm_gateway_requests_total", **unmatched) == 1
    assert _metric(text, "llm_gateway_tokens_total", model="echo", kind="prompt") > 0
    assert _metric(text, "llm_gateway_request_duration_seconds_count", route=CHAT_OK["route"]) == 1
    assert "obs-chat-1" not in text and "/no/such/route" not in text


def test_a_wrong_method_is_unmatched_on_a_front_door_as_on_any_route(
    gateway: GatewayProcess,
) -> None:
    # The router's 405 comes before any route matched; the raw front doors answer it
    # themselves (routes/raw_post.py) and say so alike.
    paths = ("/v1/chat/completions", "/v1/responses", "/v1/messages", "/v1/embeddings")
    for path in paths:
        assert httpx.put(f"{gateway.url}{path}", timeout=10).status_code == 405
    text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    refused = {"route": "unmatched", "method": "PUT", "status": "405"}
    assert _metric(text, "llm_gateway_requests_total", **refused) == len(paths)


def test_metrics_is_prometheus_text_and_open(gateway: GatewayProcess) -> None:
    response = httpx.get(f"{gateway.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE llm_gateway_requests_total counter" in response.text


def test_every_output_line_is_json_and_prompts_stay_out(gateway: GatewayProcess) -> None:
    assert _send(gateway.url, "obs-chat-2") == 200
    assert _request_lines(gateway, ["obs-chat-2"])
    lines = _json_lines(gateway)  # raises if uvicorn or anything else wrote plain text
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    assert PROMPT_CANARY not in gateway.logs()
    assert not [line for line in lines if "prompt" in line or "completion" in line]


def test_two_workers_report_the_same_totals() -> None:
    with GatewayProcess(workers=2) as gateway:
        sent = _spread_over_workers(gateway)
        scrapes: dict[str, float | None] = {}
        scrape_pids: set[int] = set()
        for attempt in range(40):
            request_id = f"scrape-{attempt}"
            text = httpx.get(
                f"{gateway.url}/metrics", headers={"x-request-id": request_id}, timeout=10
            ).text
            scrapes[request_id] = _metric(text, "llm_gateway_requests_total", **CHAT_OK)
            (line,) = _request_lines(gateway, [request_id])[request_id]
            scrape_pids.add(line["pid"])
            if len(scrape_pids) == 2:
                break
        assert len(scrape_pids) == 2, "every scrape reached the same worker"
        assert set(scrapes.values()) == {len(sent)}


def _spread_over_workers(gateway: GatewayProcess) -> list[str]:
    """Sends chats in concurrent batches until both workers have served some; their ids."""
    sent: list[str] = []
    pids: set[int] = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for batch in range(10):
            ids = [f"w2-{batch}-{n}" for n in range(16)]
            assert set(pool.map(lambda request_id: _send(gateway.url, request_id), ids)) == {200}
            sent.extend(ids)
            lines = _request_lines(gateway, ids)
            assert sorted(len(found) for found in lines.values()) == [1] * len(ids)
            pids.update(found[0]["pid"] for found in lines.values())
            if len(pids) == 2:
                return sent
    raise AssertionError("one worker served every request: the test proves nothing")


def test_streams_report_time_to_first_token_and_requests_in_flight_settle(
    gateway: GatewayProcess,
) -> None:
    body = {**CHAT, "stream": True}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200
        assert "[DONE]" in "".join(r.iter_text())
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
        count = _metric(text, "llm_gateway_time_to_first_token_seconds_count", model="echo")
        if count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert count == 1
    # Only the /metrics request itself is in flight while it renders.
    assert _metric(text, "llm_gateway_requests_in_flight") == 1
