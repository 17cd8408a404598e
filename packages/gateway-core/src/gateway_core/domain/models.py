"""What a configured model is and can do. Capabilities are data, not optional methods."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    """The name clients send."""
    provider: str
    owned_by: str = ""
    description: str = ""
    supports_tools: bool = True
    supports_streaming: bool = True
