"""SIGTERM drains in-flight work for the configured grace period, not until the upstream's own
timeout: a stream stuck on a silent upstream no longer holds the process."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, VENDOR_MODELS, providers_config
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
