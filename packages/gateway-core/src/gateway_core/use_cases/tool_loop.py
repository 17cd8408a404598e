"""The server-side tool loop: the gateway runs its registered tools for the model.

The rules (docs/API.md repeats them for clients):

- Gateway tools of a request: the request's ``tools`` whose names are registered (their spec is
  replaced by the registry's, so the client may send the name alone), plus every registered
  tool when the gateway option ``offer_all_tools`` is set. A registered name always means the
  gateway's tool. Without gateway tools the loop is a single plain model call.
- When every call of a model turn is to a gateway tool, the gateway validates the arguments,
  runs the calls concurrently, appends the assistant message and one ``tool`` message per
  call, and calls the model again. A failing tool becomes an error result the model sees
  (``{"error": {"code", "message"}}``), never a failed request. A result longer than
  ``max_result_chars`` is cut there and ends with a ``[truncated by the gateway ...]`` marker.
- When a turn calls any tool the gateway does not run (a client's own), control returns to
  the client with *all* of that turn's tool calls (``finish_reason: "tool_calls"``); it may
  run the gateway's ones through ``POST /v1/tools/execute``.
- After ``max_rounds`` rounds of tool execution, a model that still calls gateway tools gets
  no more: the answer ends with ``finish_reason: "tool_calls_limit"`` (``TOOL_CALLS_LIMIT``),
  carries the model's text without those calls, and ``ToolLoopResult.notice`` explains.
- A ``tool_choice`` of ``"required"`` or a named tool holds for the first model call only;
  later rounds use ``"auto"``, or the model could never stop calling tools.
- Usage adds up over all model calls. Tool calls are never retried (they may not be
  idempotent); the model sees the failure and decides.

Streaming (``ToolLoop.stream``): the client gets one well-formed stream. Text is forwarded as
the model writes it, in every round (rounds are separated by a blank line); intermediate
rounds' tool calls are consumed, not forwarded. The stream has one role chunk first, then
content, then (for a client tool turn) the turn's tool calls, one finish chunk and one usage
chunk summing all rounds. ``ToolLoopStream.result`` is set just before the finish chunk, so
the HTTP shell can put ``result.tool_runs`` in an extension field of that chunk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, Protocol

from gateway_core.clock import SystemClock
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.tool_registry import ToolResult, ToolRun
from gateway_core.domain.usage import Usage
from gateway_core.errors import GatewayError, InvalidRequestError, ToolArgumentsError
from gateway_core.ports.clock import Clock
from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.tool_loop_stream import RoundAssembly, ToolLoopStream

TOOL_CALLS_LIMIT = "tool_calls_limit"
"""The ``finish_reason`` of an answer cut short because the model kept calling tools."""

_ROUND_SEPARATOR = "\n\n"


class ChatCompleter(Protocol):
    """What the loop calls the model through: ``CompleteChat`` (routing and fallbacks)."""

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...


@dataclass(frozen=True, slots=True)
class ToolLoopResult:
    """The final answer, plus everything the loop added to the conversation.

    ``exchange`` is every new message in order (assistant turns with tool calls, tool results,
    the final assistant message): what a session records. ``rounds`` counts model calls.
    For a stream, ``response.id`` is empty: the HTTP shell names the stream.
    """

    response: ChatResponse
    exchange: tuple[Message, ...]
    tool_runs: tuple[ToolRun, ...]
    rounds: int
    notice: str | None = None
    """Why the loop stopped early (the round limit), for the response's extension field."""

    @property
    def finish_reason(self) -> str | None:
        return self.response.choices[0].finish_reason

    @property
    def usage(self) -> Usage:
        return self.response.usage


