"""Google Gemini: the Gemini API (API key) and Vertex AI (OAuth2 through google-auth), and
Claude on Vertex AI."""

from gateway_adapters.providers.gemini.adapter import (
    GEMINI_API,
    GeminiChatProvider,
    vertex_base_url,
)
from gateway_adapters.providers.gemini.google_auth import GoogleTokenSource
from gateway_adapters.providers.gemini.vertex_claude import (
    VertexAIChatProvider,
    VertexClaudeChatProvider,
)

__all__ = [
    "GEMINI_API",
    "GeminiChatProvider",
    "GoogleTokenSource",
    "VertexAIChatProvider",
    "VertexClaudeChatProvider",
    "vertex_base_url",
]
