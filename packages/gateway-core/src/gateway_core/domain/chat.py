"""Chat requests, responses and stream chunks, in the OpenAI Chat Completions vocabulary.

``finish_reason`` uses OpenAI's values (stop, length, tool_calls, content_filter); a
provider's own reason is kept in ``native_finish_reason`` and an unknown one is passed
through unchanged rather than turned into ``stop``.

``extra`` fields hold what a client sent or a provider returned that the gateway does not
model (``reasoning_effort``, ``logprobs``, ``service_tier``, fields nobody has heard of yet),
as decoded JSON values: an OpenAI-format provider receives them, and the client gets them
back, exactly as they were (see "Faithful on the wire" in docs/API.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway_core.domain.evolve import direct_init
from gateway_core.domain.messages import NO_EXTRA, Message
from gateway_core.domain.tools import ToolChoice, ToolSpec
from gateway_core.domain.usage import Usage

OPENAI_CHAT_WIRE = "openai.chat"
"""OpenAI Chat Completions' stream of ``chat.completion.chunk`` events (``ChatRequest.relay``)."""


@direct_init
@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: int | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: Mapping[str, Any] | None = None
    user: str | None = None
    metadata: Mapping[str, str] | None = None
    stream: bool = False
    parallel_tool_calls: bool | None = None
    max_completion_tokens: int | None = None
    """As the client sent it; ``max_tokens`` holds the output limit whichever name was used."""
    extra: Mapping[str, Any] = NO_EXTRA
    """Request fields the gateway does not model, by name, as the client sent them."""
    drop_params: bool = False
    """Leave out fields the provider cannot serve instead of refusing the request."""
    relay: str | None = None
    """The stream format the client reads (``OPENAI_CHAT_WIRE``) when its door can relay a
    provider's events as bytes: a provider that streams in that same format then hands the
    events over as they came (``ChatChunk.wire``) instead of chunks to re-encode. Set by the
    door from the request's shape, never by a client field; cleared by the turn when it runs
    gateway tools; not part of the answer (nor of its cache key)."""


@direct_init
@dataclass(frozen=True, slots=True)
class Choice:
    message: Message
    finish_reason: str | None
    index: int = 0
    native_finish_reason: str | None = None
    extra: Mapping[str, Any] = NO_EXTRA
    """Choice fields not modelled (``logprobs``...), as the provider returned them."""


@direct_init
@dataclass(frozen=True, slots=True)
class ChatResponse:
    id: str
    model: str
    choices: tuple[Choice, ...]
    usage: Usage = field(default_factory=Usage)
    created: int = 0
    provider: str = ""
    system_fingerprint: str | None = None
    extra: Mapping[str, Any] = NO_EXTRA
    """Top-level fields not modelled (``service_tier``...), as the provider returned them."""
    dropped_params: tuple[str, ...] = ()
    """Request fields left out because the provider cannot serve them (``drop_params``)."""


@direct_init
@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of one tool call in a stream; ``index`` ties the fragments together."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@direct_init
@dataclass(frozen=True, slots=True)
class ChatChunk:
    """One increment of a streamed answer, for choice ``index``.

    A chunk may carry only ``usage`` (the final usage report of a stream).
    """

    index: int = 0
    role: str | None = None
    content: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    """The model that answered, when the provider says so (for example after a fallback)."""
    provider: str | None = None
    """The provider that answered; set on a stream's first chunk by ``CompleteChat``."""
    reasoning_content: str | None = None
    """A piece of the model's reasoning text (DeepSeek/vLLM ``reasoning_content``)."""
    delta_extra: Mapping[str, Any] = NO_EXTRA
    """Delta fields not modelled (``refusal`` pieces...), as the provider streamed them."""
    choice_extra: Mapping[str, Any] = NO_EXTRA
    """Choice fields not modelled (``logprobs``...), as the provider streamed them."""
    extra: Mapping[str, Any] = NO_EXTRA
    """Chunk fields not modelled (``service_tier``, ``system_fingerprint``...)."""
    dropped_params: tuple[str, ...] = ()
    """Request fields the provider left out (``drop_params``); on a stream's first chunk, so
    the response headers can name them."""
    wire: bytes | None = None
    """A relayed stream's bytes (``ChatRequest.relay``): the upstream's own event(s) this chunk
    was read from, framed as server-sent events for the client, payloads exactly as sent;
    ``b""`` when another chunk of the same event carries them. ``None``: not relayed (the door
    encodes the chunk). A relayed chunk may stand for several events that arrived together
    (their text joined, their tool-call fragments in order); it carries no ``extra`` fields,
    which travel in the bytes."""
