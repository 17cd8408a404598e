"""``/v1/responses`` through the official openai SDK, translated through the chat turn to a
Chat Completions upstream (``gpt-4o``) and to Anthropic (``claude-sonnet-...``)."""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from tests.e2e.conftest import VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Fault, Turn

TRANSLATED = [VENDOR_MODELS["openai"], VENDOR_MODELS["anthropic"]]
# Ollama has no tool call ids or image URLs: the streams are what it shares.
STREAMED = [*TRANSLATED, VENDOR_MODELS["ollama"]]

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False},
    "strict": True,
}  # fmt: skip


def _last_messages(upstream: FakeUpstream) -> list:
    return upstream.requests[-1].body["messages"]


@pytest.mark.parametrize("model", TRANSLATED)
def test_create_with_content_parts_and_instructions(
    client: openai.OpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    fake_upstream.script(Turn(text="A cat.", prompt_tokens=20, completion_tokens=3))
    response = client.responses.create(
        model=model,
        instructions="Be brief.",
        input=[{"role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "auto"},
        ]}],
    )  # fmt: skip
    assert response.status == "completed" and response.output_text == "A cat."
    assert response.usage is not None and response.usage.input_tokens == 20
    sent = json.dumps(fake_upstream.requests[-1].body)
    assert "Be brief." in sent and "What is this?" in sent and "https://example.com/cat.png" in sent


@pytest.mark.parametrize("model", TRANSLATED)
def test_a_tool_call_and_its_output_continue_the_loop(
    client: openai.OpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    fake_upstream.script(Turn(text=None, tool_calls=(("get_weather", {"city": "Paris"}),)),
                         Turn(text="Sunny in Paris."))  # fmt: skip
    first = client.responses.create(model=model, input="Weather in Paris?", tools=[WEATHER_TOOL])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert fake_upstream.requests[-1].body["tools"]
    second = client.responses.create(
        model=model,
        tools=[WEATHER_TOOL],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": calls[0].call_id, "name": "get_weather",
             "arguments": calls[0].arguments},
            {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"},
        ],
    )  # fmt: skip
    assert second.output_text == "Sunny in Paris."
    assert "sunny" in json.dumps(fake_upstream.requests[-1].body)
    assert calls[0].call_id in json.dumps(fake_upstream.requests[-1].body)


@pytest.mark.parametrize("model", STREAMED)
def test_stream_yields_the_typed_events(
    client: openai.OpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    fake_upstream.script(Turn(text="Hello there, streamed friend."))
    with client.responses.stream(model=model, input="Say hello") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in kinds and kinds[-1] == "response.completed"
    assert final.output_text == "Hello there, streamed friend."
    assert final.usage is not None and final.usage.output_tokens == 7


@pytest.mark.parametrize("model", STREAMED)
def test_stream_of_a_tool_call(client: openai.OpenAI, fake_upstream: FakeUpstream, model: str) -> None:
    fake_upstream.script(Turn(text=None, tool_calls=(("get_weather", {"city": "Oslo"}),)))
    with client.responses.stream(model=model, input="Oslo?", tools=[WEATHER_TOOL]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    call = final.output[-1]
    assert call.type == "function_call" and json.loads(call.arguments) == {"city": "Oslo"}


class Answer(BaseModel):
    city: str
    degrees: int


def test_parse_sends_the_schema_and_reads_the_answer(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text='{"city": "Rome", "degrees": 21}'))
    parsed = client.responses.parse(model=VENDOR_MODELS["openai"], input="Rome?", text_format=Answer)
    assert parsed.output_parsed == Answer(city="Rome", degrees=21)
    sent = fake_upstream.requests[-1].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Answer"
    assert sent["json_schema"]["strict"] is True


def test_previous_response_id_continues_and_reads_back(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="Nice to meet you, Ada."), Turn(text="Your name is Ada."))
    first = client.responses.create(model=VENDOR_MODELS["openai"], input="My name is Ada.")
    second = client.responses.create(
        model=VENDOR_MODELS["openai"], input="What is my name?", previous_response_id=first.id
    )
    assert second.output_text == "Your name is Ada."
    contents = [m["content"] for m in _last_messages(fake_upstream)]
    assert contents == ["My name is Ada.", "Nice to meet you, Ada.", "What is my name?"]
    assert client.responses.retrieve(second.id).output_text == "Your name is Ada."
    items = client.responses.input_items.list(second.id, order="asc")
    assert [item.type for item in items.data] == ["message"]
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


def test_built_in_tools_are_refused_by_name_when_translated(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=VENDOR_MODELS["anthropic"], input="news?",
                                tools=[{"type": "web_search"}])  # fmt: skip
    assert caught.value.body["param"] == "tools[0]" and "web_search" in caught.value.body["message"]  # type: ignore[index]


def test_store_false_keeps_nothing(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    response = client.responses.create(model=VENDOR_MODELS["openai"], input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_a_failure_mid_stream_is_an_error_event_then_failed(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="one two three four five", fault=Fault.DROP_MID_STREAM))
    events = list(client.responses.create(model=VENDOR_MODELS["openai"], input="go", stream=True))
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-2:] == ["error", "response.failed"]
    assert events[-2].code == "upstream_unreachable"  # type: ignore[union-attr]
