"""OllamaChatProvider against the fake upstream's Ollama dialect, over real sockets.

Only what is Ollama's own: the request body, NDJSON framing, synthesised tool-call ids, error
lines. What every ChatProvider must do (replies, tool calls, streams, finish reasons, usage,
faults) is checked for all adapters in test_chat_provider_contract.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway_adapters.providers.ollama import OllamaChatProvider
from gateway_core.domain.chat import ChatChunk, ChatRequest
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamServerError,
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


# --- complete ------------------------------------------------------------------------------


async def test_a_plain_request_on_the_wire(
    provider: OllamaChatProvider, fake_upstream: FakeUpstream
) -> None:
    response = await provider.complete(ask())

    assert response.id.startswith("chatcmpl-")  # Ollama has no ids: the adapter makes one
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


async def test_tool_call_round_trip_on_the_wire(
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
    assert call.arguments == '{"city":"Paris"}'  # Ollama sends an object: serialised compactly
    assert call.id.startswith("call_") and len(call.id) == len("call_") + 24

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


async def test_streamed_tool_calls_arrive_whole_with_the_ids_complete_gives(
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

    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert [ToolCall(d.id or "", d.name or "", d.arguments) for d in deltas] == list(
        response.choices[0].message.tool_calls
    )
    assert [delta.index for delta in deltas] == [0, 1]


# --- failures ------------------------------------------------------------------------------


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
