"""OllamaChatProvider against the fake upstream's Ollama dialect, over real sockets."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from gateway_adapters.providers.ollama import OllamaChatProvider
from gateway_core.domain.chat import ChatChunk, ChatRequest
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
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

from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.ollama_wire import NDJSON, ErrorMidStream

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
WEATHER_ON_THE_WIRE = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def provider(fake_upstream: FakeUpstream, http_client: httpx.AsyncClient) -> OllamaChatProvider:
    return OllamaChatProvider(name="ollama", base_url=fake_upstream.url, client=http_client)


def ask(text: str = "Why is the sky blue?") -> ChatRequest:
    return ChatRequest(model="llama3.2", messages=(Message.user(text),))


async def collect(provider: OllamaChatProvider, request: ChatRequest) -> list[ChatChunk]:
    return [chunk async for chunk in provider.stream(request)]


@dataclass
class Reassembled:
    text: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    native_finish_reason: str | None
    usage: Usage | None


def reassemble(chunks: list[ChatChunk]) -> Reassembled:
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.tool_calls:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = delta.id or call["id"]
            call["name"] = delta.name or call["name"]
            call["arguments"] += delta.arguments
    finals = [chunk for chunk in chunks if chunk.finish_reason is not None]
    usages = [chunk.usage for chunk in chunks if chunk.usage is not None]
    return Reassembled(
        text="".join(chunk.content or "" for chunk in chunks),
        tool_calls=tuple(ToolCall(**calls[index]) for index in sorted(calls)),
        finish_reason=finals[-1].finish_reason if finals else None,
        native_finish_reason=finals[-1].native_finish_reason if finals else None,
        usage=usages[-1] if usages else None,
    )


# --- complete ------------------------------------------------------------------------------


async def test_complete_returns_the_reply(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="Rayleigh scattering.", prompt_tokens=26, completion_tokens=4))

    response = await provider.complete(ask())

    assert response.choices[0].message == Message.assistant("Rayleigh scattering.")
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].native_finish_reason == "stop"
    assert response.usage == Usage(prompt_tokens=26, completion_tokens=4)
    assert (response.model, response.provider) == ("llama3.2", "ollama")
    assert response.id.startswith("chatcmpl-") and response.created > 0
    [recorded] = fake_upstream.requests
    assert recorded.path == "/api/chat"
    assert recorded.body == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
        "stream": False,
    }


async def test_multi_turn_with_system_prompt_and_options(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    request = ChatRequest(
        model="llama3.2",
        messages=(
            Message.system("Answer briefly."),
            Message(role="developer", content="Use British spelling."),
            Message.user("why is the sky blue?"),
            Message.assistant("due to rayleigh scattering."),
            Message.user("how is that different than mie scattering?"),
        ),
        temperature=0.2,
        top_p=0.9,
        seed=101,
        stop=("\n\n",),
        max_tokens=64,
        response_format={"type": "json_object"},
    )

    await provider.complete(request)

    body = fake_upstream.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "system", "content": "Use British spelling."},
        {"role": "user", "content": "why is the sky blue?"},
        {"role": "assistant", "content": "due to rayleigh scattering."},
        {"role": "user", "content": "how is that different than mie scattering?"},
    ]
    assert body["options"] == {
        "temperature": 0.2, "top_p": 0.9, "seed": 101, "stop": ["\n\n"], "num_predict": 64
    }
    assert body["format"] == "json"


async def test_images_travel_as_base64(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    content = (TextPart("what is in this image?"), ImagePart("data:image/png;base64,iVBORw0KGgo="))

    await provider.complete(ChatRequest(model="llava", messages=(Message.user(content),)))

    assert fake_upstream.requests[0].body["messages"] == [
        {"role": "user", "content": "what is in this image?", "images": ["iVBORw0KGgo="]}
    ]


async def test_tool_call_round_trip(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)), Turn(text="Sunny.")
    )
    question = Message.user("Weather in Paris?")

    first = await provider.complete(
        ChatRequest(model="llama3.2", messages=(question,), tools=(WEATHER,))
    )
    [call] = first.choices[0].message.tool_calls
    assert (call.name, call.arguments) == ("get_weather", '{"city":"Paris"}')
    assert call.id.startswith("call_") and len(call.id) == len("call_") + 24
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].native_finish_reason == "stop"
    assert first.choices[0].message.content is None

    history = (question, first.choices[0].message, Message.tool_result(call.id, '{"temp_c": 21}'))
    second = await provider.complete(
        ChatRequest(model="llama3.2", messages=history, tools=(WEATHER,))
    )

    assert second.choices[0].message.text == "Sunny."
    body = fake_upstream.requests[1].body
    assert body["tools"] == [WEATHER_ON_THE_WIRE]
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
        },
        {"role": "tool", "content": '{"temp_c": 21}', "tool_name": "get_weather"},
    ]


@pytest.mark.parametrize("done_reason", ["length", "load", "something_new"])
async def test_finish_reason_is_never_turned_into_stop(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream, done_reason: str
) -> None:
    fake_upstream.script(Turn(finish=done_reason), Turn(finish=done_reason))

    choice = (await provider.complete(ask())).choices[0]
    streamed = reassemble(await collect(provider, ask()))

    assert (choice.finish_reason, choice.native_finish_reason) == (done_reason, done_reason)
    assert (streamed.finish_reason, streamed.native_finish_reason) == (done_reason, done_reason)


# --- stream --------------------------------------------------------------------------------


async def test_stream_asks_for_ndjson_and_delivers_text_in_pieces(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="The sky is blue because of Rayleigh scattering."))

    chunks = await collect(provider, ask())

    assert fake_upstream.requests[0].body["stream"] is True
    assert chunks[0] == ChatChunk(role="assistant", content="", model="llama3.2")
    assert len([chunk for chunk in chunks if chunk.content]) > 3
    assert chunks[-2].finish_reason == "stop"
    assert chunks[-1] == ChatChunk(usage=Usage(prompt_tokens=11, completion_tokens=7))


async def test_streamed_text_equals_complete(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    turn = Turn(text="Hello! How are you today?", prompt_tokens=26, completion_tokens=8)
    fake_upstream.script(turn, turn)

    response = await provider.complete(ask())
    streamed = reassemble(await collect(provider, ask()))

    choice = response.choices[0]
    assert streamed.text == choice.message.content
    assert (streamed.finish_reason, streamed.native_finish_reason) == ("stop", "stop")
    assert streamed.usage == response.usage == Usage(prompt_tokens=26, completion_tokens=8)


async def test_streamed_tool_calls_equal_complete_with_the_same_ids(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    turn = Turn(
        text="Let me check.",
        tool_calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Oslo"})),
    )
    fake_upstream.script(turn, turn)
    request = ChatRequest(
        model="llama3.2", messages=(Message.user("Paris or Oslo?"),), tools=(WEATHER,)
    )

    response = await provider.complete(request)
    chunks = await collect(provider, request)
    streamed = reassemble(chunks)

    message = response.choices[0].message
    assert streamed.tool_calls == message.tool_calls
    assert len({call.id for call in message.tool_calls}) == 2
    assert streamed.text == message.content == "Let me check."
    assert streamed.finish_reason == response.choices[0].finish_reason == "tool_calls"
    assert [delta.index for chunk in chunks for delta in chunk.tool_calls] == [0, 1]


async def test_model_named_by_ollama_is_reported(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(model="llama3.2:latest"), Turn(model="llama3.2:latest"))

    response = await provider.complete(ask())
    chunks = await collect(provider, ask())

    assert response.model == chunks[0].model == "llama3.2:latest"


# --- failures ------------------------------------------------------------------------------

FAULTS = [
    (Fault.RATE_LIMITED, UpstreamRateLimitError, 429),
    (Fault.SERVER_ERROR, UpstreamServerError, 500),
    (Fault.OVERLOADED, UpstreamOverloadedError, 503),
    (Fault.UNAUTHORIZED, UpstreamAuthError, 401),
    (Fault.BAD_REQUEST, UpstreamBadRequestError, 400),
    (Fault.DROP_MID_STREAM, UpstreamConnectionError, None),
    (Fault.MALFORMED_JSON, UpstreamResponseError, None),
]


@pytest.mark.parametrize(("fault", "error_class", "status"), FAULTS)
async def test_complete_fault(
    provider: OllamaChatProvider,
    fake_upstream: FakeUpstream,
    fault: Fault,
    error_class: type[ProviderError],
    status: int | None,
) -> None:
    fake_upstream.script(Turn(fault=fault))

    with pytest.raises(error_class) as caught:
        await provider.complete(ask())

    assert type(caught.value) is error_class
    assert (caught.value.provider, caught.value.status) == ("ollama", status)


@pytest.mark.parametrize(("fault", "error_class", "status"), FAULTS)
async def test_stream_fault(
    provider: OllamaChatProvider,
    fake_upstream: FakeUpstream,
    fault: Fault,
    error_class: type[ProviderError],
    status: int | None,
) -> None:
    fake_upstream.script(Turn(fault=fault))

    with pytest.raises(error_class) as caught:
        await collect(provider, ask())

    assert type(caught.value) is error_class
    assert (caught.value.provider, caught.value.status) == ("ollama", status)


async def test_rate_limit_keeps_retry_after(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED))

    with pytest.raises(UpstreamRateLimitError) as caught:
        await provider.complete(ask())

    assert caught.value.retry_after == 7


async def test_upstream_error_text_stays_out_of_the_message(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.BAD_REQUEST))

    with pytest.raises(UpstreamBadRequestError) as caught:
        await provider.complete(ask())

    assert "frobnicate" not in str(caught.value)
    assert any("frobnicate" in note for note in caught.value.__notes__)


async def test_stream_cut_short_fails_after_the_lines_that_arrived(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="one two three four five six", fault=Fault.DROP_MID_STREAM))
    received: list[ChatChunk] = []

    with pytest.raises(UpstreamConnectionError):
        async for chunk in provider.stream(ask()):
            received.append(chunk)

    assert "".join(chunk.content or "" for chunk in received) == "one two three"


async def test_error_line_mid_stream(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(ErrorMidStream(text="Partial answer", error="model runner crashed"))
    received: list[ChatChunk] = []

    with pytest.raises(UpstreamServerError) as caught:
        async for chunk in provider.stream(ask()):
            received.append(chunk)

    assert "".join(chunk.content or "" for chunk in received) == "Partial answer"
    assert "crashed" not in str(caught.value)


async def test_ndjson_is_what_the_fake_speaks(
    fake_upstream: FakeUpstream, http_client: httpx.AsyncClient
) -> None:
    # Guards the fake itself: the adapter must be tested against Ollama's real framing.
    response = await http_client.post(
        f"{fake_upstream.url}/api/chat", json={"model": "m", "messages": []}
    )

    assert response.headers["content-type"].startswith(NDJSON)
    lines = response.text.splitlines()
    assert len(lines) > 2 and all(line.startswith("{") for line in lines)


@pytest.mark.parametrize("streamed", [False, True])
async def test_hang_times_out(
    fake_upstream: FakeUpstream, http_client: httpx.AsyncClient, streamed: bool
) -> None:
    provider = OllamaChatProvider(
        name="ollama", base_url=fake_upstream.url, client=http_client, timeout=0.5
    )
    fake_upstream.script(Turn(fault=Fault.HANG))

    with pytest.raises(UpstreamTimeoutError):
        if streamed:
            await collect(provider, ask())
        else:
            await provider.complete(ask())


async def test_unreachable_server(http_client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OllamaChatProvider(
        name="ollama", base_url=f"http://127.0.0.1:{port}", client=http_client
    )

    with pytest.raises(UpstreamConnectionError):
        await provider.complete(ask())
