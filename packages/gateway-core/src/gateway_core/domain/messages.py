"""Chat messages: the four roles, text and multi-part content, tool calls and tool results.

Values are frozen, slotted dataclasses: cheap to build on the request path and safe to share.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gateway_core.domain.evolve import direct_init


class _NoFields(Mapping[str, Any]):
    """An empty, hashable mapping: a dataclass default needs one (no default_factory call)."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"


NO_EXTRA: Mapping[str, Any] = _NoFields()
"""The shared empty ``extra``: most values carry no unmodelled fields, and need no dict."""

Role = Literal["system", "developer", "user", "assistant", "tool"]


@direct_init
@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    cache_control: Mapping[str, Any] | None = None
    """Anthropic's prompt-cache breakpoint (``{"type": "ephemeral"}``), as the client sent it."""


@direct_init
@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image by URL; ``data:`` URLs carry base64 bytes inline."""

    url: str
    detail: str | None = None
    cache_control: Mapping[str, Any] | None = None


@direct_init
@dataclass(frozen=True, slots=True)
class OpaquePart:
    """A content part the gateway passes on without reading (``input_audio``, ``file``):
    forwarded as sent to OpenAI-format providers, refused by name by the others."""

    type: str
    body: Mapping[str, Any]
    """The part's payload, the value under its ``type`` key (``{"data", "format"}``...)."""


ContentPart = TextPart | ImagePart | OpaquePart


@direct_init
@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for. ``arguments`` is the JSON text, as OpenAI sends it."""

    id: str
    name: str
    arguments: str


@direct_init
@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str | tuple[ContentPart, ...] | None = None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    """The model's reasoning text, as DeepSeek and vLLM return it (and accept it back)."""
    extra: Mapping[str, Any] = NO_EXTRA
    """Message fields not modelled (``refusal``, ``annotations``, ``audio``...), as sent."""

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", content=text)

    @classmethod
    def user(cls, content: str | tuple[ContentPart, ...]) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, text: str | None, tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        return cls(role="assistant", content=text, tool_calls=tool_calls)

    @classmethod
    def tool_result(cls, tool_call_id: str, text: str) -> Message:
        return cls(role="tool", content=text, tool_call_id=tool_call_id)

    @property
    def text(self) -> str:
        """The message's text: the string content, or its text parts joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))
