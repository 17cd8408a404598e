"""A provider with no model behind it, for trying the gateway out: it repeats the last user
message. It needs no key and no network, and ``/v1/models`` labels it as such."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse, Choice
from gateway_core.domain.messages import Message
from gateway_core.domain.usage import Usage

_CHARS_PER_TOKEN = 4


def _tokens(text: str) -> int:
    return (len(text) + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN


class EchoChatProvider:
    """Answers with the text of the last user message, cut to ``max_tokens`` (estimated)."""

    def __init__(self, name: str = "echo") -> None:
        self.name = name

    @staticmethod
    def _answer(request: ChatRequest) -> tuple[str, str, Usage]:
        last_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
        text = last_user.text if last_user else ""
        finish_reason = "stop"
        if request.max_tokens is not None and _tokens(text) > request.max_tokens:
            text = text[: request.max_tokens * _CHARS_PER_TOKEN]
            finish_reason = "length"
        prompt = sum(_tokens(m.text) for m in request.messages)
        return text, finish_reason, Usage(prompt_tokens=prompt, completion_tokens=_tokens(text))

    async def complete(self, request: ChatRequest) -> ChatResponse:
        text, finish_reason, usage = self._answer(request)
        return ChatResponse(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            model=request.model,
            created=int(time.time()),
            choices=(Choice(message=Message.assistant(text), finish_reason=finish_reason),),
            usage=usage,
            provider=self.name,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        text, finish_reason, usage = self._answer(request)
        yield ChatChunk(role="assistant", content="", model=request.model)
        words = text.split(" ") if text else []
        for position, word in enumerate(words):
            yield ChatChunk(content=word if position == 0 else " " + word)
        yield ChatChunk(finish_reason=finish_reason)
        yield ChatChunk(usage=usage)
