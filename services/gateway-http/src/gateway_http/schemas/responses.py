"""The subset of OpenAI's Responses API that consumers use: text in, text out.

A consumer sends ``{"model", "input": "<system>\\n\\n<prompt>", "temperature",
"max_output_tokens"}`` and reads ``output[0].content[0].text``; ``input`` may also be a list
of ``{"role", "content"}`` messages, and ``instructions`` becomes a system message. The turn
runs through the same chat path (routing, controls, cost) as ``/v1/chat/completions``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from gateway_core.domain.chat import ChatRequest, ChatResponse
from gateway_core.domain.messages import Message
from gateway_http.schemas.json_body import decode_body


class InputMessage(Struct):
    role: Literal["system", "developer", "user", "assistant"]
    content: str


class ResponsesBody(Struct, kw_only=True):
    model: Annotated[str, Meta(min_length=1)]
    input: Annotated[str, Meta(min_length=1)] | Annotated[list[InputMessage], Meta(min_length=1)]
    instructions: str | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_output_tokens: Annotated[int, Meta(ge=1)] | None = None
    user: str | None = None


_decoder = msgspec.json.Decoder(ResponsesBody)


def decode_responses_body(raw: bytes) -> ResponsesBody:
    return decode_body(_decoder, raw)


def to_chat_request(body: ResponsesBody) -> ChatRequest:
    messages: list[Message] = []
    if body.instructions:
        messages.append(Message.system(body.instructions))
    if isinstance(body.input, str):
        messages.append(Message.user(body.input))
    else:
        messages.extend(Message(m.role, m.content) for m in body.input)
    return ChatRequest(
        model=body.model,
        messages=tuple(messages),
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_output_tokens,
        user=body.user,
    )


def response_body(response: ChatResponse, response_id: str, created_at: int) -> dict[str, Any]:
    choice = response.choices[0]
    text = choice.message.text
    incomplete = choice.finish_reason == "length"
    return {
        "id": f"resp_{response_id}",
        "object": "response",
        "created_at": created_at,
        "model": response.model,
        "status": "incomplete" if incomplete else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "output": [
            {
                "type": "message",
                "id": f"msg_{response_id}",
                "status": "incomplete" if incomplete else "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": response.usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": response.usage.cached_tokens},
            "output_tokens": response.usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": response.usage.total_tokens,
        },
    }
