"""The turn's answer as a Responses API ``response`` object. Pure.

Shape and field names follow the openai SDK's ``Response`` type: ``output`` holds a
``reasoning`` item first when the model reasoned (see ``reasoning``), a ``message`` item
(``output_text`` parts) when the model wrote text and one ``function_call`` item per tool
call; a cut answer is ``incomplete`` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway_core.domain.chat import ChatResponse
from gateway_core.domain.messages import ToolCall
from gateway_core.domain.usage import Usage
from gateway_http.responses_api.reasoning import message_reasoning, reasoning_item

_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}

_ECHOED = ("instructions", "max_output_tokens", "temperature", "top_p", "user",
           "previous_response_id")  # fmt: skip


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [text_part(text)],
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(item_id: str, call: ToolCall, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "status": status,
    }


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens,
                                 "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def output_items(response: ChatResponse, response_id: str) -> list[dict[str, Any]]:
    message = response.choices[0].message
    items: list[dict[str, Any]] = []
    text, blocks = message_reasoning(message)
    if text or blocks:
        items.append(reasoning_item(f"rs_{response_id}", text, blocks))
    if message.text or not message.tool_calls:
        items.append(message_item(f"msg_{response_id}", message.text))
    for number, call in enumerate(message.tool_calls):
        items.append(function_call_item(f"fc_{response_id}_{number}", call))
    return items


def response_object(
    request: Mapping[str, Any],
    response_id: str,
    created_at: int,
    *,
    model: str,
    status: str = "in_progress",
    output: list[dict[str, Any]] | None = None,
    usage: Usage | None = None,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """The ``response`` object; ``request`` is the client's body (its settings are echoed)."""
    reason = _INCOMPLETE_REASONS.get(finish_reason or "")
    if status == "completed" and reason is not None:
        status = "incomplete"
    text = request.get("text") or {"format": {"type": "text"}}
    body: dict[str, Any] = {
        "id": f"resp_{response_id}",
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": reason} if status == "incomplete" else None,
        "model": model,
        "output": output or [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools") or [],
        "text": text,
        "reasoning": request.get("reasoning") or {"effort": None, "summary": None},
        "truncation": request.get("truncation") or "disabled",
        "store": request.get("store", True),
        "metadata": request.get("metadata") or {},
        "usage": usage_body(usage) if usage is not None else None,
    }
    for name in _ECHOED:
        body[name] = request.get(name)
    return body


def completed_response(
    request: Mapping[str, Any], response: ChatResponse, response_id: str, created_at: int
) -> dict[str, Any]:
    return response_object(
        request,
        response_id,
        created_at,
        model=response.model,
        status="completed",
        output=output_items(response, response_id),
        usage=response.usage,
        finish_reason=response.choices[0].finish_reason,
    )
