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
from gateway_core.errors import ProviderError, UpstreamAuthError, UpstreamBadRequestError
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


@pytest.mark.parametrize("streamed", [False, True])
async def test_thought_parts_stay_out_of_the_answer_and_count_as_output(
    gemini: GeminiChatProvider, fake_upstream: FakeUpstream, streamed: bool
) -> None:
    fake_upstream.script(Thinking(text="Rayleigh.", completion_tokens=12, thought_tokens=5))
    request = ChatRequest(model="gemini-2.5-flash", messages=(Message.user("Why blue?"),))

    if streamed:
        chunks = [chunk async for chunk in gemini.stream(request)]
        text = "".join(chunk.content or "" for chunk in chunks)
        usage = chunks[-1].usage
    else:
        response = await gemini.complete(request)
        text, usage = response.choices[0].message.text, response.usage

    assert text == "Rayleigh."
    assert usage == Usage(prompt_tokens=11, completion_tokens=12)


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
