"""AnthropicChatProvider against the fake upstream's Anthropic dialect, over real sockets.

The last tests hold the fake itself to the anthropic SDK: its answers parse as the SDK's types
and our translation of them says what the SDK reads from them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
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
from gateway_adapters.providers.anthropic import AnthropicChatProvider
from gateway_adapters.providers.anthropic.wire import parse_response
from gateway_adapters.providers.sse import SSEDecoder
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.tools import ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamOverloadedError,
    UpstreamRateLimitError,
    UpstreamResponseError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.anthropic_wire import ErrorMidStream, materialized

API_KEY = "sk-ant-test-0123456789"
MODEL = "claude-sonnet-4-6"
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def make_provider(
    upstream: FakeUpstream, session: aiohttp.ClientSession, **settings: Any
) -> AnthropicChatProvider:
    settings = {"api_key": API_KEY, **settings}
    return AnthropicChatProvider(
        name="anthropic", base_url=upstream.url, session=session, **settings
    )


@pytest.fixture
def provider(fake_upstream: FakeUpstream, session: aiohttp.ClientSession) -> AnthropicChatProvider:
    return make_provider(fake_upstream, session)


def ask(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=messages or (Message.user("Hello"),), **fields)


async def collect(provider: AnthropicChatProvider, request: ChatRequest) -> list[ChatChunk]:
    return [chunk async for chunk in provider.stream(request)]


def reassemble(chunks: list[ChatChunk]) -> Any:
    """The chunks as the HTTP layer sends them, put together by the openai SDK's accumulator."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        wire: dict[str, Any] = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
        }
        delta: dict[str, Any] = {}
        if chunk.role is not None:
            delta["role"] = chunk.role
        if chunk.content is not None:
            delta["content"] = chunk.content
        if chunk.tool_calls:
            delta["tool_calls"] = [_tool_call_delta(call) for call in chunk.tool_calls]
        choice = {"index": 0, "delta": delta, "finish_reason": chunk.finish_reason}
        wire["choices"] = [] if chunk.usage is not None else [choice]
        if chunk.usage is not None:
            wire["usage"] = {
                "prompt_tokens": chunk.usage.prompt_tokens,
                "completion_tokens": chunk.usage.completion_tokens,
                "total_tokens": chunk.usage.total_tokens,
                "prompt_tokens_details": {"cached_tokens": chunk.usage.cached_tokens},
            }
        state.handle_chunk(ChatCompletionChunk.model_validate(wire))
    return state.get_final_completion()


def _tool_call_delta(call: Any) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": call.arguments}
    wire: dict[str, Any] = {"index": call.index, "function": function}
    if call.id is not None:
        wire.update(id=call.id, type="function")
    if call.name is not None:
        function["name"] = call.name
    return wire


def calls_of(response: ChatResponse) -> list[tuple[str, Any]]:
    return [
        (call.name, json.loads(call.arguments)) for call in response.choices[0].message.tool_calls
    ]


# ------------------------------------------------------------------------------- requests


async def test_plain_reply(provider: AnthropicChatProvider, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(text="Bonjour !", prompt_tokens=12, completion_tokens=4))

    response = await provider.complete(ask())

    assert response.choices[0].message == Message.assistant("Bonjour !")
    assert response.choices[0].finish_reason == "stop"
    assert response.model == MODEL
    assert response.provider == "anthropic"
    assert response.usage == Usage(prompt_tokens=12, completion_tokens=4)
    (recorded,) = fake_upstream.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/messages")


async def test_required_headers_are_sent(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    await provider.complete(ask())

    headers = {name.lower(): value for name, value in fake_upstream.requests[0].headers.items()}
    assert headers["x-api-key"] == API_KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"


async def test_extra_headers_and_version_are_configurable(
    fake_upstream: FakeUpstream, session: aiohttp.ClientSession
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
    fake_upstream: FakeUpstream, session: aiohttp.ClientSession
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
    fake_upstream: FakeUpstream, session: aiohttp.ClientSession
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


async def test_tool_call_round_trip(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)))

    first = await provider.complete(ask(Message.user("Weather in Paris?"), tools=(WEATHER,)))

    (call,) = first.choices[0].message.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert call.id.startswith("toolu_")
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.content is None

    second = await provider.complete(
        ask(
            Message.user("Weather in Paris?"),
            first.choices[0].message,
            Message.tool_result(call.id, '{"temp_c": 18}'),
            tools=(WEATHER,),
        )
    )

    assert second.choices[0].finish_reason == "stop"
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


async def test_stream_asks_for_events_and_delivers_text_in_pieces(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="The sky is blue because of Rayleigh scattering."))

    chunks = await collect(provider, ask())

    assert fake_upstream.requests[0].body["stream"] is True
    assert chunks[0].role == "assistant"
    assert chunks[0].model == MODEL
    assert len([chunk for chunk in chunks if chunk.content]) > 1
    assert chunks[-1].usage is not None


