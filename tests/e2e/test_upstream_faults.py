"""Upstream failures reach the client as the right status and an OpenAI-shaped error."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.server import RETRY_AFTER_SECONDS
from tests.support.gateway import GatewayProcess

VENDORS = list(VENDOR_MODELS)
MESSAGES = [{"role": "user", "content": "hello"}]

# fault -> (status the client sees, error code)
EXPECTED = {
    Fault.RATE_LIMITED: (429, "upstream_rate_limited"),
    Fault.SERVER_ERROR: (502, "upstream_server_error"),
    Fault.OVERLOADED: (503, "upstream_overloaded"),
    Fault.UNAUTHORIZED: (502, "upstream_auth_failed"),
    Fault.BAD_REQUEST: (400, "upstream_bad_request"),
    Fault.HANG: (504, "upstream_timeout"),
    Fault.MALFORMED_JSON: (502, "upstream_bad_response"),
}


@pytest.fixture
def http(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> httpx.Client:
    return httpx.Client(base_url=e2e_gateway.url, timeout=30)


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("fault", list(EXPECTED), ids=lambda f: f.value)
def test_fault_becomes_its_status(
    vendor: str, fault: Fault, http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=fault))
    response = http.post(
        "/v1/chat/completions", json={"model": VENDOR_MODELS[vendor], "messages": MESSAGES}
    )
    status, code = EXPECTED[fault]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if fault is Fault.BAD_REQUEST:
        # The vendor's own code (OpenAI's context_length_exceeded, say) is worth passing on.
        assert error["type"] == "invalid_request_error" and error["message"]
    else:
        assert error["code"] == code
    assert OPENAI_KEY not in response.text and ANTHROPIC_KEY not in response.text
    assert "sk-fake***" not in response.text, "upstream auth messages are not passed on"
    if fault is Fault.RATE_LIMITED:
        assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    if status in (502, 503, 504):
        assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize("vendor", VENDORS)
def test_stream_fault_before_the_first_byte_is_a_status(
    vendor: str, http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED))
    body = {"model": VENDOR_MODELS[vendor], "messages": MESSAGES, "stream": True}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "upstream_rate_limited"


@pytest.mark.parametrize("vendor", VENDORS)
def test_connection_dropped_mid_stream_ends_with_an_error_event(
    vendor: str, e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="a long answer that will be cut " * 5, fault=Fault.DROP_MID_STREAM))
    client = openai.OpenAI(base_url=f"{e2e_gateway.url}/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.APIError) as caught:
        for _ in client.chat.completions.create(
            model=VENDOR_MODELS[vendor], messages=MESSAGES, stream=True
        ):
            pass
    assert caught.value.body["code"] == "upstream_unreachable"  # type: ignore[index]


def test_fallback_answers_when_the_primary_is_overloaded(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.OVERLOADED), Turn(text="from the fallback"))
    response = http.post("/v1/chat/completions", json={"model": "claude-with-fallback", "messages": MESSAGES})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "from the fallback"
    assert body["model"] == "gpt-4o"
    assert [r.path for r in fake_upstream.requests] == ["/v1/messages", "/v1/chat/completions"]


def test_stream_falls_back_before_the_first_byte(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(fault=Fault.OVERLOADED), Turn(text="streamed fallback"))
    body = {"model": "claude-with-fallback", "messages": MESSAGES, "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    # The fallback's events are relayed as its upstream wrote them: read them as JSON.
    events = [json.loads(e[6:]) for e in text.split("\n\n") if e.startswith("data: {")]
    assert {event["model"] for event in events} == {"gpt-4o"}
    assert "streamed" in text and text.rstrip().endswith("[DONE]")


def test_no_fallback_on_a_client_error(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(fault=Fault.BAD_REQUEST), Turn(text="must not be used"))
    response = http.post("/v1/chat/completions", json={"model": "claude-with-fallback", "messages": MESSAGES})
    assert response.status_code == 400
    assert len(fake_upstream.requests) == 1


def test_provider_without_key_is_unlisted_and_names_the_setting(http: httpx.Client) -> None:
    listed = {model["id"] for model in http.get("/v1/models").json()["data"]}
    assert "needs-key" not in listed and "gpt-4o" in listed
    response = http.post("/v1/chat/completions", json={"model": "needs-key", "messages": MESSAGES})
    assert response.status_code == 503
    assert "LLM_GATEWAY_UNKEYED_API_KEY" in response.json()["error"]["message"]
