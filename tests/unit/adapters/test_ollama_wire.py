"""Ollama's wire translation against payloads in the shapes of its docs/api.md
(``POST /api/chat``). Pure: no sockets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway_adapters.providers.ollama.wire import (
    chat_body,
    decode_json,
    response_from_wire,
    stable_tool_call_id,
)
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import InvalidRequestError, UpstreamResponseError, UpstreamServerError

# The start of the llava example image in docs/api.md.
PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAG0AAABmCAYAAADBPx+VAAAACXBIWXMAAAsTAAALEwEAmpwYAAAAAXNSR0IArs4c6QAAAA"
    "RnQU1BAACxjwv8YQUAAA3VSURBVHgB"
)

WEATHER = ToolSpec(
    name="get_current_weather",
    description="Get the current weather for a location",
    parameters={
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "format": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location", "format"],
    },
)

# docs/api.md, "Chat request (No streaming)": the response.
PLAIN_RESPONSE = {
    "model": "llama3.2",
    "created_at": "2023-12-12T14:13:43.416799Z",
    "message": {"role": "assistant", "content": "Hello! How are you today?"},
    "done": True,
    "total_duration": 5191566416,
    "load_duration": 2154458,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 383809000,
    "eval_count": 298,
    "eval_duration": 4799921000,
}

# docs/api.md, "Chat request (with tools)": the response.
TOOL_RESPONSE = {
    "model": "llama3.2",
    "created_at": "2024-07-22T20:33:28.123648Z",
    "message": {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "function": {
                    "name": "get_current_weather",
                    "arguments": {"format": "celsius", "location": "Paris, FR"},
                }
            }
        ],
    },
    "done_reason": "stop",
    "done": True,
    "total_duration": 885095291,
    "load_duration": 3753500,
    "prompt_eval_count": 122,
    "prompt_eval_duration": 328493000,
    "eval_count": 33,
    "eval_duration": 552222000,
}


def request(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model="llama3.2", messages=messages or (Message.user("Hi"),), **fields)


def parse(payload: Any) -> Any:
    return response_from_wire(payload, response_id="r1", provider="ollama", fallback_model="m")


# --- request -------------------------------------------------------------------------------


def test_chat_body_matches_the_documented_request() -> None:
    body = chat_body(request(Message.user("why is the sky blue?")), stream=False)

    assert body == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "why is the sky blue?"}],
        "stream": False,
    }


def test_system_and_developer_both_become_system() -> None:
    body = chat_body(
        request(Message.system("Be brief."), Message(role="developer", content="No emoji.")),
        stream=True,
    )

    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "No emoji."},
    ]
    assert body["stream"] is True


def test_images_become_raw_base64_beside_the_text() -> None:
    content = (
        TextPart("what is in "),
        ImagePart(f"data:image/png;base64,{PNG_BASE64}"),
        TextPart("this image?"),
    )

    body = chat_body(request(Message.user(content)), stream=False)

    assert body["messages"] == [
        {"role": "user", "content": "what is in this image?", "images": [PNG_BASE64]}
    ]


@pytest.mark.parametrize(
    "url", ["https://example.com/cat.png", "data:image/png,rawbytes", "data:image/png;base64,"]
)
def test_images_Ollama_cannot_take_are_refused_with_the_param(url: str) -> None:
    message = Message.user((TextPart("look"), ImagePart(url)))

    with pytest.raises(InvalidRequestError) as caught:
        chat_body(request(Message.user("first"), message), stream=False)

    assert caught.value.param == "messages[1].content[1].image_url"


def test_tool_round_trip_request_uses_objects_and_tool_name() -> None:
    call = ToolCall(id="call_abc", name="get_current_weather", arguments='{"location": "Paris"}')
    messages = (
        Message.user("Weather in Paris?"),
        Message.assistant(None, (call,)),
        Message.tool_result("call_abc", "22 degrees"),
        Message.tool_result("call_unknown", "orphan"),
    )

    body = chat_body(request(*messages, tools=(WEATHER,)), stream=False)

    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_current_weather", "arguments": {"location": "Paris"}}}
            ],
        },
        {"role": "tool", "content": "22 degrees", "tool_name": "get_current_weather"},
        {"role": "tool", "content": "orphan"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather for a location",
                "parameters": dict(WEATHER.parameters),
            },
        }
    ]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
def test_tool_call_arguments_must_be_a_json_object(arguments: str) -> None:
    call = ToolCall(id="c1", name="f", arguments=arguments)

    with pytest.raises(InvalidRequestError) as caught:
        chat_body(request(Message.assistant(None, (call,))), stream=False)

    assert caught.value.param == "messages[0].tool_calls[0].function.arguments"


def test_tool_choice_none_offers_no_tools_and_a_named_choice_only_that_tool() -> None:
    other = ToolSpec(name="other")

    none = chat_body(request(tools=(WEATHER, other), tool_choice="none"), stream=False)
    named = chat_body(
        request(tools=(WEATHER, other), tool_choice=NamedToolChoice("other")), stream=False
    )

    assert "tools" not in none
    assert [tool["function"]["name"] for tool in named["tools"]] == ["other"]


def test_tool_choice_naming_an_absent_tool_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        chat_body(request(tools=(WEATHER,), tool_choice=NamedToolChoice("nope")), stream=False)

    assert caught.value.param == "tool_choice"


def test_sampling_parameters_go_into_options() -> None:
    sampling = request(temperature=0.0, top_p=0.9, seed=42, stop=("\n", "user:"), max_tokens=100)

    body = chat_body(sampling, stream=False)

    assert body["options"] == {
        "temperature": 0.0,
        "top_p": 0.9,
        "seed": 42,
        "stop": ["\n", "user:"],
        "num_predict": 100,
    }


def test_no_options_key_without_sampling_parameters() -> None:
    assert "options" not in chat_body(request(), stream=False)


SCHEMA = {
    "type": "object",
    "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
    "required": ["age", "available"],
}


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        ({"type": "json_object"}, "json"),
        ({"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}, SCHEMA),
    ],
)
def test_response_format_becomes_format(response_format: dict[str, Any], expected: Any) -> None:
    assert chat_body(request(response_format=response_format), stream=False)["format"] == expected


def test_text_response_format_sends_no_format() -> None:
    assert "format" not in chat_body(request(response_format={"type": "text"}), stream=False)


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        (
            {"type": "json_schema", "json_schema": {"name": "x"}},
            "response_format.json_schema.schema",
        ),
        ({"type": "xml"}, "response_format.type"),
    ],
)
def test_unusable_response_format_is_refused(response_format: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        chat_body(request(response_format=response_format), stream=False)

    assert caught.value.param == param


def test_more_than_one_choice_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        chat_body(request(n=2), stream=False)

    assert caught.value.param == "n"


def test_keep_alive_is_passed_when_configured() -> None:
    assert chat_body(request(), stream=False, keep_alive="10m")["keep_alive"] == "10m"
    assert "keep_alive" not in chat_body(request(), stream=False)


# --- response ------------------------------------------------------------------------------


def test_plain_response() -> None:
    response = parse(PLAIN_RESPONSE)

    [choice] = response.choices
    assert choice.message == Message.assistant("Hello! How are you today?")
    # The documented answer predates done_reason: done without a reason is a natural stop.
    assert (choice.finish_reason, choice.native_finish_reason) == ("stop", None)
    assert response.usage == Usage(prompt_tokens=26, completion_tokens=298)
    assert (response.id, response.model, response.provider) == ("r1", "llama3.2", "ollama")
    created = datetime(2023, 12, 12, 14, 13, 43, tzinfo=UTC)
    assert response.created == int(created.timestamp())


def test_tool_call_response_gets_json_text_and_a_stable_id() -> None:
    response = parse(TOOL_RESPONSE)

    [choice] = response.choices
    [call] = choice.message.tool_calls
    assert call.name == "get_current_weather"
    assert call.arguments == '{"format":"celsius","location":"Paris, FR"}'
    assert call.id == stable_tool_call_id(0, call.name, call.arguments)
    assert parse(TOOL_RESPONSE).choices[0].message.tool_calls[0].id == call.id
    assert choice.message.content is None
    assert (choice.finish_reason, choice.native_finish_reason) == ("tool_calls", "stop")


def test_stable_ids_differ_by_position_name_and_arguments() -> None:
    ids = {
        stable_tool_call_id(0, "f", "{}"),
        stable_tool_call_id(1, "f", "{}"),
        stable_tool_call_id(0, "g", "{}"),
        stable_tool_call_id(0, "f", '{"a":1}'),
    }

    assert len(ids) == 4
    assert all(id_.startswith("call_") and len(id_) == 29 for id_ in ids)
    assert all(int(id_[5:], 16) >= 0 for id_ in ids)


def test_an_id_sent_by_ollama_is_kept() -> None:
    payload = json.loads(json.dumps(TOOL_RESPONSE))
    payload["message"]["tool_calls"][0]["id"] = "call_from_ollama"

    assert parse(payload).choices[0].message.tool_calls[0].id == "call_from_ollama"


@pytest.mark.parametrize("done_reason", ["length", "stop", "unload", "brand_new_reason"])
def test_done_reason_passes_through(done_reason: str) -> None:
    choice = parse({**PLAIN_RESPONSE, "done_reason": done_reason}).choices[0]

    assert (choice.finish_reason, choice.native_finish_reason) == (done_reason, done_reason)


def test_missing_counts_are_zero() -> None:
    payload = {key: value for key, value in PLAIN_RESPONSE.items() if key != "prompt_eval_count"}

    assert parse(payload).usage == Usage(prompt_tokens=0, completion_tokens=298)


def test_model_falls_back_to_the_requested_one() -> None:
    payload = {key: value for key, value in PLAIN_RESPONSE.items() if key != "model"}

    assert parse(payload).model == "m"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"model": "m", "done": True},
        {"message": "text"},
        {"message": {"content": "", "tool_calls": {"function": {}}}},
        {"message": {"content": "", "tool_calls": [{"function": {"arguments": {}}}]}},
        {"message": {"content": "", "tool_calls": [{"function": {"name": "f", "arguments": 3}}]}},
        {**PLAIN_RESPONSE, "done_reason": 7},
    ],
)
def test_unusable_answers_are_response_errors(payload: Any) -> None:
    with pytest.raises(UpstreamResponseError) as caught:
        parse(payload)

    assert caught.value.provider == "ollama"


def test_an_error_body_is_a_server_error() -> None:
    with pytest.raises(UpstreamServerError):
        parse({"error": "llama runner process has terminated"})


def test_non_json_is_a_response_error() -> None:
    with pytest.raises(UpstreamResponseError):
        decode_json(b"<html>502 Bad Gateway</html>", provider="ollama")