@pytest.mark.parametrize(
    "turn",
    [
        Turn(text="Hello there, streaming world."),
        Turn(
            text="Let me look.",
            tool_calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})),
        ),
        Turn(text=None, tool_calls=(("get_weather", {}),)),
    ],
    ids=["text", "text-and-two-tools", "tool-without-arguments"],
)
async def test_streamed_answer_equals_complete(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream, turn: Turn
) -> None:
    fake_upstream.script(turn, turn)

    complete = await provider.complete(ask(tools=(WEATHER,)))
    streamed = reassemble(await collect(provider, ask(tools=(WEATHER,))))

    choice = streamed.choices[0]
    assert choice.message.content == complete.choices[0].message.content
    assert [
        (c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or []
    ] == calls_of(complete)
    assert choice.finish_reason == complete.choices[0].finish_reason
    assert streamed.usage.prompt_tokens == complete.usage.prompt_tokens
    assert streamed.usage.completion_tokens == complete.usage.completion_tokens


@pytest.mark.parametrize(
    ("native", "expected"),
    [
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
        ("some_new_reason", "some_new_reason"),
    ],
)
async def test_finish_reasons(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream, native: str, expected: str
) -> None:
    fake_upstream.script(Turn(finish=native), Turn(finish=native))

    choice = (await provider.complete(ask(stop=("END",)))).choices[0]
    chunks = await collect(provider, ask(stop=("END",)))

    assert (choice.finish_reason, choice.native_finish_reason) == (expected, native)
    (finish,) = [chunk for chunk in chunks if chunk.finish_reason is not None]
    assert (finish.finish_reason, finish.native_finish_reason) == (expected, native)


async def test_usage_with_cached_prompt_tokens(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    turn = Turn(prompt_tokens=1200, cached_tokens=1000, completion_tokens=30)
    fake_upstream.script(turn, turn)
    expected = Usage(prompt_tokens=1200, completion_tokens=30, cached_tokens=1000)

    complete = await provider.complete(ask())
    chunks = await collect(provider, ask())

    assert complete.usage == expected
    assert [chunk.usage for chunk in chunks if chunk.usage is not None] == [expected]


# --------------------------------------------------------------------------------- faults

FAULTS = [
    (Fault.RATE_LIMITED, UpstreamRateLimitError),
    (Fault.SERVER_ERROR, UpstreamServerError),
    (Fault.OVERLOADED, UpstreamOverloadedError),
    (Fault.UNAUTHORIZED, UpstreamAuthError),
    (Fault.BAD_REQUEST, UpstreamBadRequestError),
    (Fault.DROP_MID_STREAM, UpstreamConnectionError),
    (Fault.MALFORMED_JSON, UpstreamResponseError),
]


@pytest.mark.parametrize(("fault", "error_class"), FAULTS, ids=[fault.name for fault, _ in FAULTS])
async def test_complete_fault(
    provider: AnthropicChatProvider,
    fake_upstream: FakeUpstream,
    fault: Fault,
    error_class: type[ProviderError],
) -> None:
    fake_upstream.script(Turn(fault=fault))

    with pytest.raises(error_class) as caught:
        await provider.complete(ask())
    assert caught.value.provider == "anthropic"
    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize(("fault", "error_class"), FAULTS, ids=[fault.name for fault, _ in FAULTS])
async def test_stream_fault(
    provider: AnthropicChatProvider,
    fake_upstream: FakeUpstream,
    fault: Fault,
    error_class: type[ProviderError],
) -> None:
    fake_upstream.script(Turn(fault=fault))

    with pytest.raises(error_class):
        await collect(provider, ask())


async def test_rate_limit_keeps_retry_after(
    provider: AnthropicChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED))

    with pytest.raises(UpstreamRateLimitError) as caught:
        await provider.complete(ask())
    assert (caught.value.status, caught.value.retry_after) == (429, 7.0)


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


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_hang_times_out(
    fake_upstream: FakeUpstream, session: aiohttp.ClientSession, streamed: bool
) -> None:
    provider = make_provider(fake_upstream, session, timeout=0.5)
    fake_upstream.script(Turn(fault=Fault.HANG))

    with pytest.raises(UpstreamTimeoutError):
        if streamed:
            await collect(provider, ask())
        else:
            await provider.complete(ask())


async def test_unreachable_upstream(session: aiohttp.ClientSession) -> None:
    provider = AnthropicChatProvider(
        name="anthropic", base_url="http://127.0.0.1:9", api_key=API_KEY, session=session
    )

    with pytest.raises(UpstreamConnectionError):
        await provider.complete(ask())


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
    session: aiohttp.ClientSession, upstream: FakeUpstream, body: dict[str, Any]
) -> bytes:
    headers = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
    async with session.post(upstream.url + "/v1/messages", json=body, headers=headers) as response:
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
    fake_upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    fake_upstream.script(TOOL_TURN)
    raw = await raw_answer(session, fake_upstream, RAW_BODY)

    sdk = SDKMessage.model_validate_json(raw)
    ours = parse_response(raw, provider="anthropic", created=0)

    assert_same_answer(sdk, ours)


async def test_the_fakes_stream_is_sdk_events_and_we_read_what_the_sdk_reads(
    fake_upstream: FakeUpstream, session: aiohttp.ClientSession, provider: AnthropicChatProvider
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

    ours = reassemble(await collect(provider, ask()))

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
