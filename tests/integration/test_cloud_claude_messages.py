"""The official anthropic SDK, through the real gateway's ``/v1/messages``, reaches Claude on
Amazon Bedrock (InvokeModel / InvokeModelWithResponseStream, SigV4-signed, event-stream
framed) and on Vertex AI (rawPredict / streamRawPredict, a Google bearer token), natively:
thinking blocks with their signatures, ``cache_control`` and ``anthropic-beta`` survive both
ways, as they would from Anthropic itself. The fake upstream checks each cloud's body rules
(no ``model``, its own ``anthropic_version``) and the anthropic SDK's request types.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import pytest

from tests.integration.cloud_gateway import VERTEX_PATH
from tests.support.fake_upstream import FakeUpstream, Fault, Turn, bedrock_wire
from tests.support.fake_upstream.bedrock_wire import CLAUDE_BODIES, ThrottledMidStream
from tests.support.fake_upstream.server import FLOOD_PIECE
from tests.support.gateway import GatewayProcess

BEDROCK_CLAUDE = "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_CLAUDE = "vertex_ai/claude-sonnet-4-5@20250929"
CLAUDES = {"bedrock": BEDROCK_CLAUDE, "vertex": VERTEX_CLAUDE}
CALCULATOR = {
    "name": "calc",
    "description": "Evaluates arithmetic",
    "input_schema": {"type": "object", "properties": {"expression": {"type": "string"}}},
}
THINKING = {"type": "enabled", "budget_tokens": 1024}
SYSTEM = [{"type": "text", "text": "Be exact.", "cache_control": {"type": "ephemeral"}}]
BETA = "interleaved-thinking-2025-05-14"


@pytest.fixture
def claude(cloud_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> anthropic.Anthropic:
    CLAUDE_BODIES.seen.clear()
    return anthropic.Anthropic(base_url=cloud_gateway.url, api_key="client", max_retries=0)


def _sent(fake_upstream: FakeUpstream, cloud: str) -> dict[str, Any]:
    """The body the cloud got, as sent (the Bedrock fake keeps it before it checks it)."""
    if cloud == "bedrock":
        return CLAUDE_BODIES.seen[-1]
    return dict(fake_upstream.requests[-1].body)


def _check_cloud_request(fake_upstream: FakeUpstream, cloud: str, *, stream: bool) -> None:
    request = fake_upstream.requests[-1]
    body = _sent(fake_upstream, cloud)
    assert "model" not in body
    if cloud == "bedrock":
        operation = "invoke-with-response-stream" if stream else "invoke"
        assert request.path == f"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/{operation}"
        assert body["anthropic_version"] == "bedrock-2023-05-31"
        assert body["anthropic_beta"] == [BETA] and "stream" not in body
        assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    else:
        method = "streamRawPredict" if stream else "rawPredict"
        publisher = VERTEX_PATH.replace("/publishers/google", "/publishers/anthropic")
        assert request.path == f"{publisher}/models/claude-sonnet-4-5@20250929:{method}"
        assert body["anthropic_version"] == "vertex-2023-10-16"
        assert request.headers["anthropic-beta"] == BETA
        assert request.headers["Authorization"].startswith("Bearer ya29.")
    assert body["system"] == SYSTEM
    assert body["thinking"] == THINKING
    assert body["tools"] == [CALCULATOR]


@pytest.mark.parametrize("cloud", CLAUDES)
def test_messages_create_keeps_thinking_signatures_and_cache_control(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream, cloud: str
) -> None:
    fake_upstream.script(
        Turn(text="Four.", reasoning="2+2 is 4.", prompt_tokens=30, completion_tokens=12,
             cached_tokens=20)
    )  # fmt: skip
    raw = claude.messages.with_raw_response.create(
        model=CLAUDES[cloud], max_tokens=2048, thinking=THINKING, system=SYSTEM,  # type: ignore[arg-type]
        tools=[CALCULATOR], messages=[{"role": "user", "content": "2+2?"}],  # type: ignore[list-item]
        extra_headers={"anthropic-beta": BETA},
    )  # fmt: skip
    message = raw.parse()

    assert raw.headers["x-gateway-route"] == "native"
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].signature.startswith("sig-")  # type: ignore[union-attr]
    assert message.content[1].text == "Four."  # type: ignore[union-attr]
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (10, 20)
    assert float(raw.headers["x-gateway-cost-usd"]) > 0
    _check_cloud_request(fake_upstream, cloud, stream=False)


@pytest.mark.parametrize("cloud", CLAUDES)
def test_messages_stream_with_a_tool(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream, cloud: str
) -> None:
    fake_upstream.script(
        Turn(text="Let me calculate.", reasoning="Use the tool.",
             tool_calls=(("calc", {"expression": "2+2"}),), completion_tokens=21)
    )  # fmt: skip
    with claude.messages.stream(
        model=CLAUDES[cloud], max_tokens=2048, thinking=THINKING, system=SYSTEM,  # type: ignore[arg-type]
        tools=[CALCULATOR], messages=[{"role": "user", "content": "2+2?"}],  # type: ignore[list-item]
        extra_headers={"anthropic-beta": BETA},
    ) as stream:  # fmt: skip
        kinds = {event.type for event in stream}
        final = stream.get_final_message()

    assert [block.type for block in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].signature.startswith("sig-")  # type: ignore[union-attr]
    assert final.content[2].input == {"expression": "2+2"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 21
    assert {"thinking", "signature", "input_json"} <= kinds
    _check_cloud_request(fake_upstream, cloud, stream=True)


@pytest.mark.parametrize("cloud", CLAUDES)
def test_a_tool_round_trip_sends_the_thinking_back_unchanged(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream, cloud: str
) -> None:
    fake_upstream.script(
        Turn(text=None, reasoning="Use the tool.", tool_calls=(("calc", {"expression": "2+2"}),)),
        Turn(text="It is 4."),
    )
    messages: list[Any] = [{"role": "user", "content": "2+2?"}]
    first = claude.messages.create(model=CLAUDES[cloud], max_tokens=2048, thinking=THINKING,  # type: ignore[arg-type]
                                   tools=[CALCULATOR], messages=messages)  # type: ignore[list-item]  # fmt: skip
    thinking, call = first.content
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "4"}]},  # type: ignore[union-attr]
    ]  # fmt: skip
    second = claude.messages.create(model=CLAUDES[cloud], max_tokens=2048, thinking=THINKING,  # type: ignore[arg-type]
                                    tools=[CALCULATOR], messages=messages)  # type: ignore[list-item]  # fmt: skip

    assert second.content[0].text == "It is 4."  # type: ignore[union-attr]
    sent = _sent(fake_upstream, cloud)["messages"]
    assert sent[1]["content"][0] == thinking.model_dump(exclude_none=True)
    assert sent[1]["content"][0]["signature"].startswith("sig-")
    assert sent[2]["content"][0]["tool_use_id"] == call.id  # type: ignore[union-attr]


@pytest.mark.parametrize("cloud", CLAUDES)
def test_a_throttled_cloud_is_the_sdk_s_rate_limit_error(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream, cloud: str
) -> None:
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED))

    with pytest.raises(anthropic.RateLimitError) as raised:
        claude.messages.create(model=CLAUDES[cloud], max_tokens=64,
                               messages=[{"role": "user", "content": "hi"}])  # fmt: skip

    assert raised.value.body["type"] == "error"  # type: ignore[index]


def test_bedrock_throttling_mid_stream_is_an_error_event(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(ThrottledMidStream(text="Partly"))

    question: list[Any] = [{"role": "user", "content": "hi"}]
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        claude.messages.stream(model=BEDROCK_CLAUDE, max_tokens=64, messages=question) as stream,
    ):
        for _ in stream:
            pass

    assert raised.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert bedrock_wire.SECRET_KEY not in str(raised.value.body)


def _settled_totals(url: str) -> dict[str, Any]:
    """The usage totals once an earlier test's billing has landed (a stream cut mid-way is
    billed in the background, after its client saw the end): two reads 0.2 s apart alike."""
    previous = httpx.get(f"{url}/v1/usage").json()["totals"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.2)
        current = httpx.get(f"{url}/v1/usage").json()["totals"]
        if current == previous:
            break
        previous = current
    return previous


@pytest.mark.parametrize("cloud", CLAUDES)
def test_a_cloud_claude_stream_past_the_output_cap_is_cut_and_billed_once(
    cloud_gateway: GatewayProcess, claude: anthropic.Anthropic, fake_upstream: FakeUpstream,
    cloud: str,
) -> None:  # fmt: skip
    """An upstream that ignores ``max_tokens``: cut at the model's output cap (the shipped
    catalogue's 64000 tokens, at 2 x 4 characters a token), with Anthropic's error event."""
    fake_upstream.script(Turn(text="flood", floods=True, prompt_tokens=11))
    before = _settled_totals(cloud_gateway.url)
    question: list[Any] = [{"role": "user", "content": "hi"}]
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        claude.messages.stream(model=CLAUDES[cloud], max_tokens=64, messages=question) as stream,
    ):
        for _ in stream:
            pass

    assert raised.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert "upstream kept generating" in raised.value.message
    assert fake_upstream.hung_up(), "the gateway closed the cloud's stream"
    cut_chars = 2 * 64000 * 4 + len(FLOOD_PIECE)  # the delta that passed the cap
    expected = {"requests": 1, "prompt_tokens": 11, "completion_tokens": cut_chars // 4}
    deadline = time.monotonic() + 10
    while True:  # accounted in the background once the stream was cut
        after = httpx.get(f"{cloud_gateway.url}/v1/usage").json()["totals"]
        spent = {name: after[name] - before[name] for name in expected}
        if spent["requests"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert spent == expected


def test_gemini_on_the_same_vertex_provider_is_translated(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="From Gemini."))
    raw = claude.messages.with_raw_response.create(
        model="vertex_ai/gemini-2.5-pro", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )

    assert "x-gateway-route" not in raw.headers
    assert raw.parse().content[0].text == "From Gemini."  # type: ignore[union-attr]
    assert fake_upstream.requests[-1].path.endswith("/models/gemini-2.5-pro:generateContent")


def test_bedrock_models_other_than_claude_go_through_converse(
    cloud_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="From Nova."))
    body = {"model": "bedrock/amazon.nova-pro-v1:0", "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    answer = httpx.post(f"{cloud_gateway.url}/v1/messages", json=body,
                        headers={"x-api-key": "client", "anthropic-version": "2023-06-01"})  # fmt: skip

    assert answer.status_code == 200, answer.text
    assert json.loads(answer.text)["content"][0]["text"] == "From Nova."
    assert fake_upstream.requests[-1].path == "/model/amazon.nova-pro-v1:0/converse"


def test_a_bedrock_guardrail_goes_with_claude_s_invoke_model(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    claude.messages.create(model="bedrock-guarded/anthropic.claude-haiku-4-5-20251001-v1:0",
                           max_tokens=64, messages=[{"role": "user", "content": "hi"}])  # fmt: skip

    headers = fake_upstream.requests[-1].headers
    assert headers["X-Amzn-Bedrock-GuardrailIdentifier"] == "gr-0123abcd"
    assert headers["X-Amzn-Bedrock-GuardrailVersion"] == "3"
    assert headers["X-Amzn-Bedrock-Trace"] == "ENABLED"
    # The guardrail headers are covered by the SigV4 signature the fake checked.
    signed = headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "x-amzn-bedrock-guardrailidentifier" in signed
