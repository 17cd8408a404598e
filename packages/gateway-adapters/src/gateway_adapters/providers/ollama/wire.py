"""Ollama's native chat API (``POST /api/chat``) to and from the gateway's domain types.

Pure functions, no I/O (streams: ``stream.py``). Shapes follow Ollama's
docs/api.md ("Generate a chat completion"). Where Ollama differs from OpenAI:

- images travel as a list of raw base64 strings beside the text, never as URLs;
- a tool result names its tool (``tool_name``), not the call it answers;
- tool-call arguments are JSON objects, not JSON text, and calls carry no ids, so ids are
  derived from the answer itself (the same answer gets the same ids, streamed or not);
- sampling parameters live in ``options``; ``max_tokens`` is ``num_predict``;
- fields the gateway does not model follow ``field_support.OLLAMA`` (``top_k`` and the
  penalties go into ``options``, ``reasoning_effort`` becomes ``think``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gateway_adapters.providers.ollama.errors import error_in_body
from gateway_core.domain.chat import ChatRequest, ChatResponse, Choice
from gateway_core.domain.messages import ImagePart, Message, OpaquePart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    InvalidRequestError,
    UnsupportedParameterError,
    UpstreamResponseError,
)

JSONObject = dict[str, Any]

# Ollama knows system, user, assistant and tool; OpenAI's developer role is its system role.
_ROLES = {"developer": "system"}


# --- request -------------------------------------------------------------------------------


def chat_body(
    request: ChatRequest,
    *,
    stream: bool,
    keep_alive: str | int | None = None,
    extras: Mapping[str, Any] | None = None,
) -> JSONObject:
    """The JSON body of ``POST /api/chat``; raises InvalidRequestError for what Ollama lacks."""
    if request.n != 1:
        raise InvalidRequestError("Ollama answers with one choice only: n must be 1.", param="n")
    body: JSONObject = {
        "model": request.model,
        "messages": messages_to_wire(request.messages),
        "stream": stream,
    }
    options = _options(request)
    think = None
    if extras:
        options.update((k, extras[k]) for k in _OPTION_EXTRAS if k in extras)
        think = _think(extras.get("reasoning_effort"))
    optional = {
        "tools": _tools_to_wire(request),
        "options": options,
        "think": think,
        "format": _format(request.response_format),
        "keep_alive": keep_alive,
    }
    body.update((key, value) for key, value in optional.items() if value not in (None, [], {}))
    return body


def messages_to_wire(messages: Sequence[Message]) -> list[JSONObject]:
    tool_names: dict[str, str] = {}
    wire: list[JSONObject] = []
    for position, message in enumerate(messages):
        wire.append(_message_to_wire(message, f"messages[{position}]", tool_names))
        tool_names.update((call.id, call.name) for call in message.tool_calls)
    return wire


def _message_to_wire(message: Message, param: str, tool_names: Mapping[str, str]) -> JSONObject:
    wire: JSONObject = {"role": _ROLES.get(message.role, message.role), "content": message.text}
    images = _images(message, param)
    if images:
        wire["images"] = images
    if message.tool_calls:
        wire["tool_calls"] = [
            _tool_call_to_wire(call, f"{param}.tool_calls[{index}].function.arguments")
            for index, call in enumerate(message.tool_calls)
        ]
    if message.role == "tool":
        name = tool_names.get(message.tool_call_id or "") or message.name
        if name:
            wire["tool_name"] = name
    return wire


def _images(message: Message, param: str) -> list[str]:
    if not isinstance(message.content, tuple):
        return []
    for index, part in enumerate(message.content):
        if isinstance(part, OpaquePart):
            raise UnsupportedParameterError(
                f"{part.type} content parts are not supported by Ollama models.",
                param=f"{param}.content[{index}].type",
            )
    return [
        _image_base64(part, f"{param}.content[{index}].image_url")
        for index, part in enumerate(message.content)
        if isinstance(part, ImagePart)
    ]


def _image_base64(part: ImagePart, param: str) -> str:
    header, comma, data = part.url.partition(",")
    if not header.lower().startswith("data:"):
        raise InvalidRequestError(
            "Ollama cannot fetch images by URL: send them inline as base64 data: URLs.",
            param=param,
        )
    if not comma or not header.lower().endswith(";base64") or not data:
        raise InvalidRequestError(
            "An image data URL must be base64 (data:<type>;base64,<data>).", param=param
        )
    return data


def _tool_call_to_wire(call: ToolCall, param: str) -> JSONObject:
    try:
        arguments = json.loads(call.arguments or "{}")
    except ValueError as error:
        raise InvalidRequestError("Tool call arguments must be JSON.", param=param) from error
    if not isinstance(arguments, dict):
        raise InvalidRequestError("Tool call arguments must be a JSON object.", param=param)
    return {"function": {"name": call.name, "arguments": arguments}}


def _tools_to_wire(request: ChatRequest) -> list[JSONObject]:
    # Ollama has no tool_choice: "none" is honoured by offering no tools, a named choice by
    # offering only that tool; "required" cannot be enforced and is sent like "auto".
    choice = request.tool_choice
    if choice == "none":
        return []
    tools = request.tools
    if isinstance(choice, NamedToolChoice):
        tools = tuple(tool for tool in tools if tool.name == choice.name)
        if not tools:
            raise InvalidRequestError(
                f"tool_choice names {choice.name!r}, which is not among the tools.",
                param="tool_choice",
            )
    return [_tool_to_wire(tool) for tool in tools]


def _tool_to_wire(tool: ToolSpec) -> JSONObject:
    function: JSONObject = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


_OPTION_EXTRAS = ("top_k", "frequency_penalty", "presence_penalty")


def _think(effort: Any) -> bool | str | None:
    """``reasoning_effort`` as Ollama's ``think``: off for none, the level (gpt-oss) otherwise."""
    if effort is None:
        return None
    if effort in ("none", "minimal"):
        return False
    if effort in ("low", "medium", "high"):
        return str(effort)
    raise InvalidRequestError(
        "reasoning_effort must be none, minimal, low, medium or high.", param="reasoning_effort"
    )


