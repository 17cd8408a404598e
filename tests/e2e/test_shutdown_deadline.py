"""SIGTERM drains in-flight work for the configured grace period, not until the upstream's own
timeout: a stream stuck on a silent upstream no longer holds the process."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import (
    ANTHROPIC_KEY,
    NATIVE_RESPONSES_MODEL,
    OPENAI_KEY,
    VENDOR_MODELS,
    providers_config,
)
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.gateway import GatewayProcess

GRACE_SECONDS = 2
UPSTREAM_TIMEOUT_SECONDS = 60.0


def test_sigterm_ends_a_stuck_stream_at_the_grace_deadline(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = providers_config(fake_upstream.url)
    for provider in config["providers"].values():
        provider["timeout_seconds"] = UPSTREAM_TIMEOUT_SECONDS
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(config))
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(path),
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "LLM_GATEWAY_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    }
    fake_upstream.script(Turn(fault=Fault.HANG))
    body = {"model": VENDOR_MODELS["openai"], "messages": [{"role": "user", "content": "hi"}],
            "stream": True}  # fmt: skip
    with GatewayProcess(env) as gateway:
        ended = threading.Event()

        def stream() -> None:
            try:
                with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body,
                                  timeout=UPSTREAM_TIMEOUT_SECONDS) as response:  # fmt: skip
                    for _ in response.iter_bytes():
                        pass
            except httpx.HTTPError:
                pass
            ended.set()

        client = threading.Thread(target=stream, daemon=True)
        client.start()
        deadline = time.monotonic() + 5
        while not fake_upstream.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake_upstream.requests, "the stream reached the silent upstream"
        process = gateway._process
        assert process is not None
        started = time.monotonic()
        process.terminate()
        process.wait(timeout=UPSTREAM_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
        assert GRACE_SECONDS - 0.5 <= elapsed <= GRACE_SECONDS + 4, elapsed
        assert ended.wait(5), "the client's stream ended with the process"


# -- streams still running at the deadline end with their door's error event ------------------

_DOORS = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    "messages": ("/v1/messages",
                 {"max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}),
    "responses": ("/v1/responses", {"input": "hi"}),
}  # fmt: skip

# door case -> (door, model): the translated path (an OpenAI chat upstream), and the doors'
# native forwarding (the vendor's own events relayed), which the curfew watches too.
_CASES = {
    "chat": ("chat", VENDOR_MODELS["openai"]),
    "messages": ("messages", VENDOR_MODELS["openai"]),
    "responses": ("responses", VENDOR_MODELS["openai"]),
    "messages-native": ("messages", VENDOR_MODELS["anthropic"]),
    "responses-native": ("responses", NATIVE_RESPONSES_MODEL),
}


def _error_event(door: str, text: str) -> dict | None:
    """The door's error event in the SSE text so far, decoded; ``None`` if none yet."""
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        data = lines.get("data")
        if data is None or data == "[DONE]":
            continue
        event = json.loads(data)
        if door == "chat" and "error" in event:
            return event
        if door == "messages" and lines.get("event") == "error":
            return event
        if door == "responses" and lines.get("event") == "response.failed":
            return event
    return None


