"""The response cache's key and policy: which requests may share an answer.

The key is a SHA-256 over a canonical JSON serialisation (sorted keys, no whitespace) of every
request field that changes the answer, plus the tenant, so that two tenants never see each
other's answers. Fields that do not change the answer (``stream``, ``user``, ``metadata``) are
left out: a streamed request may be answered by replaying a stored non-streamed answer.

A field the serialisation does not know (a new content part type) raises ``TypeError`` rather
than being skipped: a key that ignores part of the request would serve one client's answer to
a different question.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway_core.domain.chat import ChatRequest, ChatResponse
from gateway_core.domain.messages import ContentPart, ImagePart, Message, OpaquePart, TextPart
from gateway_core.domain.tools import NamedToolChoice, ToolChoice, ToolSpec

CACHE_KEY_VERSION = 1
"""Bump when the serialisation changes, so that old entries are never read with new meaning."""

_UNCACHEABLE_FINISH_REASONS = frozenset({"content_filter"})


def cache_key(request: ChatRequest, tenant: str) -> str:
    """The hex SHA-256 naming ``request``'s answer for ``tenant`` (a client key id)."""
    document = {"v": CACHE_KEY_VERSION, "tenant": tenant, "request": _answer_fields(request)}
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_cacheable(
    request: ChatRequest, *, only_deterministic: bool = True, cache_streams: bool = True
) -> bool:
    """Whether ``request``'s answer may be stored and served again.

    With ``only_deterministic`` (the default) only ``temperature == 0`` qualifies: a missing
    temperature means the vendor's default (1.0 at OpenAI), so sampling would differ. Several
    choices (``n > 1``) are never cached: they exist to get different answers.
    """
    if request.n != 1:
        return False
    if request.stream and not cache_streams:
        return False
    return not only_deterministic or request.temperature == 0


def is_storable(response: ChatResponse) -> bool:
    """Whether a completed answer is fit to serve again: it has choices, each one finished,
    and none was cut by a content filter (which may be a false positive worth retrying)."""
    if not response.choices:
        return False
    return all(
        choice.finish_reason is not None and choice.finish_reason not in _UNCACHEABLE_FINISH_REASONS
        for choice in response.choices
    )


@dataclass(frozen=True, slots=True)
class CacheUse:
    """What one request allows the cache to do: serve a stored answer, store the new one."""

    read: bool = True
    write: bool = True


def cache_use_from_header(cache_control: str | None) -> CacheUse:
    """Read a request's ``Cache-Control`` header the HTTP way.

    ``no-cache``: do not serve a stored answer, but the fresh one may be stored.
    ``no-store``: neither read nor write. Other directives are ignored.
    """
    if not cache_control:
        return CacheUse()
    directives = {part.strip().split("=", 1)[0].lower() for part in cache_control.split(",")}
    if "no-store" in directives:
        return CacheUse(read=False, write=False)
    if "no-cache" in directives:
        return CacheUse(read=False, write=True)
    return CacheUse()


def _answer_fields(request: ChatRequest) -> dict[str, Any]:
    fields = _modelled_answer_fields(request)
    if request.extra:
        # Unmodelled fields change the answer too (logprobs, reasoning_effort...); only added
        # when present, so keys of requests without them stay what they were.
        fields["extra"] = request.extra
        if request.drop_params:
            # An answer that dropped fields must not serve a request that wants them refused.
            fields["drop_params"] = True
    return fields


def _modelled_answer_fields(request: ChatRequest) -> dict[str, Any]:
    return {
        "model": request.model,
        "messages": [_message(message) for message in request.messages],
        "tools": [_tool(tool) for tool in request.tools],
        "tool_choice": _tool_choice(request.tool_choice),
        "temperature": _number(request.temperature),
        "top_p": _number(request.top_p),
        "max_tokens": request.max_tokens,
        "stop": list(request.stop),
        "n": request.n,
        "seed": request.seed,
        "response_format": request.response_format,
        "parallel_tool_calls": request.parallel_tool_calls,
    }


def _number(value: float | None) -> float | None:
    # 0, 0.0 and -0.0 are one temperature; JSON would spell them three ways.
    return None if value is None else float(value) + 0.0


def _message(message: Message) -> dict[str, Any]:
    content: str | list[dict[str, Any]] | None
    if message.content is None or isinstance(message.content, str):
        content = message.content
    else:
        content = [_part(part) for part in message.content]
    return {
        "role": message.role,
        "content": content,
        "name": message.name,
        "tool_calls": [[call.id, call.name, call.arguments] for call in message.tool_calls],
        "tool_call_id": message.tool_call_id,
    }


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        return {"type": "image_url", "url": part.url, "detail": part.detail}
    if isinstance(part, OpaquePart):
        return {"type": part.type, "body": part.body}
    raise TypeError(f"cache_key does not know the content part {type(part).__name__}")


def _tool(tool: ToolSpec) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "parameters": tool.parameters}


def _tool_choice(choice: ToolChoice | None) -> str | dict[str, str] | None:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "name": choice.name}
    return choice


def _plain(value: object) -> object:
    """``json.dumps`` fallback for read-only mappings (tool schemas, response formats)."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cache_key cannot serialise {type(value).__name__}")
