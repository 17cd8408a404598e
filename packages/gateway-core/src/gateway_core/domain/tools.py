"""Tool specifications offered to a model, and how the client constrains their use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    strict: bool | None = None
    """OpenAI's structured-outputs flag on a function tool, as the client sent it."""
    cache_control: Mapping[str, Any] | None = None
    """Anthropic's prompt-cache breakpoint on this tool, as the client sent it."""


@dataclass(frozen=True, slots=True)
class NamedToolChoice:
    """Force the model to call this one tool."""

    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice
