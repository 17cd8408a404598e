"""Messages (and chat responses) to and from JSON-ready dicts in OpenAI's chat shape, for
every store that keeps them.

Pure functions: the stored form is readable with ``redis-cli`` and stable across releases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway_core.domain.chat import ChatResponse, Choice
from gateway_core.domain.messages import (
    NO_EXTRA,
    ContentPart,
    ImagePart,
    Message,
    OpaquePart,
    TextPart,
    ToolCall,
)
from gateway_core.domain.usage import Usage


def encode_message(message: Message) -> bytes:
    return msgspec.json.encode(message_to_dict(message))


def decode_message(raw: bytes | str) -> Message:
    return message_from_dict(msgspec.json.decode(raw))


def message_to_dict(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": _content_to_wire(message.content)}
    if message.name is not None:
        data["name"] = message.name
    if message.tool_calls:
        data["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        data["tool_call_id"] = message.tool_call_id
    # What the gateway does not model (refusal, thinking blocks...) is kept too.
    if message.reasoning_content is not None:
        data["reasoning_content"] = message.reasoning_content
    if message.extra:
        data["extra"] = dict(message.extra)
    return data


def message_from_dict(data: Mapping[str, Any]) -> Message:
    return Message(
        role=data["role"],
        content=_content_from_wire(data.get("content")),
        name=data.get("name"),
        tool_calls=tuple(
            ToolCall(id=c["id"], name=c["function"]["name"], arguments=c["function"]["arguments"])
            for c in data.get("tool_calls") or ()
        ),
        tool_call_id=data.get("tool_call_id"),
        reasoning_content=data.get("reasoning_content"),
        extra=data.get("extra") or NO_EXTRA,
    )


def _content_to_wire(content: str | tuple[ContentPart, ...] | None) -> Any:
    if content is None or isinstance(content, str):
        return content
    return [_part_to_wire(part) for part in content]


def _part_to_wire(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, OpaquePart):
        return {"type": part.type, part.type: dict(part.body)}
    image: dict[str, Any] = {"url": part.url}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _content_from_wire(content: Any) -> str | tuple[ContentPart, ...] | None:
    if content is None or isinstance(content, str):
        return content
    return tuple(_part_from_wire(part) for part in content)


def _part_from_wire(part: Mapping[str, Any]) -> ContentPart:
    if part["type"] == "text":
        return TextPart(part["text"])
    if part["type"] != "image_url":
        return OpaquePart(part["type"], part[part["type"]])
    image = part["image_url"]
    return ImagePart(url=image["url"], detail=image.get("detail"))


# Chat responses, for the response cache. The stored form follows OpenAI's response shape,
# plus the gateway's own fields (provider, cached tokens, native finish reason).


def encode_response(response: ChatResponse) -> bytes:
    return msgspec.json.encode(response_to_dict(response))


def decode_response(raw: bytes | str) -> ChatResponse:
    return response_from_dict(msgspec.json.decode(raw))


def response_to_dict(response: ChatResponse) -> dict[str, Any]:
    return {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": response.model,
        "provider": response.provider,
        "system_fingerprint": response.system_fingerprint,
        "choices": [_choice_to_dict(choice) for choice in response.choices],
        "usage": {
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
            "cached_tokens": response.usage.cached_tokens,
            "reasoning_tokens": response.usage.reasoning_tokens,
            "cache_write_tokens": response.usage.cache_write_tokens,
        },
        "extra": dict(response.extra),
        "dropped_params": list(response.dropped_params),
    }


def response_from_dict(data: Mapping[str, Any]) -> ChatResponse:
    usage = data.get("usage") or {}
    return ChatResponse(
        id=data["id"],
        model=data["model"],
        choices=tuple(_choice_from_dict(choice) for choice in data["choices"]),
        usage=Usage(
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            cached_tokens=usage.get("cached_tokens", 0),
            reasoning_tokens=usage.get("reasoning_tokens", 0),
            cache_write_tokens=usage.get("cache_write_tokens", 0),
        ),
        created=data.get("created", 0),
        provider=data.get("provider", ""),
        system_fingerprint=data.get("system_fingerprint"),
        extra=data.get("extra") or NO_EXTRA,
        dropped_params=tuple(data.get("dropped_params") or ()),
    )


def _choice_to_dict(choice: Choice) -> dict[str, Any]:
    return {
        "index": choice.index,
        "message": message_to_dict(choice.message),
        "finish_reason": choice.finish_reason,
        "native_finish_reason": choice.native_finish_reason,
        "extra": dict(choice.extra),
    }


def _choice_from_dict(data: Mapping[str, Any]) -> Choice:
    return Choice(
        message=message_from_dict(data["message"]),
        finish_reason=data.get("finish_reason"),
        index=data.get("index", 0),
        native_finish_reason=data.get("native_finish_reason"),
        extra=data.get("extra") or NO_EXTRA,
    )
