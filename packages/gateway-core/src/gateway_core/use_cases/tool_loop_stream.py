"""The streaming side of the tool loop: ``RoundAssembly`` turns each round's model stream into
what the client sees and assembles the round's assistant message from the fragments;
``ToolLoopStream`` is what ``ToolLoop.stream`` returns."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway_core.domain.chat import ChatChunk, ChatResponse, Choice, ToolCallDelta
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.usage import Usage

if TYPE_CHECKING:
    from gateway_core.use_cases.tool_loop import ToolLoopResult


@dataclass
class _CallParts:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)


class RoundAssembly:
    """One model stream: forwards its text, keeps its tool calls, finish reason and usage.

    Forwarded chunks carry only role and content. Exactly one role chunk reaches the client
    over all rounds; ``separator`` is put before a later round's first text when text was
    forwarded before, so the rounds' texts do not run together.
    """

    def __init__(self, *, first_round: bool, separator: str = "", text_sent: bool = False) -> None:
        self._role_sent = not first_round
        self._pending_separator = separator if text_sent else ""
        self._text_sent = text_sent
        self._text: list[str] = []
        self._calls: dict[int, _CallParts] = {}
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None
        self.usage = Usage()
        self.model: str | None = None

    def next_round(self, *, separator: str) -> RoundAssembly:
        return RoundAssembly(first_round=False, separator=separator, text_sent=self._text_sent)

    def add(self, chunk: ChatChunk) -> ChatChunk | None:
        """Take one chunk of the model's stream; return what the client should get, if any."""
        self.model = self.model or chunk.model
        for delta in chunk.tool_calls:
            self._add_call_delta(delta)
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
            self.native_finish_reason = chunk.native_finish_reason
        if chunk.usage is not None:
            # Providers report a stream's usage once, at its end: the last report wins.
            self.usage = chunk.usage
        return self._visible(chunk)

    def _add_call_delta(self, delta: ToolCallDelta) -> None:
        parts = self._calls.setdefault(delta.index, _CallParts())
        # Some providers repeat id and name in every fragment: the first one counts.
        parts.id = parts.id or delta.id
        parts.name = parts.name or delta.name
        parts.arguments.append(delta.arguments)

    def _visible(self, chunk: ChatChunk) -> ChatChunk | None:
        content = chunk.content or None
        if content is not None:
            self._text.append(content)
            content = self._pending_separator + content
            self._pending_separator = ""
            self._text_sent = True
        role = None if self._role_sent else (chunk.role or ("assistant" if content else None))
        if role is None and content is None:
            return None
        self._role_sent = self._role_sent or role is not None
        if role is not None:
            content = content or ""  # a role chunk carries "" as OpenAI's first chunk does
        return ChatChunk(role=role, content=content, model=chunk.model)

    def message(self) -> Message:
        calls = tuple(
            ToolCall(parts.id or f"call_{index}", parts.name or "", "".join(parts.arguments))
            for index, parts in sorted(self._calls.items())
        )
        text = "".join(self._text)
        return Message.assistant(text or None, calls)

    def response(self, requested_model: str) -> ChatResponse:
        choice = Choice(self.message(), self.finish_reason, 0, self.native_finish_reason)
        model = self.model or requested_model
        return ChatResponse(id="", model=model, choices=(choice,), usage=self.usage)

    def closing_chunks(self, final: ChatResponse) -> Iterator[ChatChunk]:
        """The end of the client's stream: a role chunk if none was sent yet, the final turn's
        tool calls (a client tool turn), one finish chunk, one usage chunk for all rounds."""
        choice = final.choices[0]
        if not self._role_sent:
            self._role_sent = True
            yield ChatChunk(role="assistant", content="", model=final.model)
        for index, call in enumerate(choice.message.tool_calls):
            delta = ToolCallDelta(index=index, id=call.id, name=call.name, arguments=call.arguments)
            yield ChatChunk(tool_calls=(delta,))
        yield ChatChunk(
            finish_reason=choice.finish_reason, native_finish_reason=choice.native_finish_reason
        )
        yield ChatChunk(usage=final.usage)


class ToolLoopStream:
    """An async iterator of ``ChatChunk`` with ``result`` set before the finish chunk."""

    def __init__(
        self,
        produce: Callable[[Callable[[ToolLoopResult], None]], AsyncGenerator[ChatChunk, None]],
    ) -> None:
        self.result: ToolLoopResult | None = None
        self._chunks = produce(self._publish)

    def _publish(self, result: ToolLoopResult) -> None:
        self.result = result

    def __aiter__(self) -> ToolLoopStream:
        return self

    async def __anext__(self) -> ChatChunk:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        """Stop early (the client went away): closes the model's stream too."""
        await self._chunks.aclose()
