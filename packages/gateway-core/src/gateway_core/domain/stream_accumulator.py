"""Chunks in, a complete answer out: the one place a streamed answer is put back together.

Every stream the gateway relays goes through a ``StreamAccumulator`` (plain streams, each
round of the tool loop, a cached answer replayed as a stream), so no caller rebuilds a
``ChatResponse`` from chunks by hand: text in order, tool calls by their ``index`` (a call's
id and name come from its first fragment that has them, its arguments are the fragments
joined), the last finish reason and usage reported, the model and provider that answered,
and Anthropic's whole thinking blocks (``delta_extra["thinking_blocks"]``), which must go back
with the turn (a session's history, the tool loop's next round) for Anthropic to accept it.
"""

from __future__ import annotations

from typing import Any

from gateway_core.domain.chat import ChatChunk, ChatResponse, Choice, ToolCallDelta
from gateway_core.domain.messages import NO_EXTRA, Message, ToolCall
from gateway_core.domain.usage import Usage


class _CallParts:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []


class StreamAccumulator:
    """Add chunks as they pass; ask for ``message()`` or ``response()`` at any point."""

    __slots__ = (
        "_calls",
        "_text",
        "_thinking",
        "finish_reason",
        "model",
        "native_finish_reason",
        "provider",
        "started",
        "usage",
    )

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[int, _CallParts] = {}
        self._thinking: list[Any] | None = None
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None
        self.usage = Usage()
        self.model: str | None = None
        self.provider: str | None = None
        self.started = False
        """Whether any chunk arrived: a stream that produced nothing is not billed."""

    def add(self, chunk: ChatChunk) -> None:
        self.started = True
        if self.model is None:
            self.model = chunk.model
        if self.provider is None:
            self.provider = chunk.provider
        if chunk.content:
            self._text.append(chunk.content)
        for delta in chunk.tool_calls:
            self._add_call_delta(delta)
        if chunk.delta_extra and "thinking_blocks" in chunk.delta_extra:
            self._thinking = [*(self._thinking or ()), *chunk.delta_extra["thinking_blocks"]]
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
            self.native_finish_reason = chunk.native_finish_reason
        if chunk.usage is not None:
            # Providers report a stream's usage once, at its end: the last report wins.
            self.usage = chunk.usage

    def _add_call_delta(self, delta: ToolCallDelta) -> None:
        parts = self._calls.get(delta.index)
        if parts is None:
            parts = self._calls[delta.index] = _CallParts()
        # Some providers repeat id and name in every fragment: the first one counts.
        parts.id = parts.id or delta.id
        parts.name = parts.name or delta.name
        parts.arguments.append(delta.arguments)

    def message(self) -> Message:
        calls = tuple(
            ToolCall(parts.id or f"call_{index}", parts.name or "", "".join(parts.arguments))
            for index, parts in sorted(self._calls.items())
        )
        text = "".join(self._text) or None
        if self._thinking is None:
            return Message.assistant(text, calls)
        extra = {"thinking_blocks": self._thinking} if self._thinking else NO_EXTRA
        return Message("assistant", text, tool_calls=calls, extra=extra)

    def generated_chars(self) -> int:
        """How much the model wrote (text and tool arguments): to estimate unreported usage."""
        arguments = sum(len(part) for call in self._calls.values() for part in call.arguments)
        return sum(len(text) for text in self._text) + arguments

    def response(self, requested_model: str, usage: Usage | None = None) -> ChatResponse:
        """The answer so far; ``usage`` replaces the reported one (an estimate, a sum of
        rounds). ``id`` is empty: the front door names the answer."""
        choice = Choice(self.message(), self.finish_reason, 0, self.native_finish_reason)
        return ChatResponse(
            id="",
            model=self.model or requested_model,
            choices=(choice,),
            usage=self.usage if usage is None else usage,
            provider=self.provider or "",
        )
