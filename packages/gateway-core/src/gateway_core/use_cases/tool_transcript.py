"""The tool loop's state, shared by its JSON and streaming drivers: the conversation a
request grows into, the tools run, the usage so far, and the result it ends with."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.messages import Message
from gateway_core.domain.tool_registry import ToolRun
from gateway_core.domain.usage import Usage

TOOL_CALLS_LIMIT = "tool_calls_limit"
"""The ``finish_reason`` of an answer cut short because the model kept calling tools."""


class ChatCompleter(Protocol):
    """What the loop calls the model through: ``CompleteChat`` (routing and fallbacks)."""

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]: ...


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


class Transcript:
    """The loop's growing state for one request: messages added, tools run, usage so far."""

    def __init__(self, request: ChatRequest, gateway_tools: frozenset[str]) -> None:
        self.request = request
        self.gateway_tools = gateway_tools
        self.exchange: list[Message] = []
        self.tool_runs: list[ToolRun] = []
        self.usage = Usage()
        self.rounds = 0
        self._answered_by: tuple[str, str] | None = None
        """(model, provider) of the last model call that completed: what ``spent`` bills."""

    def add_call(self, model: str, provider: str, usage: Usage) -> None:
        """A model call completed: its usage counts, whatever happens next."""
        self.usage += usage
        self._answered_by = (model, provider)

    def spent(self) -> ChatResponse | None:
        """The usage of the model calls completed so far, as an answer to account (for a loop
        that ends early: a client gone during a tool call); ``None`` when none completed."""
        if self._answered_by is None:
            return None
        model, provider = self._answered_by
        return ChatResponse(id="", model=model, choices=(), usage=self.usage, provider=provider)

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
