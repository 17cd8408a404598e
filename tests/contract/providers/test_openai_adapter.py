"""OpenAIChatProvider against the fake upstream's OpenAI dialect, over real sockets.

Only what is OpenAI's own: the wire, headers, odd streams, the SDK's types. What every
ChatProvider must do (replies, tool calls, streams, finish reasons, usage, faults) is checked
for all adapters in test_chat_provider_contract.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pydantic
import pytest
from aiohttp import web
from openai.types.chat import ChatCompletion
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)

from gateway_adapters.http1 import Http1Client
from gateway_adapters.providers.openai import OpenAIChatProvider
from gateway_adapters.providers.openai.wire import from_openai_response
from gateway_core.domain.chat import ChatChunk, ChatRequest
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamResponseError,
    UpstreamServerError,
)
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.openai_wire import completion

API_KEY = "sk-test-contract-0123456789"
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


@pytest.fixture
async def session() -> AsyncIterator[Http1Client]:
    async with Http1Client() as client_session:
        yield client_session


@pytest.fixture
def provider(fake_upstream: FakeUpstream, session: Http1Client) -> OpenAIChatProvider:
    return OpenAIChatProvider(
        name="openai",
        base_url=f"{fake_upstream.url}/v1",
        api_key=API_KEY,
        client=session,
    )


def ask(text: str = "Why is the sky blue?", **fields: Any) -> ChatRequest:
    return ChatRequest(model="gpt-4o", messages=(Message.user(text),), **fields)


async def collect(provider: OpenAIChatProvider, request: ChatRequest) -> list[ChatChunk]:
    return [chunk async for chunk in provider.stream(request)]


# --- complete ------------------------------------------------------------------------------


async def test_a_plain_request_on_the_wire(
    provider: OpenAIChatProvider, fake_upstream: FakeUpstream
) -> None:
    response = await provider.complete(ask())

    assert response.id.startswith("chatcmpl-")  # OpenAI's own id, passed on
    [recorded] = fake_upstream.requests
    assert recorded.path == "/v1/chat/completions"
    assert recorded.headers["Authorization"] == f"Bearer {API_KEY}"
    assert recorded.headers["Content-Type"] == "application/json"
    assert recorded.body == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
    }


async def test_no_key_no_authorization_and_extra_headers_sent(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    local = OpenAIChatProvider(
        name="local",
        base_url=f"{fake_upstream.url}/v1/",
        api_key=None,
        client=session,
        headers={"HTTP-Referer": "https://gateway.example"},
    )

    await local.complete(ask())

    [recorded] = fake_upstream.requests
    assert recorded.path == "/v1/chat/completions"
    assert "Authorization" not in recorded.headers
    assert recorded.headers["HTTP-Referer"] == "https://gateway.example"
    assert API_KEY not in repr(local)


async def test_multi_turn_with_a_system_prompt_and_options(
    provider: OpenAIChatProvider, fake_upstream: FakeUpstream
) -> None:
    request = ChatRequest(
        model="gpt-4o",
        messages=(
            Message.system("Answer briefly."),
            Message.user("why is the sky blue?"),
            Message.assistant("due to rayleigh scattering."),
            Message.user((TextPart("and this?"), ImagePart("https://example.com/a.jpg", "low"))),
        ),
        temperature=0.2,
        top_p=0.9,
        seed=101,
        stop=("\n\n",),
        max_tokens=64,
        n=2,
        response_format={"type": "json_object"},
        user="u-1",
        metadata={"app": "docs"},
    )

    await provider.complete(request)

    body = fake_upstream.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "why is the sky blue?"},
        {"role": "assistant", "content": "due to rayleigh scattering."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and this?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.jpg", "detail": "low"},
                },
            ],
        },
    ]
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 101,
        "stop": ["\n\n"],
        "max_tokens": 64,
        "n": 2,
        "response_format": {"type": "json_object"},
        "user": "u-1",
        "metadata": {"app": "docs"},
    }


async def test_a_tool_call_round_trip_on_the_wire(
    provider: OpenAIChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)), Turn(text="Sunny.")
    )
    question = Message.user("Weather in Paris?")
    tools = {
        "tools": (WEATHER,),
        "tool_choice": NamedToolChoice("get_weather"),
        "parallel_tool_calls": False,
    }

    first = await provider.complete(ChatRequest(model="gpt-4o", messages=(question,), **tools))
    [call] = first.choices[0].message.tool_calls
    history = (question, first.choices[0].message, Message.tool_result(call.id, '{"temp_c": 21}'))
    second = await provider.complete(ChatRequest(model="gpt-4o", messages=history, **tools))

    assert second.choices[0].message.text == "Sunny."
    body = fake_upstream.requests[1].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
    ]


# --- stream --------------------------------------------------------------------------------


async def test_every_chunk_names_the_answering_model(
    provider: OpenAIChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(model="gpt-4o-2024-08-06"))

    chunks = await collect(provider, ask())

    assert {chunk.model for chunk in chunks} == {"gpt-4o-2024-08-06"}


async def test_tool_call_fragments_arrive_as_sent(
    provider: OpenAIChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)))

    deltas = [delta for chunk in await collect(provider, ask()) for delta in chunk.tool_calls]

    first, *fragments = deltas
    assert (first.index, first.id, first.name, first.arguments) == (
        0,
        "call_0_get_weather",
        "get_weather",
        "",
    )
    assert len(fragments) > 2
    assert all((d.index, d.id, d.name) == (0, None, None) for d in fragments)
    assert "".join(d.arguments for d in fragments) == json.dumps({"city": "Paris"})


async def test_a_stream_asks_for_usage(
    provider: OpenAIChatProvider, fake_upstream: FakeUpstream
) -> None:
    await collect(provider, ask())

    body = fake_upstream.requests[0].body
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


# --- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_a_key_quoted_by_the_upstream_stays_out_of_the_error(
    provider: OpenAIChatProvider, fake_upstream: FakeUpstream, streamed: bool
) -> None:
    fake_upstream.script(Turn(fault=Fault.UNAUTHORIZED))  # OpenAI's 401 quotes part of the key

    with pytest.raises(UpstreamAuthError) as raised:
        await (collect(provider, ask()) if streamed else provider.complete(ask()))

    assert "sk-fake" not in f"{raised.value} {raised.value!r}"


async def test_a_rejected_request_says_why(
    provider: OpenAIChatProvider, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.BAD_REQUEST))

    with pytest.raises(UpstreamBadRequestError) as raised:
        await provider.complete(ask())

    assert "maximum context length" in raised.value.message
    assert (raised.value.code, raised.value.param) == ("context_length_exceeded", "messages")


# --- streams the fake upstream cannot produce: a tiny server of canned bodies --------------

CANNED_STREAMS = {
    "/no-done/chat/completions": b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n',
    "/error-event/chat/completions": (
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
        b'data: {"error":{"message":"The server had an error","type":"server_error",'
        b'"param":null,"code":null}}\n\n'
    ),
    "/redirect/chat/completions": b"",
}


@pytest.fixture
async def canned_upstream() -> AsyncIterator[str]:
    async def serve(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/redirect"):
            raise web.HTTPTemporaryRedirect("/no-done/chat/completions")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(CANNED_STREAMS[request.path])
        await response.write_eof()
        return response

    app = web.Application()
    for path in CANNED_STREAMS:
        app.router.add_post(path, serve)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("/no-done", UpstreamConnectionError),
        ("/error-event", UpstreamServerError),
        ("/redirect", UpstreamResponseError),  # a redirect would carry the key elsewhere
    ],
)
async def test_odd_streams(
    canned_upstream: str,
    session: Http1Client,
    prefix: str,
    expected: type[ProviderError],
) -> None:
    odd = OpenAIChatProvider(
        name="odd", base_url=canned_upstream + prefix, api_key=API_KEY, client=session
    )

    with pytest.raises(expected):
        await collect(odd, ask())


# --- wire fidelity: held to the openai SDK's own types -------------------------------------


class _Strict(pydantic.BaseModel):
    """Forbids keys the SDK's TypedDicts do not declare, at every depth."""

    model_config = pydantic.ConfigDict(extra="forbid")
    plain: CompletionCreateParamsNonStreaming | None = None
    streaming: CompletionCreateParamsStreaming | None = None


