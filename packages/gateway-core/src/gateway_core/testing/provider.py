from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse, Choice, ToolCallDelta
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.usage import Usage


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted model turn: text, tool calls ``(name, arguments)``, or an error to raise."""

    text: str | None = None
    tool_calls: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    error: Exception | None = None
    finish_reason: str | None = None
    usage: Usage | None = None

    @property
    def message(self) -> Message:
        calls = tuple(
            ToolCall(id=f"call_{index}", name=name, arguments=json.dumps(arguments))
            for index, (name, arguments) in enumerate(self.tool_calls)
        )
        return Message.assistant(self.text, calls)


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


@dataclass
class ScriptedProvider:
    """A ``ChatProvider`` that plays back ``replies`` in order; when the script runs out it
    repeats ``default`` (by default: echo the last user message)."""

    name: str = "scripted"
    replies: Iterable[Reply] = ()
    default: Reply | None = None
    requests: list[ChatRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: deque[Reply] = deque(self.replies)

    def script(self, *replies: Reply) -> None:
        self._script.extend(replies)

    def _next(self, request: ChatRequest) -> Reply:
        self.requests.append(request)
        if self._script:
            reply = self._script.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            last_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
            reply = Reply(text=last_user.text if last_user else "")
        if reply.error is not None:
            raise reply.error
        return reply

    @staticmethod
    def _usage(request: ChatRequest, reply: Reply) -> Usage:
        if reply.usage is not None:
            return reply.usage
        prompt = sum(_estimate_tokens(m.text) for m in request.messages)
        return Usage(prompt_tokens=prompt, completion_tokens=_estimate_tokens(reply.text or ""))

    @staticmethod
    def _finish_reason(reply: Reply) -> str:
        return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")

    async def complete(self, request: ChatRequest) -> ChatResponse:
        reply = self._next(request)
        choice = Choice(message=reply.message, finish_reason=self._finish_reason(reply))
        return ChatResponse(
            id=f"scripted-{len(self.requests)}",
            model=request.model,
            choices=(choice,),
            usage=self._usage(request, reply),
            provider=self.name,
        )

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        reply = self._next(request)
        yield ChatChunk(role="assistant", content="", model=request.model)
        if reply.text:
            words = reply.text.split(" ")
            for position, word in enumerate(words):
                yield ChatChunk(content=word if position == 0 else " " + word)
        for index, call in enumerate(reply.message.tool_calls):
            yield ChatChunk(
                tool_calls=(ToolCallDelta(index=index, id=call.id, name=call.name),)
            )
            yield ChatChunk(tool_calls=(ToolCallDelta(index=index, arguments=call.arguments),))
        yield ChatChunk(finish_reason=self._finish_reason(reply))
        yield ChatChunk(usage=self._usage(request, reply))
