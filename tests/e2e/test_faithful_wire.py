"""Faithful on the wire (issue 12), through the clients people use: the official openai SDK,
LangChain's ChatOpenAI and OpenAIEmbeddings, and pydantic-ai, in front of the fake OpenAI
upstream that records what it receives. What the gateway does not model reaches the upstream
as sent and comes back to the client as the upstream returned it."""

from __future__ import annotations

from pathlib import Path

import openai
import pydantic
import pytest
import tiktoken.load
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.gateway import GatewayProcess
from tests.support.tiktoken_offline import fill_cache

HELLO = [{"role": "user", "content": "Hello"}]

# Fields the gateway does not model: each must reach an OpenAI-format upstream as sent.
UNMODELLED = {
    "reasoning_effort": "low",
    "logprobs": True,
    "top_logprobs": 2,
    "frequency_penalty": 0.5,
    "presence_penalty": 0.25,
    "logit_bias": {"50256": -100},
    "service_tier": "flex",
    "store": False,
    "verbosity": "low",
    "prediction": {"type": "content", "content": "Hello"},
}


def _sent(fake_upstream: FakeUpstream) -> dict:
    (request,) = [r for r in fake_upstream.requests if r.path.endswith("/chat/completions")]
    return request.body


def test_unmodelled_request_fields_arrive_as_sent(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    client.chat.completions.create(
        model="gpt-4o",
        messages=HELLO,
        max_completion_tokens=64,
        extra_body={"top_k": 5, "x_vendor_option": {"nested": [1, 2]}},
        **UNMODELLED,  # type: ignore[arg-type]
    )
    sent = _sent(fake_upstream)
    assert {name: sent.get(name) for name in UNMODELLED} == UNMODELLED
    assert sent["top_k"] == 5
    assert sent["x_vendor_option"] == {"nested": [1, 2]}
    assert sent["max_completion_tokens"] == 64
    assert "max_tokens" not in sent  # OpenAI's reasoning models refuse it


def test_gateway_owned_fields_stay_at_the_gateway(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    client.chat.completions.create(
        model="gpt-4o",
        messages=HELLO,
        extra_body={"gateway": {"cache": "no-store"}, "top_k": 3},
    )
    sent = _sent(fake_upstream)
    assert "gateway" not in sent
    assert sent["top_k"] == 3


def test_a_forbidden_field_is_refused_by_name(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="gpt-4o", messages=HELLO, extra_body={"api_base": "http://elsewhere"}
        )
    assert refused.value.body["param"] == "api_base"  # type: ignore[index]


def test_legacy_functions_are_forwarded(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    functions = [{"name": "get_weather", "parameters": {"type": "object", "properties": {}}}]
    client.chat.completions.create(
        model="gpt-4o", messages=HELLO, functions=functions, function_call={"name": "get_weather"}
    )
    sent = _sent(fake_upstream)
    assert sent["functions"] == functions
    assert sent["function_call"] == {"name": "get_weather"}


def test_response_fields_reach_the_client(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        Turn(
            text="Hello there",
            reasoning="The user greets me.",
            reasoning_tokens=5,
            message_fields=(("x_vendor_note", {"kept": True}),),
        )
    )
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO, logprobs=True)
    choice = completion.choices[0]
    assert choice.message.content == "Hello there"
    assert choice.message.annotations == []
    extra = choice.message.model_extra or {}
    assert extra["reasoning_content"] == "The user greets me."
    assert extra["x_vendor_note"] == {"kept": True}
    assert choice.logprobs is not None and choice.logprobs.content is not None
    assert [entry.token for entry in choice.logprobs.content] == ["Hello", " there"]
    assert completion.service_tier == "default"
    assert completion.system_fingerprint == "fp_fake0001"
    assert completion.usage is not None and completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 5


class Weather(pydantic.BaseModel):
    city: str


def test_a_refusal_reaches_the_sdks_parse(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text=None, refusal="I can't help with that."))
    parsed = client.chat.completions.parse(model="gpt-4o", messages=HELLO, response_format=Weather)
    message = parsed.choices[0].message
    assert message.refusal == "I can't help with that."
    assert message.parsed is None


def test_reasoning_sent_back_reaches_the_upstream(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    history = [
        *HELLO,
        {"role": "assistant", "content": "Hi!", "reasoning_content": "A greeting."},
        {"role": "user", "content": "How are you?"},
    ]
    client.chat.completions.create(model="gpt-4o", messages=history)  # type: ignore[arg-type]
    assert _sent(fake_upstream)["messages"][1] == {
        "role": "assistant",
        "content": "Hi!",
        "reasoning_content": "A greeting.",
    }


def test_token_id_embeddings(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    many = client.embeddings.create(model="text-embedding-3-small", input=[[9906, 1917], [1, 2, 3]])
    one = client.embeddings.create(model="text-embedding-3-small", input=[9906, 1917])
    assert [len(item.embedding) for item in many.data] == [4, 4]
    # The fake's first component is the input's length: the ids arrived as lists, in order.
    assert [item.embedding[0] for item in many.data] == [2.0, 3.0]
    assert len(one.data) == 1
    bodies = [r.body for r in fake_upstream.requests]
    assert [body["input"] for body in bodies] == [[[9906, 1917], [1, 2, 3]], [[9906, 1917]]]


def test_embedding_options_are_forwarded(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    client.embeddings.create(
        model="text-embedding-3-small", input="x", dimensions=4, user="u-1", encoding_format="float"
    )
    body = fake_upstream.requests[-1].body
    assert (body["dimensions"], body["user"], body["encoding_format"]) == (4, "u-1", "float")


@pytest.mark.parametrize(
    ("name", "owner"),
    [("gpt-4o", "fake-openai"), ("claude", "fake-anthropic"), ("ollama/qwen3:8b", "fake-ollama")],
)
def test_models_retrieve_every_routable_name(client: openai.OpenAI, name: str, owner: str) -> None:
    model = client.models.retrieve(name)
    assert (model.id, model.owned_by) == (name, owner)


def test_models_retrieve_an_unknown_name_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("no-such-model")
    assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_langchain_reasoning_model_with_max_tokens(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    llm = ChatOpenAI(
        model="o3-mini", max_tokens=256, base_url=f"{e2e_gateway.url}/v1", api_key="k", max_retries=0
    )
    answer = llm.invoke("Hello")
    assert answer.content == "Hello from the fake upstream."
    sent = _sent(fake_upstream)
    assert sent["max_completion_tokens"] == 256
    assert "max_tokens" not in sent


def test_langchain_embeddings_with_default_settings(
    e2e_gateway: GatewayProcess,
    fake_upstream: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill_cache(tmp_path / "tiktoken")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))

    def no_download(url: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {url}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_download)
    embeddings = OpenAIEmbeddings(
        model="text-embedding-3-small", base_url=f"{e2e_gateway.url}/v1", api_key="k", max_retries=0
    )
    vectors = embeddings.embed_documents(["Hello world", "rate limiting"])
    assert [len(vector) for vector in vectors] == [4, 4]
    sent = fake_upstream.requests[-1].body["input"]
    assert all(isinstance(ids, list) and all(isinstance(i, int) for i in ids) for ids in sent)


def test_pydantic_ai_settings_arrive(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    provider = OpenAIProvider(base_url=f"{e2e_gateway.url}/v1", api_key="k")
    agent = Agent(OpenAIChatModel("gpt-4o", provider=provider))
    result = agent.run_sync(
        "Hello",
        model_settings={"max_tokens": 50, "frequency_penalty": 0.5, "extra_body": {"top_k": 5}},
    )
    assert result.output == "Hello from the fake upstream."
    sent = _sent(fake_upstream)
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 50
    assert (sent["frequency_penalty"], sent["top_k"]) == (0.5, 5)


def test_custom_tools_and_allowed_tools_reach_openai(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    function_tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
    custom_tool = {"type": "custom", "custom": {"name": "run_sql", "description": "SQL"}}
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {"mode": "auto", "tools": [{"type": "custom", "custom": {"name": "run_sql"}}]},
    }
    client.chat.completions.create(
        model="gpt-4o", messages=HELLO, tools=[function_tool, custom_tool], tool_choice=choice  # type: ignore[list-item, arg-type]
    )
    sent = _sent(fake_upstream)
    assert sent["tools"] == [function_tool, custom_tool]
    assert sent["tool_choice"] == choice


def test_custom_tools_are_refused_by_name_by_anthropic(client: openai.OpenAI) -> None:
    custom_tool = {"type": "custom", "custom": {"name": "run_sql"}}
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="claude-sonnet-4-5-20250929", messages=HELLO, tools=[custom_tool]  # type: ignore[list-item]
        )
    assert refused.value.body["param"] == "tools"  # type: ignore[index]


def test_a_cached_answer_keeps_the_fields_the_gateway_does_not_model(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="Hello there", reasoning="A greeting.", reasoning_tokens=3))
    ask = {"model": "gpt-4o", "messages": HELLO, "temperature": 0, "logprobs": True,
           "extra_body": {"x_cache_probe": "faithful"}}  # fmt: skip
    first = client.chat.completions.create(**ask)  # type: ignore[call-overload]
    again = client.chat.completions.create(**ask)  # type: ignore[call-overload]
    assert len(fake_upstream.requests) == 1, "the second answer comes from the response cache"
    for completion in (first, again):
        choice = completion.choices[0]
        assert (choice.message.model_extra or {})["reasoning_content"] == "A greeting."
        assert choice.logprobs is not None and choice.logprobs.content
        assert completion.service_tier == "default"
        assert completion.usage.completion_tokens_details.reasoning_tokens == 3  # type: ignore[union-attr]
