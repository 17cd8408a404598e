"""GeminiChatProvider against the fake upstream's Gemini and Vertex dialects, over real sockets.

Only what is Google's own: the request body (system instruction, parts, function declarations
and responses, tool config, structured output), thought parts, blocked prompts, usage details,
the Vertex token (verified by the fake's token endpoint, refreshed before it expires), no key
or token in any error, and embeddings. What every ChatProvider shares is in
test_chat_provider_contract.py.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import pytest

from gateway_adapters.http1 import Http1Client
from gateway_adapters.providers.gemini import GeminiChatProvider
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.embeddings import EmbeddingRequest
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    InvalidRequestError,
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequestError,
)
from tests.contract.providers.chat_vendors import VERTEX_PATH, vertex_tokens
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.gemini_wire import GEMINI_KEY, TOKENS, BlockedPrompt, Thinking

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
    "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
async def session() -> AsyncIterator[Http1Client]:
    async with Http1Client() as client:
        yield client


@pytest.fixture
def gemini(fake_upstream: FakeUpstream, session: Http1Client) -> GeminiChatProvider:
    return GeminiChatProvider(
        name="gemini", base_url=f"{fake_upstream.url}/v1beta", api_key=GEMINI_KEY, client=session
    )


@pytest.fixture(autouse=True)
def fresh_tokens() -> None:
    TOKENS.issued.clear()
    TOKENS.revoked.clear()
    TOKENS.claims.clear()


async def test_the_request_body_speaks_generate_content(
    gemini: GeminiChatProvider, fake_upstream: FakeUpstream
) -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    request = ChatRequest(
        model="gemini-2.5-flash",
        messages=(
            Message.system("Be brief."),
            Message.user((TextPart("What is this?"), ImagePart(f"data:image/png;base64,{PIXEL}"))),
            Message.assistant(None, (call,)),
            Message.tool_result("call_1", '{"temp_c": 21}'),
        ),
        tools=(WEATHER,),
        tool_choice=NamedToolChoice("get_weather"),
        temperature=0.2,
        max_tokens=64,
        stop=("END",),
        response_format={"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
    )

    await gemini.complete(request)

    (recorded,) = fake_upstream.requests
    assert recorded.headers["x-goog-api-key"] == GEMINI_KEY
    assert recorded.body == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "What is this?"},
                    {"inlineData": {"mimeType": "image/png", "data": PIXEL}},
                ],
            },
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "name": "get_weather",
                            "response": {"output": '{"temp_c": 21}'},
                        }
                    }
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Current weather for a city",
                        "parameters": dict(WEATHER.parameters),
                    }
                ]
            }
        ],
        "toolConfig": {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
        },
        "generationConfig": {
            "temperature": 0.2,
            "maxOutputTokens": 64,
            "stopSequences": ["END"],
            "responseMimeType": "application/json",
            "responseSchema": {"type": "object"},
        },
    }


async def _answer(
    gemini: GeminiChatProvider, request: ChatRequest, streamed: bool
) -> tuple[str, str | None, Usage | None]:
    """The answer's text, its reasoning text and its usage, streamed or not."""
    if streamed:
        chunks = [chunk async for chunk in gemini.stream(request)]
        text = "".join(chunk.content or "" for chunk in chunks)
        reasoning = "".join(chunk.reasoning_content or "" for chunk in chunks) or None
        return text, reasoning, chunks[-1].usage
    response = await gemini.complete(request)
    message = response.choices[0].message
    return message.text, message.reasoning_content, response.usage


@pytest.mark.parametrize("streamed", [False, True])
async def test_thinking_tokens_count_as_output_and_reasoning(
    gemini: GeminiChatProvider, fake_upstream: FakeUpstream, streamed: bool
) -> None:
    fake_upstream.script(Thinking(text="Rayleigh.", completion_tokens=12, thought_tokens=5,
                                  cached_tokens=4))  # fmt: skip
    request = ChatRequest(model="gemini-2.5-flash", messages=(Message.user("Why blue?"),))

    text, reasoning, usage = await _answer(gemini, request, streamed)

    assert "generationConfig" not in fake_upstream.requests[0].body
    assert (text, reasoning) == ("Rayleigh.", None)  # no thoughts asked for: none sent
    assert usage == Usage(prompt_tokens=11, completion_tokens=12, cached_tokens=4,
                          reasoning_tokens=5)  # fmt: skip


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize(
    ("extra", "config"),
    [
        ({"reasoning_effort": "low"}, {"thinkingBudget": 1024, "includeThoughts": True}),
        ({"reasoning_effort": "high"}, {"thinkingBudget": 24576, "includeThoughts": True}),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2000}},
            {"thinkingBudget": 2000, "includeThoughts": True},
        ),
    ],
)
async def test_thinking_settings_become_thinking_config_and_thoughts_reasoning(
    gemini: GeminiChatProvider,
    fake_upstream: FakeUpstream,
    streamed: bool,
    extra: dict[str, object],
    config: dict[str, object],
) -> None:
    fake_upstream.script(Thinking(text="Rayleigh.", completion_tokens=12, thought_tokens=5))
    request = ChatRequest(
        model="gemini-2.5-flash", messages=(Message.user("Why blue?"),), extra={**extra, "top_k": 3}
    )

    text, reasoning, usage = await _answer(gemini, request, streamed)

    sent = fake_upstream.requests[0].body["generationConfig"]
    assert sent == {"topK": 3, "thinkingConfig": config}
    assert (text, reasoning) == ("Rayleigh.", "The user asks about light; recall Rayleigh.")
    assert usage is not None and (usage.completion_tokens, usage.reasoning_tokens) == (12, 5)