def _drain(value: Any) -> Any:
    """pydantic validates ``Iterable`` fields lazily: walk them so every item is checked."""
    if isinstance(value, dict):
        return {key: _drain(item) for key, item in value.items()}
    if isinstance(value, (Iterator, list)):
        return [_drain(item) for item in value]
    return value


def _validate_request(body: dict[str, Any]) -> dict[str, Any]:
    model = _Strict(streaming=body) if body.get("stream") else _Strict(plain=body)
    return _drain(model.streaming if body.get("stream") else model.plain)


async def test_requests_validate_against_the_sdk_request_types(
    provider: OpenAIChatProvider, fake_upstream: FakeUpstream
) -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
    request = ChatRequest(
        model="gpt-4o",
        messages=(
            Message.system("Answer briefly."),
            Message(role="developer", content="Use metric units."),
            Message(
                role="user",
                name="ana",
                content=(
                    TextPart("Weather here?"),
                    ImagePart("data:image/png;base64,iVBORw0KGgo=", "high"),
                ),
            ),
            Message.assistant(None, (call,)),
            Message.tool_result("call_1", '{"celsius": 4}'),
        ),
        temperature=0.3,
        top_p=0.8,
        max_tokens=50,
        stop=("END",),
        n=1,
        seed=7,
        tools=(WEATHER,),
        tool_choice="auto",
        user="u",
        metadata={"k": "v"},
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "w", "schema": {"type": "object"}},
        },
        parallel_tool_calls=True,
    )

    await provider.complete(request)
    await collect(provider, request)

    plain, streaming = (_validate_request(recorded.body) for recorded in fake_upstream.requests)
    assert plain == {**fake_upstream.requests[0].body}
    assert streaming["stream_options"] == {"include_usage": True}
    with pytest.raises(pydantic.ValidationError):  # the check itself bites
        _validate_request({**fake_upstream.requests[0].body, "max_tokenz": 5})


