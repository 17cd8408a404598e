"""The official openai SDK against the real server on its shipped configuration."""

from __future__ import annotations

import openai
import pytest

from tests.support.gateway import GatewayProcess


@pytest.fixture
def client(echo_gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{echo_gateway.url}/v1", api_key="unused", max_retries=0)


MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello to the gateway"},
]


def test_non_stream_completion(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="echo", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "echo"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Say hello to the gateway"
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_stream_reassembled_by_the_sdk_with_usage(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model="echo", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Say hello to the gateway"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens > 0


def test_raw_stream_ends_with_done_and_has_one_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="echo", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert len({chunk.id for chunk in chunks}) == 1
    assert [c.usage is not None for c in chunks].count(True) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Say hello to the gateway"


def test_stream_without_include_usage_sends_no_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="echo", messages=MESSAGES, stream=True))
    assert all(chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_models_list_shows_the_echo_model_labelled(client: openai.OpenAI) -> None:
    models = {model.id: model for model in client.models.list()}
    assert "echo" in models
    assert "no LLM" in (models["echo"].model_extra or {}).get("description", "")


def test_unknown_model_raises_not_found_with_the_gateways_message(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert "no-such-model" in caught.value.message
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_unknown_model_on_a_stream_is_a_404_not_a_broken_stream(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=MESSAGES, stream=True)
