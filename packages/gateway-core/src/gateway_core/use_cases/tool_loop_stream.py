"""The streaming driver of the tool loop: ``ToolLoopStream`` is what ``ToolLoop.stream`` returns.

Each round's model stream goes through a ``RoundView``: a ``StreamAccumulator`` (the round's
assistant message, finish reason and usage) plus what the client may see of it (role and
text only: one role chunk over all rounds, a separator between the rounds' texts).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import aclosing
from typing import Protocol

from gateway_core.domain.chat import ChatChunk, ChatResponse, ToolCallDelta
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.stream_accumulator import StreamAccumulator
from gateway_core.domain.tool_registry import ToolRun
from gateway_core.use_cases.tool_transcript import ChatCompleter, ToolLoopResult, Transcript

ROUND_SEPARATOR = "\n\n"


class ToolRunner(Protocol):
    """Runs one round's gateway tool calls: ``ToolLoop``."""

    max_rounds: int

    async def run_round(
        self, calls: Sequence[ToolCall], round_number: int
    ) -> list[tuple[Message, ToolRun]]: ...


class RoundView:
    """One model stream: accumulated in full, forwarded as role and text only."""

    __slots__ = ("_pending_separator", "_role_sent", "_text_sent", "accumulator")

    def __init__(self, *, role_sent: bool = False, separator: str = "") -> None:
        self.accumulator = StreamAccumulator()
        self._role_sent = role_sent
        self._text_sent = bool(separator)
        self._pending_separator = separator

    def next_round(self) -> RoundView:
        separator = ROUND_SEPARATOR if self._text_sent else ""
        return RoundView(role_sent=self._role_sent, separator=separator)

    def add(self, chunk: ChatChunk) -> ChatChunk | None:
        """Take one chunk of the model's stream; return what the client should get, if any."""
        self.accumulator.add(chunk)
        content = chunk.content or None
        if content is not None:
            content = self._pending_separator + content
            self._pending_separator = ""
            self._text_sent = True
        role = None if self._role_sent else (chunk.role or ("assistant" if content else None))
        if role is None and content is None:
            return None
        if role is not None:
            self._role_sent = True
            content = content or ""  # a role chunk carries "" as OpenAI's first chunk does
        return ChatChunk(
            role=role, content=content, model=chunk.model, dropped_params=chunk.dropped_params
        )

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
    """An async iterator of ``ChatChunk``; ``result`` is set just before the finish chunk."""

    def __init__(self, chat: ChatCompleter, tools: ToolRunner, transcript: Transcript) -> None:
        self.result: ToolLoopResult | None = None
        self._chat = chat
        self._tools = tools
        self._chunks = self._run(transcript)

    def __aiter__(self) -> ToolLoopStream:
        return self

    async def __anext__(self) -> ChatChunk:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        """Stop early (the client went away): closes the model's stream too."""
        await self._chunks.aclose()

    async def _run(self, transcript: Transcript) -> AsyncGenerator[ChatChunk, None]:
        view = RoundView()
        max_rounds = self._tools.max_rounds
        limited_by: int | None = None
        while True:
            # aclosing: when the client leaves mid-round, the model's stream closes now.
            async with aclosing(self._round(transcript, view)) as chunks:
                async for chunk in chunks:
                    yield chunk
            message = view.accumulator.message()
            if not transcript.runs_gateway_tools(message):
                break
            if transcript.rounds > max_rounds:
                limited_by = max_rounds
                break
            results = await self._tools.run_round(message.tool_calls, transcript.rounds)
            transcript.record_round(message, results)
            view = view.next_round()
        answer = view.accumulator.response(transcript.request.model)
        self.result = transcript.finish(answer, limited_by)
        for chunk in view.closing_chunks(self.result.response):
            yield chunk

    async def _round(
        self, transcript: Transcript, view: RoundView
    ) -> AsyncGenerator[ChatChunk, None]:
        async with aclosing(self._chat.stream(transcript.next_request())) as chunks:
            async for chunk in chunks:
                visible = view.add(chunk)
                if visible is not None:
                    yield visible
        accumulator = view.accumulator
        model = accumulator.model or transcript.request.model
        transcript.add_call(model, accumulator.provider or "", accumulator.usage)
