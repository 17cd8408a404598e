"""The official openai SDK, through the real gateway, reaches Azure OpenAI, Amazon Bedrock, the
Gemini API and Vertex AI (Gemini and Claude) models, on the fake upstream's Azure, Bedrock and
Google dialects over real sockets, and gets what it gets from an OpenAI model: the same
answers, streams, tool calls, usage, errors and embeddings. No key, client secret or token
shows in the gateway's logs or answers.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.contract.providers.test_chat_provider_contract import texts_sent
from tests.integration.cloud_gateway import CLOUDS, MODELS, OPENAI_KEY, QUESTION, WEATHER
from tests.support.fake_upstream import (
    FakeUpstream,
    Fault,
    Turn,
    azure_wire,
    bedrock_wire,
    gemini_wire,
)
from tests.support.gateway import GatewayProcess


@pytest.fixture
def client(cloud_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{cloud_gateway.url}/v1", api_key="unused", max_retries=0)


def _plain(client: openai.OpenAI, model: str) -> tuple[Any, ...]:
    completion = client.chat.completions.create(model=model, messages=QUESTION)
    choice = completion.choices[0]
    usage = completion.usage
    assert usage is not None
    return (choice.message.role, choice.message.content, choice.finish_reason,
            usage.prompt_tokens, usage.completion_tokens)  # fmt: skip


def _streamed(client: openai.OpenAI, model: str) -> tuple[Any, ...]:
    with client.chat.completions.stream(
        model=model, messages=QUESTION, stream_options={"include_usage": True}
    ) as stream:
        final = stream.get_final_completion()
    choice, usage = final.choices[0], final.usage
    assert usage is not None
    return (choice.message.role, choice.message.content, choice.finish_reason,
            usage.prompt_tokens, usage.completion_tokens)  # fmt: skip


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("ask", [_plain, _streamed], ids=["json", "stream"])
def test_an_answer_is_the_same_as_from_openai(
    client: openai.OpenAI, fake_upstream: FakeUpstream, cloud: str, ask: Any
) -> None:
    turn = Turn(text="Rayleigh scattering.", prompt_tokens=26, completion_tokens=4)
    fake_upstream.script(turn, turn)

    reference = ask(client, MODELS["openai"])
    answer = ask(client, MODELS[cloud])

    assert answer == reference == ("assistant", "Rayleigh scattering.", "stop", 26, 4)


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_tool_round_trip(
    client: openai.OpenAI, fake_upstream: FakeUpstream, cloud: str, stream: bool
) -> None:
    fake_upstream.script(
        Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)), Turn(text="Sunny.")
    )
    model = MODELS[cloud]
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]

    if stream:
        with client.chat.completions.stream(model=model, messages=messages, tools=[WEATHER]) as s:
            first = s.get_final_completion()
    else:
        first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])
    (call,) = first.choices[0].message.tool_calls or []
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
    ]
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])

    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Paris"},
    )
    assert second.choices[0].message.content == "Sunny."
    assert '{"temp_c": 21}' in texts_sent(fake_upstream.requests[1].body)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_rate_limit_is_the_sdk_s_rate_limit_error(
    client: openai.OpenAI, fake_upstream: FakeUpstream, cloud: str
) -> None:
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED), Turn(fault=Fault.RATE_LIMITED))

    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model=MODELS[cloud], messages=QUESTION)

    # Bedrock's throttling says nothing of when to come back; the others say 7 s.
    expected = None if cloud == "bedrock" else "7"
    assert raised.value.response.headers.get("retry-after") == expected


@pytest.mark.parametrize(
    "model",
    [
        "azure/text-embedding-3-small",
        "gemini/gemini-embedding-001",
        "bedrock/amazon.titan-embed-text-v2:0",
        "vertex_ai/text-embedding-005",
    ],
)
def test_embeddings(client: openai.OpenAI, model: str) -> None:
    answer = client.embeddings.create(model=model, input=["a", "bbb"])

    assert [len(item.embedding) for item in answer.data] == [4, 4]


def test_no_credential_shows_in_logs_or_answers(
    client: openai.OpenAI, cloud_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(*(Turn(fault=Fault.UNAUTHORIZED) for _ in CLOUDS))
    bodies = []
    for cloud in CLOUDS:
        with pytest.raises(openai.APIStatusError) as raised:
            client.chat.completions.create(model=MODELS[cloud], messages=QUESTION)
        bodies.append(raised.value.response.text + str(raised.value.response.headers))
    client.chat.completions.create(model=MODELS["azure-entra"], messages=QUESTION)
    client.chat.completions.create(model=MODELS["vertex"], messages=QUESTION)
    client.chat.completions.create(model=MODELS["bedrock"], messages=QUESTION)

    shown = cloud_gateway.logs() + "".join(bodies)
    secrets = [azure_wire.AZURE_KEY, azure_wire.CLIENT_SECRET, gemini_wire.GEMINI_KEY, OPENAI_KEY]
    secrets += [azure_wire.IDENTITY_HEADER]
    secrets += [bedrock_wire.SECRET_KEY, bedrock_wire.SESSION_TOKEN]
    secrets += azure_wire.TOKENS.issued + gemini_wire.TOKENS.issued
    private_key = gemini_wire.service_account_info("unused")["private_key"]
    # Each call refreshed first (see cloud_gateway): refreshed tokens are checked too.
    assert len(azure_wire.TOKENS.issued) >= 3 and len(gemini_wire.TOKENS.issued) >= 2
    assert not [secret for secret in secrets if secret in shown]
    assert private_key.splitlines()[1] not in shown


def test_models_lists_what_has_credentials(client: openai.OpenAI) -> None:
    listed = {model.id for model in client.models.list()}

    assert {"gpt-4o", "gemini-2.5-flash", "vertex-pro", "azure-gpt-4o"} <= listed
    assert "vertex-elsewhere" not in listed


@pytest.mark.parametrize("model", [MODELS["gemini"], "vertex_ai/gemini-2.5-flash"])
def test_gemini_thinking_through_the_openai_sdk(client: openai.OpenAI, fake_upstream: FakeUpstream,
                                                model: str) -> None:  # fmt: skip
    """reasoning_effort -> thinkingConfig; thoughts -> reasoning_content; thinking and cached
    tokens in the usage details, and priced (thoughts at the output price, as Google bills)."""
    thinking = gemini_wire.Thinking(text="Rayleigh.", prompt_tokens=100, cached_tokens=40,
                                    completion_tokens=30, thought_tokens=10)  # fmt: skip
    fake_upstream.script(thinking, thinking)
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=QUESTION, reasoning_effort="medium"
    )
    completion = raw.parse()
    with client.chat.completions.stream(
        model=model, messages=QUESTION, reasoning_effort="medium",
        stream_options={"include_usage": True},
    ) as stream:  # fmt: skip
        reasoning = "".join(
            getattr(event.chunk.choices[0].delta, "reasoning_content", None) or ""
            for event in stream
            if event.type == "chunk" and event.chunk.choices
        )
        streamed = stream.get_final_completion()

    sent = fake_upstream.requests[0].body["generationConfig"]["thinkingConfig"]
    assert sent == {"thinkingBudget": 8192, "includeThoughts": True}
    message = completion.choices[0].message
    assert message.content == "Rayleigh."
    assert getattr(message, "reasoning_content", None) == thinking.thought
    assert reasoning == thinking.thought
    for usage in (completion.usage, streamed.usage):
        assert usage is not None and usage.completion_tokens == 30
        assert usage.completion_tokens_details is not None
        assert usage.completion_tokens_details.reasoning_tokens == 10
        assert usage.prompt_tokens_details is not None
        assert usage.prompt_tokens_details.cached_tokens == 40
    # gemini-2.5-flash: $0.30 input, $0.03 cached input, $2.50 output per million tokens.
    expected = (60 * 0.30 + 40 * 0.03 + 30 * 2.50) / 1_000_000
    assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(expected)


def test_a_field_gemini_cannot_serve_is_refused_by_name(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODELS["gemini"], messages=QUESTION, logprobs=True)

    assert refused.value.body["param"] == "logprobs"  # type: ignore[index]
    assert "gemini" in refused.value.body["message"]  # type: ignore[index]


def test_an_azure_deployment_can_take_its_own_api_version(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    client.chat.completions.create(model="azure/gpt-4o", messages=QUESTION)
    client.chat.completions.create(model="azure/gpt-4o-v1", messages=QUESTION)

    classic, v1 = fake_upstream.requests
    assert classic.path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert v1.path == "/openai/v1/chat/completions" and v1.body["model"] == "gpt4o-next"
    assert v1.headers["api-key"] == azure_wire.AZURE_KEY


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_bedrock_guardrail_goes_with_every_call_and_its_intervention_is_content_filter(
    client: openai.OpenAI, fake_upstream: FakeUpstream, stream: bool
) -> None:
    fake_upstream.script(Turn(text="I cannot help with that.", finish="guardrail_intervened"))
    model = "bedrock-guarded/amazon.nova-pro-v1:0"

    if stream:  # (the SDK's stream helper raises on content_filter: read the chunks)
        chunks = client.chat.completions.create(model=model, messages=QUESTION, stream=True)
        finish = next(c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason)
    else:
        finish = client.chat.completions.create(model=model, messages=QUESTION).choices[0].finish_reason

    assert finish == "content_filter"
    assert fake_upstream.requests[0].body["guardrailConfig"] == {
        "guardrailIdentifier": "gr-0123abcd", "guardrailVersion": "3", "trace": "enabled",
    }  # fmt: skip


@pytest.mark.parametrize("cloud", ["azure", "gemini", "bedrock", "vertex-claude"])
def test_the_responses_door_reaches_the_clouds(
    client: openai.OpenAI, fake_upstream: FakeUpstream, cloud: str
) -> None:
    """/v1/responses, translated through the chat turn, for each cloud's format."""
    fake_upstream.script(Turn(text="Rayleigh scattering.", prompt_tokens=26, completion_tokens=4))

    response = client.responses.create(model=MODELS[cloud], input="Why is the sky blue?")

    assert response.output_text == "Rayleigh scattering."
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (26, 4)


def test_gemini_thought_signatures_survive_an_openai_sdk_tool_round_trip(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    thinking = gemini_wire.Thinking(text=None, tool_calls=(("get_weather", {"city": "Paris"}),))
    fake_upstream.script(thinking, Turn(text="Sunny."))
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]

    first = client.chat.completions.create(model=MODELS["gemini"], messages=messages, tools=[WEATHER])
    (call,) = first.choices[0].message.tool_calls or []
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'}]  # fmt: skip
    client.chat.completions.create(model=MODELS["gemini"], messages=messages, tools=[WEATHER])

    sent = fake_upstream.requests[1].body["contents"][1]["parts"][0]
    assert sent["thoughtSignature"] == thinking.signature


def test_claude_s_reasoning_on_bedrock_round_trips_through_the_openai_sdk(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        Turn(text=None, reasoning="Use the tool.", tool_calls=(("get_weather", {"city": "Paris"}),)),
        Turn(text="Sunny."),
    )
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    model = MODELS["bedrock"]

    first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER],
                                           reasoning_effort="low")  # fmt: skip
    message = first.choices[0].message
    (call,) = message.tool_calls or []
    messages += [message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'}]  # fmt: skip
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER],
                                            reasoning_effort="low")  # fmt: skip

    assert getattr(message, "reasoning_content", None) == "Use the tool."
    assert second.choices[0].message.content == "Sunny."
    returned = fake_upstream.requests[1].body["messages"][1]["content"][0]
    assert returned == {"reasoningContent": {"reasoningText": {
        "text": "Use the tool.", "signature": bedrock_wire.REASONING_SIGNATURE}}}  # fmt: skip
