"""Server-side conversation state, and the policy that keeps a stored history bounded.

Trimming policy (``plan_trim``):

- The leading system (or developer) messages are the *head*: they are never dropped.
- Everything after the head is the *body*; trimming drops its oldest messages, so the newest
  ones are kept, until the whole history fits ``HistoryLimits`` (a message count, and
  optionally an estimated token count of ~4 characters per token).
- Only whole turns are dropped. The body is cut just before a ``user`` message when that
  fits, so a kept history starts the way every vendor accepts. When even the newest user turn
  alone is too big, it is cut before an assistant message instead; never before a ``tool``
  message, so an assistant's tool calls and their results stay together and no ``tool``
  message is left without the call it answers.
- When nothing fits, the whole body goes and the head stays, even if the head alone is over
  the limits: the system prompt defines the session.

Totals (``SessionUsage``) count the session's committed turns, added in the same atomic step
as each turn's messages: tokens as the answer reported them, cost as the turn was charged (0
for an answer from the gateway's response cache, whose tokens the client still received). A
turn that never commits (a failure, an aborted stream) is billed to its key but adds nothing
here. Costs add up as ``Money`` (integer picodollars), so the total is as exact as each turn's cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway_core.domain.messages import ImagePart, Message
from gateway_core.domain.money import Money
from gateway_core.domain.usage import Usage

_HEAD_ROLES = frozenset({"system", "developer"})
_CHARS_PER_TOKEN = 4
_TOKENS_PER_MESSAGE = 4
"""Role markers and separators cost a few tokens per message in every vendor's format."""
_TOKENS_PER_IMAGE = 765
"""OpenAI's price of one 1024x1024 image at high detail: a fair guess without decoding it."""


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """What a session's committed turns used and cost, all turns together."""

    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: Money = Money.ZERO

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def plus_turn(self, usage: Usage, cost_usd: Money) -> SessionUsage:
        """These totals with one more turn that used ``usage`` and cost ``cost_usd``."""
        return SessionUsage(
            turns=self.turns + 1,
            prompt_tokens=self.prompt_tokens + usage.prompt_tokens,
            completion_tokens=self.completion_tokens + usage.completion_tokens,
            cached_tokens=self.cached_tokens + usage.cached_tokens,
            cost_usd=self.cost_usd + cost_usd,
        )


@dataclass(frozen=True, slots=True)
class Session:
    """One conversation. Times are seconds since the Unix epoch (UTC).

    ``revision`` counts the committed turns; a store refuses an append made against an older
    revision, so a turn that lost its lock can never interleave with another one.
    """

    id: str
    owner: str | None
    created_at: float
    expires_at: float
    ttl_seconds: int
    messages: tuple[Message, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    revision: int = 0
    usage: SessionUsage = field(default_factory=SessionUsage)
    """Totals of the committed turns; see the module docstring."""

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """How much history a session keeps; ``max_tokens`` is an estimate, ``None`` for no limit."""

    max_messages: int
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1 or None")


@dataclass(frozen=True, slots=True)
class Trim:
    """Drop ``drop`` messages right after the first ``keep`` ones (the head)."""

    keep: int = 0
    drop: int = 0

    def apply(self, messages: Sequence[Message]) -> tuple[Message, ...]:
        return (*messages[: self.keep], *messages[self.keep + self.drop :])


def estimate_tokens(message: Message) -> int:
    """A cheap, vendor-neutral estimate: ~4 characters per token plus a per-message cost."""
    chars = len(message.text) + len(message.name or "")
    chars += sum(len(call.name) + len(call.arguments) for call in message.tool_calls)
    images = 0
    if isinstance(message.content, tuple):
        images = sum(1 for part in message.content if isinstance(part, ImagePart))
    return -(-chars // _CHARS_PER_TOKEN) + images * _TOKENS_PER_IMAGE + _TOKENS_PER_MESSAGE


def plan_trim(messages: Sequence[Message], limits: HistoryLimits) -> Trim:
    """The ``Trim`` that makes ``messages`` fit ``limits`` under the policy in this module."""
    keep = _head_length(messages)
    body = messages[keep:]
    room_messages = max(limits.max_messages - keep, 0)
    room_tokens = None
    if limits.max_tokens is not None:
        room_tokens = max(limits.max_tokens - sum(estimate_tokens(m) for m in messages[:keep]), 0)
    # Suffix token sums: tail_tokens[i] is the estimate of body[i:].
    tail_tokens = [0] * (len(body) + 1)
    for index in range(len(body) - 1, -1, -1):
        tail_tokens[index] = tail_tokens[index + 1] + estimate_tokens(body[index])

    def fits(start: int) -> bool:
        within_tokens = room_tokens is None or tail_tokens[start] <= room_tokens
        return len(body) - start <= room_messages and within_tokens

    if fits(0):
        return Trim(keep=keep, drop=0)
    for may_cut in (_starts_user_turn, _starts_whole_exchange):
        start = next((i for i in range(1, len(body)) if may_cut(body[i]) and fits(i)), None)
        if start is not None:
            return Trim(keep=keep, drop=start)
    return Trim(keep=keep, drop=len(body))


def _head_length(messages: Sequence[Message]) -> int:
    for index, message in enumerate(messages):
        if message.role not in _HEAD_ROLES:
            return index
    return len(messages)


def _starts_user_turn(message: Message) -> bool:
    return message.role == "user"


def _starts_whole_exchange(message: Message) -> bool:
    return message.role != "tool"
