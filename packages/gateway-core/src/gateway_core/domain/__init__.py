"""Immutable domain values and pure functions over them."""

from gateway_core.domain.chat import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ToolCallDelta,
)
from gateway_core.domain.messages import (
    ContentPart,
    ImagePart,
    Message,
    Role,
    TextPart,
    ToolCall,
)
from gateway_core.domain.models import ModelInfo
from gateway_core.domain.tools import ToolChoice, ToolSpec
from gateway_core.domain.usage import Usage

__all__ = [
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "Choice",
    "ContentPart",
    "ImagePart",
    "Message",
    "ModelInfo",
    "Role",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolSpec",
    "Usage",
]
