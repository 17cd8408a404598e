"""A provider key quoted in an upstream error never reaches the client (issue 14)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.gateway import GatewayProcess

KEYS = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("vendor", list(KEYS))
def test_an_upstream_error_quoting_our_key_is_scrubbed(
    vendor: str, stream: bool, e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.BAD_REQUEST, quote_credentials=True))
    body = {"model": VENDOR_MODELS[vendor], "messages": [{"role": "user", "content": "hi"}],
            "stream": stream}  # fmt: skip
    response = httpx.post(f"{e2e_gateway.url}/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    # The fake really did quote it: the gateway took it out.
    assert "[REDACTED]" in message, message
    key = KEYS[vendor]
    assert key not in response.text
    assert key not in e2e_gateway.logs()