@pytest.mark.parametrize(
    ("extra", "config"),
    [
        ({"reasoning_effort": "none"}, {"thinkingBudget": 0}),
        ({"thinking": {"type": "disabled"}}, {"thinkingBudget": 0}),
    ],
)
async def test_thinking_turned_off(
    gemini: GeminiChatProvider,
    fake_upstream: FakeUpstream,
    extra: dict[str, object],
    config: dict[str, object],
) -> None:
    request = ChatRequest(model="gemini-2.5-flash", messages=(Message.user("hi"),), extra=extra)

    await gemini.complete(request)

    assert fake_upstream.requests[0].body["generationConfig"] == {"thinkingConfig": config}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"thinking": {"type": "enabled"}}, "thinking"),
        ({"logprobs": True}, "logprobs"),
        ({"a_field_nobody_knows": 1}, "a_field_nobody_knows"),
    ],
)
async def test_unservable_fields_are_refused_by_name_before_any_call(
    gemini: GeminiChatProvider, fake_upstream: FakeUpstream, extra: dict[str, object], param: str
) -> None:
    request = ChatRequest(model="gemini-2.5-flash", messages=(Message.user("hi"),), extra=extra)

    with pytest.raises(InvalidRequestError) as refused:
        await gemini.complete(request)

    assert refused.value.param == param
    assert fake_upstream.requests == []


async def test_drop_params_leaves_unsupported_fields_out_and_names_them(
    gemini: GeminiChatProvider, fake_upstream: FakeUpstream
) -> None:
    request = ChatRequest(model="gemini-2.5-flash", messages=(Message.user("hi"),),
                          extra={"logprobs": True, "store": True}, drop_params=True)  # fmt: skip

    response = await gemini.complete(request)

    assert response.dropped_params == ("logprobs",)
    assert "generationConfig" not in fake_upstream.requests[0].body


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_blocked_prompt_finishes_with_content_filter(
    gemini: GeminiChatProvider, fake_upstream: FakeUpstream, streamed: bool
) -> None:
    fake_upstream.script(BlockedPrompt(reason="PROHIBITED_CONTENT"))
    request = ChatRequest(model="gemini-2.5-flash", messages=(Message.user("..."),))

    if streamed:
        chunks = [chunk async for chunk in gemini.stream(request)]
        (final,) = [chunk for chunk in chunks if chunk.finish_reason]
        finish = (final.finish_reason, final.native_finish_reason)
        assert "".join(chunk.content or "" for chunk in chunks) == ""
    else:
        (choice,) = (await gemini.complete(request)).choices
        finish = (choice.finish_reason, choice.native_finish_reason)
        assert choice.message.content is None

    assert finish == ("content_filter", "PROHIBITED_CONTENT")