class _Transcript:
    """The loop's growing state for one request: messages added, tools run, usage so far."""

    def __init__(self, request: ChatRequest, gateway_tools: frozenset[str]) -> None:
        self.request = request
        self.gateway_tools = gateway_tools
        self.exchange: list[Message] = []
        self.tool_runs: list[ToolRun] = []
        self.usage = Usage()
        self.rounds = 0

    def next_request(self) -> ChatRequest:
        self.rounds += 1
        request = replace(self.request, messages=self.request.messages + tuple(self.exchange))
        if self.rounds > 1 and request.tool_choice not in (None, "auto", "none"):
            request = replace(request, tool_choice="auto")
        return request

    def runs_gateway_tools(self, message: Message) -> bool:
        calls = message.tool_calls
        return bool(calls) and all(call.name in self.gateway_tools for call in calls)

    def record_round(self, message: Message, results: Sequence[tuple[Message, ToolRun]]) -> None:
        self.exchange.append(message)
        for tool_message, run in results:
            self.exchange.append(tool_message)
            self.tool_runs.append(run)

    def limit_notice(self, message: Message, max_rounds: int) -> str:
        names = ", ".join(sorted({call.name for call in message.tool_calls}))
        return (
            f"The model still called tools after {max_rounds} round(s) of tool calls, the "
            f"gateway's limit; its last calls ({names}) were not run."
        )

    def finish(self, response: ChatResponse, limited_by: int | None) -> ToolLoopResult:
        """The result for the model's last answer; ``limited_by`` is the round limit hit."""
        choice = response.choices[0]
        notice = None
        if limited_by is not None:
            notice = self.limit_notice(choice.message, limited_by)
            text_only = Message.assistant(choice.message.text)
            choice = replace(choice, message=text_only, finish_reason=TOOL_CALLS_LIMIT)
        self.exchange.append(choice.message)
        final = replace(response, choices=(choice,), usage=self.usage)
        exchange, runs = tuple(self.exchange), tuple(self.tool_runs)
        return ToolLoopResult(final, exchange, runs, self.rounds, notice)


