"""AnthropicChatProvider against the fake upstream's Anthropic dialect, over real sockets.

Only what is Anthropic's own: headers, the request body, error events. What every ChatProvider
must do (replies, tool calls, streams, finish reasons, usage, faults) is checked for all
adapters in test_chat_provider_contract.py.

The last tests hold the fake itself to the anthropic SDK: its answers parse as the SDK's types
and our translation of them says what the SDK reads from them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pydantic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message as SDKMessage
from anthropic.types import RawMessageStreamEvent
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)

from gateway_adapters.http1 import Http1Client, Target, Timeouts
from gateway_adapters.providers.anthropic import AnthropicChatProvider
from gateway_adapters.providers.anthropic.wire import parse_response
from gateway_adapters.providers.sse import SSEDecoder
from gateway_core.domain.chat import ChatChunk, ChatRequest
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.tools import ToolSpec
from gateway_core.errors import UpstreamAuthError, UpstreamOverloadedError
from tests.contract.providers import answers
from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.fake_upstream.anthropic_wire import ErrorMidStream, materialized

API_KEY = "sk-ant-test-0123456789"
MODEL = "claude-sonnet-4-6"
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


@pytest.fixture
async def session() -> AsyncIterator[Http1Client]:
    async with Http1Client() as client_session:
        yield client_session


def make_provider(
    upstream: FakeUpstream, session: Http1Client, **settings: Any
) -> AnthropicChatProvider:
    settings = {"api_key": API_KEY, **settings}
    return AnthropicChatProvider(
        name="anthropic", base_url=upstream.url, client=session, **settings
    )


@pytest.fixture
def provider(fake_upstream: FakeUpstream, session: Http1Client) -> AnthropicChatProvider:
    return make_provider(fake_upstream, session)


def ask(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=messages or (Message.user("Hello"),), **fields)


async def collect(provider: AnthropicChatProvider, request: ChatRequest) -> list[ChatChunk]:
    return [chunk async for chunk in provider.stream(request)]


# ------------------------------------------------------------------------------- requests


async def test_required_headers_are_sent(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    await provider.complete(ask())

    headers = {name.lower(): value for name, value in fake_upstream.requests[0].headers.items()}
    assert headers["x-api-key"] == API_KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"


async def test_extra_headers_and_version_are_configurable(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = make_provider(
        fake_upstream,
        session,
        anthropic_version="2024-01-01",
        headers={"anthropic-beta": "tools-2024"},
    )

    await provider.complete(ask())

    headers = {name.lower(): value for name, value in fake_upstream.requests[0].headers.items()}
    assert (headers["anthropic-version"], headers["anthropic-beta"]) == ("2024-01-01", "tools-2024")


async def test_without_a_key_anthropic_refuses(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = make_provider(fake_upstream, session, api_key=None)

    with pytest.raises(UpstreamAuthError):
        await provider.complete(ask())
    assert "x-api-key" not in {name.lower() for name in fake_upstream.requests[0].headers}


async def test_multi_turn_with_a_system_prompt(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    await provider.complete(
        ask(
            Message.system("You are a weather bot."),
            Message.user("Hi"),
            Message.assistant("Hello! Which city?"),
            Message.user("Paris"),
            Message.user("Tomorrow, please."),
            temperature=0.3,
        )
    )

    sent = fake_upstream.requests[0].body
    assert sent["system"] == "You are a weather bot."
    assert [turn["role"] for turn in sent["messages"]] == ["user", "assistant", "user"]
    assert [block["text"] for block in sent["messages"][2]["content"]] == [
        "Paris",
        "Tomorrow, please.",
    ]
    assert (sent["max_tokens"], sent["temperature"]) == (4096, 0.3)
    assert "stream" not in sent


async def test_max_tokens_default_per_model(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = make_provider(
        fake_upstream, session, default_max_tokens=1000, max_tokens_by_model={MODEL: 64000}
    )

    await provider.complete(ask())
    await provider.complete(ChatRequest(model="claude-haiku-4-5", messages=(Message.user("Hi"),)))
    await provider.complete(ask(max_tokens=50))

    assert [recorded.body["max_tokens"] for recorded in fake_upstream.requests] == [64000, 1000, 50]


async def test_sampling_is_left_out_for_models_that_refuse_it(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    for model in ("claude-opus-4-7", "claude-sonnet-5-5", "claude-opus-4-6"):
        await provider.complete(
            ChatRequest(model=model, messages=(Message.user("Hi"),), temperature=0.2)
        )

    assert ["temperature" in recorded.body for recorded in fake_upstream.requests] == [
        False,
        False,
        True,
    ]


async def test_tool_call_round_trip_on_the_wire(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)))

    first = await provider.complete(ask(Message.user("Weather in Paris?"), tools=(WEATHER,)))

    (call,) = first.choices[0].message.tool_calls
    assert call.id.startswith("toolu_")  # Anthropic's own id, passed on

    await provider.complete(
        ask(
            Message.user("Weather in Paris?"),
            first.choices[0].message,
            Message.tool_result(call.id, '{"temp_c": 18}'),
            tools=(WEATHER,),
        )
    )

    sent = fake_upstream.requests[1].body
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": dict(WEATHER.parameters),
        }
    ]
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": '{"temp_c": 18}'}
            ],
        },
    ]


# -------------------------------------------------------------------------------- streams


async def test_a_stream_asks_for_server_sent_events(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    await collect(provider, ask())

    (recorded,) = fake_upstream.requests
    assert recorded.body["stream"] is True
    assert {name.lower(): value for name, value in recorded.headers.items()}["accept"] == (
        "text/event-stream"
    )


# --------------------------------------------------------------------------------- faults


async def test_an_error_event_mid_stream(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(ErrorMidStream(text="A long answer that gets cut"))
    received: list[ChatChunk] = []

    with pytest.raises(UpstreamOverloadedError):
        async for chunk in provider.stream(ask()):
            received.append(chunk)
    assert received[0].role == "assistant"
    assert any(chunk.content for chunk in received)


# ------------------------------------------------------------------------- wire fidelity


@functools.cache
def request_adapter(streamed: bool) -> pydantic.TypeAdapter[Any]:
    # Kept alive on purpose: pydantic validates the SDK's Iterable fields lazily, and walking
    # them after their TypeAdapter was collected crashes pydantic-core.
    return pydantic.TypeAdapter(
        MessageCreateParamsStreaming if streamed else MessageCreateParamsNonStreaming
    )


def validated_request(body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    sampling = {"temperature", "top_p"}  # the SDK 2.x TypedDicts no longer list them
    checked = {key: value for key, value in body.items() if key not in sampling}
    return materialized(request_adapter(bool(body.get("stream"))).validate_python(checked)), checked


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_the_request_body_is_the_sdks_request_type(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream, streamed: bool
) -> None:
    call = ToolCall(id="toolu_01", name="get_weather", arguments='{"city": "Paris"}')
    request = ask(
        Message.system("Be brief."),
        Message.user("Weather?"),
        Message.assistant("Checking.", (call,)),
        Message.tool_result("toolu_01", "18 C"),
        tools=(WEATHER,),
        tool_choice="auto",
        parallel_tool_calls=False,
        stop=("END",),
        user="user-1",
        temperature=0.2,
    )

    await (collect(provider, request) if streamed else provider.complete(request))

    validated, checked = validated_request(fake_upstream.requests[0].body)
    assert validated == checked


async def raw_answer(
    session: Http1Client, upstream: FakeUpstream, body: dict[str, Any]
) -> bytes:
    headers = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
    target = Target(upstream.url + "/v1/messages", {**headers, "content-type": "application/json"})
    async with session.post(target, json.dumps(body).encode(), Timeouts(total=10)) as response:
        assert response.status == 200
        return await response.read()


TOOL_TURN = Turn(
    text="Checking.", tool_calls=(("get_weather", {"city": "Paris", "days": 2}),), cached_tokens=5
)
RAW_BODY = {
    "model": MODEL,
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Weather?"}],
}


async def test_the_fakes_answer_is_an_sdk_message_and_we_read_what_the_sdk_reads(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    fake_upstream.script(TOOL_TURN)
    raw = await raw_answer(session, fake_upstream, RAW_BODY)

    sdk = SDKMessage.model_validate_json(raw)
    ours = parse_response(raw, provider="anthropic", created=0)

    assert_same_answer(sdk, ours)


async def test_the_fakes_stream_is_sdk_events_and_we_read_what_the_sdk_reads(
    fake_upstream: FakeUpstream, session: Http1Client, provider: AnthropicChatProvider
) -> None:
    fake_upstream.script(TOOL_TURN, TOOL_TURN)
    raw = await raw_answer(session, fake_upstream, {**RAW_BODY, "stream": True})
    events = [event for event in SSEDecoder().feed(raw) if event.event != "ping"]
    snapshot = None
    json_buffers: dict[int, bytes] = {}
    event_adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)
    for event in events:
        parsed = event_adapter.validate_json(event.data)
        assert parsed.type == event.event
        snapshot = accumulate_event(event=parsed, current_snapshot=snapshot, json_bufs=json_buffers)

    ours = answers.reassembled(await collect(provider, ask()), MODEL)

    assert snapshot is not None
    assert_same_answer(SDKMessage.model_validate(snapshot.model_dump()), ours, reassembled=True)


async def test_the_sdk_client_itself_reads_the_fake(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(TOOL_TURN, TOOL_TURN)
    async with anthropic.DefaultAsyncHttpxClient(trust_env=False) as http_client:
        client = anthropic.AsyncAnthropic(
            api_key=API_KEY, base_url=fake_upstream.url, http_client=http_client, max_retries=0
        )
        message = await client.messages.create(**RAW_BODY)  # type: ignore[call-overload]
        async with client.messages.stream(**RAW_BODY) as stream:  # type: ignore[arg-type]
            streamed = await stream.get_final_message()

    assert sdk_summary(streamed) == sdk_summary(message)
    assert sdk_summary(message)[0] == [
        ("text", "Checking.", None, None),
        ("tool_use", None, "get_weather", {"city": "Paris", "days": 2}),
    ]


def sdk_summary(message: SDKMessage) -> tuple[Any, ...]:
    blocks = [
        (
            block.type,
            getattr(block, "text", None),
            getattr(block, "name", None),
            getattr(block, "input", None),
        )
        for block in message.content
    ]
    return blocks, message.stop_reason, message.usage.output_tokens


def assert_same_answer(sdk: SDKMessage, ours: Any, *, reassembled: bool = False) -> None:
    choice = ours.choices[0]
    message = choice.message
    sdk_text = "".join(block.text for block in sdk.content if block.type == "text")
    sdk_calls = [(block.name, block.input) for block in sdk.content if block.type == "tool_use"]
    assert message.content == sdk_text
    calls = [
        (c.function.name, c.function.arguments) if reassembled else (c.name, c.arguments)
        for c in message.tool_calls
    ]
    assert [(name, json.loads(arguments)) for name, arguments in calls] == sdk_calls
    assert choice.finish_reason == "tool_calls" and sdk.stop_reason == "tool_use"
    cache_read = sdk.usage.cache_read_input_tokens or 0
    prompt = sdk.usage.input_tokens + cache_read + (sdk.usage.cache_creation_input_tokens or 0)
    assert ours.usage.prompt_tokens == prompt
    assert ours.usage.completion_tokens == sdk.usage.output_tokens
    cached = (
        ours.usage.prompt_tokens_details.cached_tokens if reassembled else ours.usage.cached_tokens
    )
    assert cached == cache_read
