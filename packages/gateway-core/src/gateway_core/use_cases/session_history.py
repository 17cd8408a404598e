"""What a session adds to a turn's request, and what a turn adds to its session.

The stored history goes before the request's messages. When the request brings its own
system message(s), the stored leading ones are left out and the request's leading ones go
first, before the history, for this call only; the stored conversation keeps its first system
prompt. A turn commits the request's new messages (system messages only on a session's first
turn) and everything the answer added: the assistant's tool calls, the tool results of the
gateway's tool loop, the final assistant message.
"""

from __future__ import annotations

from dataclasses import replace

from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import Message
from gateway_core.use_cases.sessions import SessionTurn

_SYSTEM_ROLES = frozenset({"system", "developer"})


def with_history(request: ChatRequest, turn: SessionTurn | None) -> ChatRequest:
    """The request with the session's history before its messages (see the module docstring)."""
    if turn is None or not turn.history:
        return request
    history = turn.history
    if not any(m.role in _SYSTEM_ROLES for m in request.messages):
        return replace(request, messages=(*history, *request.messages))
    # The request's own system prompt takes the stored one's place: at the head, where the
    # vendors expect it, not after the history.
    rest = _without_leading_system(request.messages)
    head = request.messages[: len(request.messages) - len(rest)]
    return replace(request, messages=(*head, *_without_leading_system(history), *rest))


def new_messages(
    request: ChatRequest, turn: SessionTurn, exchange: tuple[Message, ...]
) -> tuple[Message, ...]:
    """What a turn adds to its session: the request's messages and the answer's exchange."""
    kept = request.messages
    if turn.history:
        kept = tuple(m for m in kept if m.role not in _SYSTEM_ROLES)
    return (*kept, *exchange)


def _without_leading_system(history: tuple[Message, ...]) -> tuple[Message, ...]:
    start = 0
    while start < len(history) and history[start].role in _SYSTEM_ROLES:
        start += 1
    return history[start:]