@pytest.mark.parametrize("case", list(_CASES))
def test_a_stream_still_running_at_the_deadline_ends_with_an_error_event(
    fake_upstream: FakeUpstream, tmp_path: Path, case: str
) -> None:
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(providers_config(fake_upstream.url)))
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(path),
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "LLM_GATEWAY_FAKE_OPENAI_RESPONSES_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    }
    # The answer's first words arrive, then the model goes quiet for longer than the grace.
    fake_upstream.script(Turn(text="one two three four five", stalls_mid_stream=True))
    door, model = _CASES[case]
    native = case.endswith("-native")
    route, body = _DOORS[door]
    body = {**body, "model": model, "stream": True}
    with GatewayProcess(env) as gateway:
        received: list[str] = []
        started_streaming = threading.Event()
        forwarded: list[str | None] = []

        def stream() -> None:
            with httpx.stream("POST", f"{gateway.url}{route}", json=body,
                              timeout=UPSTREAM_TIMEOUT_SECONDS) as response:  # fmt: skip
                assert response.status_code == 200
                forwarded.append(response.headers.get("x-gateway-route"))
                for text in response.iter_text():
                    received.append(text)
                    started_streaming.set()

        client = threading.Thread(target=stream, daemon=True)
        client.start()
        assert started_streaming.wait(10), "the stream started"
        process = gateway._process
        assert process is not None
        started = time.monotonic()
        process.terminate()
        process.wait(timeout=UPSTREAM_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
        client.join(5)
        assert not client.is_alive(), "the client's stream ended"
        # Ended at the curfew (the grace less its reserve), not cut at the grace, nor held.
        assert GRACE_SECONDS - 1 <= elapsed <= GRACE_SECONDS + 2, elapsed
        assert forwarded == (["native"] if native else [None])
        event = _error_event(door, "".join(received))
        assert event is not None, "".join(received)
        if native:
            # The vendor's own first events were relayed before the gateway's error event.
            first_text = "response.output_text.delta" if door == "responses" else "text_delta"
            assert first_text in "".join(received)
        if door == "chat":
            assert event["error"]["code"] == "server_shutting_down"
            assert event["error"]["type"] == "service_unavailable_error"
        elif door == "messages":
            assert event == {"type": "error", "error": {"type": "api_error",
                             "message": event["error"]["message"]}}  # fmt: skip
            assert "shutting down" in event["error"]["message"]
        else:
            assert event["response"]["status"] == "failed"
            assert "shutting down" in event["response"]["error"]["message"]
            _assert_responses_failure("".join(received), native)
        # The upstream call was closed, and the turn accounted as abandoned.
        assert fake_upstream.hung_up(), "the gateway closed the stalled upstream stream"
        lines = gateway.request_lines()
        matching = [entry for entry in lines if entry["route"] == route]
        assert len(matching) == 1, (process.returncode, lines, gateway.logs()[-3000:])
        line = matching[0]
        assert line["aborted"] is True
        assert line["error_code"] == "server_shutting_down"
        assert line["status"] == 200
        if case == "messages-native":
            # Accounted with what the vendor reported so far (its message_start's usage).
            assert line["prompt_tokens"] == 11, line
            assert line["provider"] == "fake-anthropic", line


def _assert_responses_failure(text: str, native: bool) -> None:
    """``error`` then ``response.failed``, numbered on from the events before them and
    naming the response ``response.created`` opened (the vendor's own, when forwarded)."""
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    kinds = [event["type"] for event in events]
    assert kinds[-2:] == ["error", "response.failed"], kinds
    assert events[-2]["code"] == "server_shutting_down"
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    created = events[0]["response"]
    assert events[-1]["response"]["id"] == created["id"]
    if native:
        assert "response.output_text.delta" in kinds, kinds
        assert created["id"].startswith("resp_"), created


def test_the_last_log_lines_are_written_before_the_process_ends() -> None:
    """uvicorn raises the SIGTERM it handled again once it has shut down: the process must
    still write what it logged last (the server's own lines, the last requests' lines)."""
    with GatewayProcess({"LLM_GATEWAY_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS)}) as gateway:
        assert httpx.get(f"{gateway.url}/v1/models").status_code == 200
        process = gateway._process
        assert process is not None
        process.terminate()
        assert process.wait(timeout=UPSTREAM_TIMEOUT_SECONDS) == -15, "ended as SIGTERM says"
        messages = [json.loads(line).get("message") for line in gateway.logs().splitlines()
                    if line.startswith("{")]  # fmt: skip
        assert [e for e in gateway.request_lines() if e["route"] == "/v1/models"]
        assert messages[-1].startswith("Finished server process"), messages[-3:]