@pytest.mark.parametrize(
    "turn",
    [
        Turn(text="Hello.", cached_tokens=5),
        Turn(text=None, tool_calls=(("get_weather", {"city": "Oslo"}), ("get_time", {}))),
        Turn(finish="length"),
    ],
)
def test_the_sdk_reads_responses_as_we_do(turn: Turn) -> None:
    body = completion(turn, "gpt-4o")

    sdk = ChatCompletion.model_validate(body)
    ours = from_openai_response(body, "openai")

    (sdk_choice,), (choice,) = sdk.choices, ours.choices
    assert choice.message.content == sdk_choice.message.content
    assert choice.finish_reason == sdk_choice.finish_reason
    assert [(c.id, c.name, c.arguments) for c in choice.message.tool_calls] == [
        (c.id, c.function.name, c.function.arguments) for c in sdk_choice.message.tool_calls or ()
    ]
    assert sdk.usage is not None
    cached = sdk.usage.prompt_tokens_details.cached_tokens if sdk.usage.prompt_tokens_details else 0
    assert ours.usage == Usage(sdk.usage.prompt_tokens, sdk.usage.completion_tokens, cached or 0)
    assert ours.usage.total_tokens == sdk.usage.total_tokens
    assert (ours.id, ours.model, ours.created) == (sdk.id, sdk.model, sdk.created)