def _options(request: ChatRequest) -> JSONObject:
    options = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "stop": list(request.stop) or None,
        "num_predict": request.max_tokens,
    }
    return {key: value for key, value in options.items() if value is not None}


def _format(response_format: Mapping[str, Any] | None) -> str | JSONObject | None:
    if response_format is None or response_format.get("type") == "text":
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if isinstance(schema, Mapping):
            return dict(schema)
        raise InvalidRequestError(
            "response_format json_schema needs a 'schema' object.",
            param="response_format.json_schema.schema",
        )
    raise InvalidRequestError(
        f"response_format type {kind!r} is not supported.", param="response_format.type"
    )


# --- response ------------------------------------------------------------------------------


def decode_json(text: str | bytes, *, provider: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise unusable_answer(provider, "a body that is not valid JSON") from error


def response_from_wire(
    payload: Any, *, response_id: str, provider: str, fallback_model: str
) -> ChatResponse:
    """The ChatResponse for a non-streamed answer (``"stream": false``)."""
    payload = answer_object(payload, provider)
    message_payload = json_object(payload.get("message"), provider, "message")
    calls = tool_calls_from_wire(message_payload.get("tool_calls"), provider=provider)
    text = message_payload.get("content") or ""
    done_reason = done_reason_from_wire(payload, provider)
    choice = Choice(
        message=Message.assistant(text if text or not calls else None, calls),
        finish_reason=finish_reason(done_reason, has_tool_calls=bool(calls)),
        native_finish_reason=done_reason,
    )
    return ChatResponse(
        id=response_id,
        model=payload.get("model") or fallback_model,
        choices=(choice,),
        usage=usage_from_wire(payload),
        created=created_from_wire(payload.get("created_at")),
        provider=provider,
    )


def tool_calls_from_wire(
    raw: Any, *, provider: str, first_position: int = 0
) -> tuple[ToolCall, ...]:
    """Calls numbered from ``first_position``: their position in the whole answer."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise unusable_answer(provider, "tool_calls that are not a list")
    return tuple(
        _tool_call_from_wire(item, first_position + offset, provider)
        for offset, item in enumerate(raw)
    )


def _tool_call_from_wire(item: Any, position: int, provider: str) -> ToolCall:
    function = json_object(item, provider, "tool call").get("function")
    function = json_object(function, provider, "tool call function")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise unusable_answer(provider, "a tool call without a name")
    arguments = _arguments_json(function.get("arguments", {}), provider)
    # Recent Ollama versions may send an id; when they do it is the one to keep.
    upstream_id = item.get("id")
    if isinstance(upstream_id, str) and upstream_id:
        return ToolCall(id=upstream_id, name=name, arguments=arguments)
    call_id = stable_tool_call_id(position, name, arguments)
    return ToolCall(id=call_id, name=name, arguments=arguments)


def _arguments_json(arguments: Any, provider: str) -> str:
    if isinstance(arguments, str):
        return arguments
    if isinstance(arguments, Mapping):
        return json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    raise unusable_answer(provider, "tool arguments that are not an object")


def stable_tool_call_id(position: int, name: str, arguments: str) -> str:
    """An id derived from the call itself, so a streamed and a non-streamed copy agree."""
    digest = hashlib.sha256(json.dumps([position, name, arguments]).encode()).hexdigest()
    return f"call_{digest[:24]}"


def finish_reason(done_reason: str | None, *, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"  # Ollama says "stop" here; OpenAI clients look for tool_calls
    if done_reason is None:
        return "stop"  # older Ollama versions send done: true without a reason
    return done_reason  # "stop" and "length" are OpenAI's words already; others pass through


def usage_from_wire(payload: Mapping[str, Any]) -> Usage:
    # prompt_eval_count is absent when the whole prompt came from Ollama's KV cache.
    return Usage(
        prompt_tokens=_count(payload.get("prompt_eval_count")),
        completion_tokens=_count(payload.get("eval_count")),
    )


def created_from_wire(created_at: Any) -> int:
    try:
        return int(datetime.fromisoformat(created_at).timestamp())
    except (TypeError, ValueError):
        return 0


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def answer_object(payload: Any, provider: str) -> Mapping[str, Any]:
    checked: Mapping[str, Any] = json_object(payload, provider, "answer")
    if "error" in checked:
        raise error_in_body(checked["error"], provider=provider)
    return checked


def done_reason_from_wire(payload: Mapping[str, Any], provider: str) -> str | None:
    reason = payload.get("done_reason")
    if reason is None or isinstance(reason, str):
        return reason or None
    raise unusable_answer(provider, "a done_reason that is not text")


def json_object(value: Any, provider: str, what: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise unusable_answer(provider, f"a {what} that is not a JSON object")


def unusable_answer(provider: str, what: str) -> UpstreamResponseError:
    return UpstreamResponseError(f"{provider} sent {what}.", provider=provider)
