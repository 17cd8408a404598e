"""Providers that speak a front door's wire format themselves, for native forwarding.

When ``/v1/responses`` is routed to a provider that speaks OpenAI's Responses API, or
``/v1/messages`` to one that speaks Anthropic's Messages API, the body goes to it as the
client sent it (only ``model`` becomes the provider's id) and its answer comes back as sent:
built-in and server tools, reasoning items with encrypted content, thinking signatures and
``cache_control`` survive, which no translation through the chat turn could promise. The
gateway's controls still apply around the call; the usage they need is read from the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway_core.domain.usage import Usage


@dataclass(frozen=True, slots=True)
class NativeCall:
    body: Mapping[str, Any]
    """The client's JSON body, ``model`` already the provider's own id."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Client headers the vendor defines (``anthropic-beta``, ``anthropic-version``)."""


@dataclass(frozen=True, slots=True)
class NativeReply:
    body: bytes
    """The vendor's JSON answer, unchanged."""
    usage: Usage
    model: str


class NativeStream(Protocol):
    """The vendor's server-sent events, each re-encoded whole (``event:`` and ``data:``
    lines), a piece at a time: each piece one or more whole events (those one read brought,
    to be written together; the first event alone). ``usage`` and ``model`` are complete once
    iteration ended."""

    usage: Usage
    model: str
    event_count: int
    """The events given so far, the piece just given included."""
    output_chars: int
    """The characters of output the events carried so far (text, reasoning, tool arguments):
    what the door holds to the output cap and bills a stream cut short by, where the vendor
    reports its output tokens only at the end."""
    final: Mapping[str, Any] | None
    """The vendor's whole answer when its stream ends with one (the Responses API's
    ``response.completed``), else ``None``."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...

    def cap_output(self, check: Callable[[int, int], None]) -> None:
        """From the next event on, ``check(output_chars, output tokens reported)`` after each
        event is read (the door's output cap): when it raises, the events read before that
        one are given first, then its error, so the cut is exact however events are grouped."""
        ...


class NativeFormatProvider(Protocol):
    """One vendor endpoint in a front door's own format. Raises ``ProviderError`` subclasses
    only (the vendor's error table, as its chat adapter does); never retries."""

    name: str

    def serves(self, model: str) -> bool:
        """Whether ``model`` (the provider's own id) is answered in this format. A cloud that
        serves several model families (Vertex AI, Bedrock) forwards only its Claude models
        natively; the others go through the chat turn."""
        ...

    async def send(self, call: NativeCall) -> NativeReply: ...

    def stream(self, call: NativeCall) -> NativeStream: ...


class NativeTokenCounter(Protocol):
    """A vendor that counts a request's input tokens exactly (Anthropic's count_tokens)."""

    async def count_tokens(self, call: NativeCall) -> bytes:
        """The vendor's JSON answer (``{"input_tokens": n}``), unchanged."""
        ...