async def test_a_wrong_api_key_is_our_auth_error_and_never_shown(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    wrong = "AIzaWrongKeyThatMustNotLeak"
    provider = GeminiChatProvider(
        name="gemini", base_url=f"{fake_upstream.url}/v1beta", api_key=wrong, client=session
    )

    with pytest.raises(UpstreamAuthError) as raised:
        await provider.complete(
            ChatRequest(model="gemini-2.5-flash", messages=(Message.user("hi"),))
        )

    assert raised.value.status == 400
    assert wrong not in f"{raised.value} {raised.value!r} {provider!r}"


async def test_an_image_url_without_a_type_is_refused_by_name(gemini: GeminiChatProvider) -> None:
    image = Message.user((ImagePart("https://example.com/picture"),))

    with pytest.raises(UpstreamBadRequestError, match="image's type"):
        await gemini.complete(ChatRequest(model="gemini-2.5-flash", messages=(image,)))


async def test_vertex_signs_in_with_the_service_account_and_refreshes_before_expiry(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    tokens = vertex_tokens(f"{fake_upstream.url}/token")
    provider = GeminiChatProvider(
        name="vertex_ai",
        base_url=f"{fake_upstream.url}{VERTEX_PATH}",
        tokens=tokens,
        client=session,
    )
    request = ChatRequest(model="gemini-2.5-pro", messages=(Message.user("hi"),))

    await provider.complete(request)
    await provider.complete(request)
    first = TOKENS.issued[0]
    TOKENS.revoked.add(first)
    # A minute before expiry: google-auth counts the token as expired already.
    credentials = tokens._credentials
    credentials.expiry = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + (
        datetime.timedelta(minutes=1)
    )
    await provider.complete(request)

    assert tokens.refreshes == 2 and len(TOKENS.issued) == 2
    auth = [recorded.headers["Authorization"] for recorded in fake_upstream.requests]
    assert auth == [f"Bearer {first}", f"Bearer {first}", f"Bearer {TOKENS.issued[1]}"]
    assert TOKENS.claims[0]["scope"] == "https://www.googleapis.com/auth/cloud-platform"


async def test_no_vertex_token_appears_in_an_error(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    tokens = vertex_tokens(f"{fake_upstream.url}/token")
    provider = GeminiChatProvider(
        name="vertex_ai",
        base_url=f"{fake_upstream.url}{VERTEX_PATH}",
        tokens=tokens,
        client=session,
    )
    fake_upstream.script(Turn(fault=Fault.UNAUTHORIZED))

    with pytest.raises(ProviderError) as raised:
        await provider.complete(ChatRequest(model="gemini-2.5-pro", messages=(Message.user("hi"),)))

    shown = f"{raised.value} {raised.value!r} {provider!r} {tokens!r}"
    assert TOKENS.issued and not [token for token in TOKENS.issued if token in shown]


async def test_embeddings_come_from_batch_embed_contents(
    gemini: GeminiChatProvider, fake_upstream: FakeUpstream
) -> None:
    answer = await gemini.embed(
        EmbeddingRequest(model="gemini-embedding-001", inputs=("a", "bbb"), dimensions=3)
    )

    assert answer.vectors == ((1.0, 2.0, 3.0), (3.0, 4.0, 5.0))
    (recorded,) = fake_upstream.requests
    assert recorded.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"


async def test_vertex_embeddings_come_from_predict(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = GeminiChatProvider(
        name="vertex_ai",
        base_url=f"{fake_upstream.url}{VERTEX_PATH}",
        tokens=vertex_tokens(f"{fake_upstream.url}/token"),
        client=session,
    )

    answer = await provider.embed(
        EmbeddingRequest(model="text-embedding-005", inputs=("a b", "ccc"), dimensions=2)
    )

    assert answer.vectors == ((3.0, 4.0), (3.0, 4.0))
    assert answer.usage.prompt_tokens == 3
    (recorded,) = fake_upstream.requests
    assert recorded.path == f"{VERTEX_PATH}/models/text-embedding-005:predict"
    assert recorded.body == {
        "instances": [{"content": "a b"}, {"content": "ccc"}],
        "parameters": {"outputDimensionality": 2},
    }


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_function_call_s_thought_signature_goes_back_with_it(
    gemini: GeminiChatProvider, fake_upstream: FakeUpstream, streamed: bool
) -> None:
    """Gemini 3 refuses a function call sent back without its ``thoughtSignature``: the
    signature rides in the call's id, which OpenAI-format clients return unchanged."""
    thinking = Thinking(text=None, tool_calls=(("get_weather", {"city": "Paris"}),))
    fake_upstream.script(thinking, Turn(text="Sunny."))
    question = Message.user("Weather in Paris?")
    request = ChatRequest(model="gemini-3-pro-preview", messages=(question,), tools=(WEATHER,))

    if streamed:
        chunks = [chunk async for chunk in gemini.stream(request)]
        (delta,) = [d for chunk in chunks for d in chunk.tool_calls]
        call = ToolCall(delta.id or "", delta.name or "", delta.arguments)
    else:
        (call,) = (await gemini.complete(request)).choices[0].message.tool_calls
    follow_up = (question, Message.assistant(None, (call,)),
                 Message.tool_result(call.id, '{"temp_c": 21}'))  # fmt: skip
    await gemini.complete(ChatRequest(model="gemini-3-pro-preview", messages=follow_up))

    model_turn = fake_upstream.requests[1].body["contents"][1]
    assert model_turn["parts"] == [{
        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
        "thoughtSignature": thinking.signature,
    }]  # fmt: skip
    answer = fake_upstream.requests[1].body["contents"][2]["parts"][0]["functionResponse"]
    assert answer["name"] == "get_weather"


async def test_gemini_3_takes_reasoning_effort_as_its_thinking_level(
    gemini: GeminiChatProvider, fake_upstream: FakeUpstream
) -> None:
    high = ChatRequest(model="gemini-3-pro-preview", messages=(Message.user("hi"),),
                       extra={"reasoning_effort": "high"})  # fmt: skip
    off = ChatRequest(model="gemini-3-pro-preview", messages=(Message.user("hi"),),
                      extra={"reasoning_effort": "none"})  # fmt: skip

    await gemini.complete(high)
    with pytest.raises(InvalidRequestError) as refused:
        await gemini.complete(off)

    sent = fake_upstream.requests[0].body["generationConfig"]["thinkingConfig"]
    assert sent == {"thinkingLevel": "high", "includeThoughts": True}
    assert refused.value.param == "reasoning_effort" and len(fake_upstream.requests) == 1
