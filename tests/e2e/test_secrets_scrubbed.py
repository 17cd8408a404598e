"""Provider keys never leave: an upstream error quoting the key it was sent reaches the client
(and the log) with every credential redacted, on each vendor path."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.gateway import GatewayProcess

MESSAGES = [{"role": "user", "content": "hello"}]
KEYS = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("vendor", list(KEYS))
def test_an_upstream_error_quoting_the_key_is_scrubbed(
    vendor: str, stream: bool, e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.QUOTES_CREDENTIALS))
    body = {"model": VENDOR_MODELS[vendor], "messages": MESSAGES, "stream": stream}
    response = httpx.post(f"{e2e_gateway.url}/v1/chat/completions", json=body, timeout=30)

    sent = fake_upstream.requests[-1].headers
    assert KEYS[vendor] in str(sent), "the fake must have received the key it quotes"
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "[REDACTED]" in message, "the vendor's message is still passed on, minus the key"
    assert KEYS[vendor] not in response.text
    assert "Bearer sk-" not in response.text
    assert "sk-" not in message
    time.sleep(0.2)  # the log writer batches lines on its own thread
    assert KEYS[vendor] not in e2e_gateway.logs()


def test_an_embeddings_error_quoting_the_key_is_scrubbed(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.QUOTES_CREDENTIALS))
    body = {"model": "text-embedding-3-small", "input": "hello"}
    response = httpx.post(f"{e2e_gateway.url}/v1/embeddings", json=body, timeout=30)
    assert response.status_code == 400, response.text
    assert "[REDACTED]" in response.json()["error"]["message"]
    assert OPENAI_KEY not in response.text and "Bearer sk-" not in response.text