class ToolLoop:
    """Call the model, run the gateway's tools it asks for, repeat; see the module docstring."""

    def __init__(
        self,
        chat: ChatCompleter,
        tools: ExecuteTool,
        *,
        max_rounds: int = 5,
        max_result_chars: int = 20_000,
        clock: Clock | None = None,
    ) -> None:
        if max_rounds < 0 or max_result_chars < 1:
            raise ValueError("max_rounds must be >= 0 and max_result_chars >= 1.")
        self._chat = chat
        self._tools = tools
        self._max_rounds = max_rounds
        self._max_result_chars = max_result_chars
        self._clock = clock or SystemClock()

    def engages(self, request: ChatRequest, offer_all_tools: bool = False) -> bool:
        """Whether the request offers gateway tools; if not, plain ``CompleteChat`` serves it
        as well (and streams tool calls of client tools as they come, which the loop does not)."""
        return offer_all_tools and len(self._tools.registry) > 0 or any(
            spec.name in self._tools.registry for spec in request.tools
        )

    def prepare(
        self, request: ChatRequest, offer_all_tools: bool = False
    ) -> tuple[ChatRequest, frozenset[str]]:
        """The request with the gateway tools' specs filled in, and their names."""
        registry = self._tools.registry
        listed = [spec.name for spec in request.tools]
        gateway = {name for name in listed if name in registry}
        if offer_all_tools:
            gateway.update(registry.names())
        if not gateway:
            return request, frozenset()
        if request.n != 1:
            raise InvalidRequestError("Gateway tools cannot be combined with n > 1.", param="n")
        tools = [
            registry.get(spec.name).spec if spec.name in registry else spec
            for spec in request.tools
        ]
        if offer_all_tools:
            tools.extend(tool.spec for tool in registry if tool.name not in listed)
        return replace(request, tools=tuple(tools)), frozenset(gateway)

    async def complete(
        self, request: ChatRequest, *, offer_all_tools: bool = False
    ) -> ToolLoopResult:
        transcript = _Transcript(*self.prepare(request, offer_all_tools))
        while True:
            response = await self._chat.complete(transcript.next_request())
            transcript.usage += response.usage
            message = response.choices[0].message
            if not transcript.runs_gateway_tools(message):
                return transcript.finish(response, limited_by=None)
            if transcript.rounds > self._max_rounds:
                return transcript.finish(response, limited_by=self._max_rounds)
            results = await self._run_round(message.tool_calls, transcript.rounds)
            transcript.record_round(message, results)

    def stream(self, request: ChatRequest, *, offer_all_tools: bool = False) -> ToolLoopStream:
        """Raises request errors (``n > 1``) now; model and tool errors while iterating."""
        transcript = _Transcript(*self.prepare(request, offer_all_tools))
        return ToolLoopStream(lambda publish: self._stream(transcript, publish))

    async def _stream(
        self, transcript: _Transcript, publish: Callable[[ToolLoopResult], None]
    ) -> AsyncGenerator[ChatChunk, None]:
        assembly = RoundAssembly(first_round=True)
        limited_by: int | None = None
        while True:
            # aclosing: when the client leaves mid-round, the model's stream closes now.
            async with aclosing(self._stream_round(transcript, assembly)) as chunks:
                async for chunk in chunks:
                    yield chunk
            message = assembly.message()
            if not transcript.runs_gateway_tools(message):
                break
            if transcript.rounds > self._max_rounds:
                limited_by = self._max_rounds
                break
            results = await self._run_round(message.tool_calls, transcript.rounds)
            transcript.record_round(message, results)
            assembly = assembly.next_round(separator=_ROUND_SEPARATOR)
        result = transcript.finish(assembly.response(transcript.request.model), limited_by)
        publish(result)
        for chunk in assembly.closing_chunks(result.response):
            yield chunk

    async def _stream_round(
        self, transcript: _Transcript, assembly: RoundAssembly
    ) -> AsyncGenerator[ChatChunk, None]:
        chunks = self._chat.stream(transcript.next_request())
        try:
            async for chunk in chunks:
                visible = assembly.add(chunk)
                if visible is not None:
                    yield visible
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        transcript.usage += assembly.usage

    async def _run_round(
        self, calls: Sequence[ToolCall], round_number: int
    ) -> list[tuple[Message, ToolRun]]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._run_call(call, round_number)) for call in calls]
        return [task.result() for task in tasks]

    async def _run_call(self, call: ToolCall, round_number: int) -> tuple[Message, ToolRun]:
        started = self._clock.monotonic()
        code: str | None = None
        try:
            arguments = _parse_arguments(call.arguments)
            result = await self._tools.execute(call.name, arguments, call.id)
            if not result.success:
                code = "tool_execution_failed"
        except GatewayError as error:
            result, code = ToolResult.failure(call.name, error.message, call.id), error.code
        elapsed_ms = (self._clock.monotonic() - started) * 1000
        run = ToolRun(
            call.name, call.id, result.success, elapsed_ms, round_number, result.error, code
        )
        text = _truncate(_result_text(result, code), self._max_result_chars)
        return Message.tool_result(call.id, text), run


def _parse_arguments(text: str) -> dict[str, Any]:
    """The model's JSON arguments; an empty string means none (some models send that)."""
    if not text.strip():
        return {}
    try:
        arguments = json.loads(text)
    except ValueError:
        raise ToolArgumentsError("The tool call's arguments are not valid JSON.") from None
    if not isinstance(arguments, dict):
        raise ToolArgumentsError("The tool call's arguments must be a JSON object.")
    return arguments


def _result_text(result: ToolResult, code: str | None) -> str:
    """What the model reads in the tool message: the result, or an error it can act on."""
    if not result.success:
        return json.dumps({"error": {"code": code, "message": result.error}}, ensure_ascii=False)
    if isinstance(result.result, str):
        return result.result
    return json.dumps(result.result, ensure_ascii=False, default=str)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[truncated by the gateway: {limit} of {len(text)} characters shown]"
