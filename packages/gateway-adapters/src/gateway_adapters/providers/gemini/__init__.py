"""Google Gemini: the Gemini API (API key) and Vertex AI (OAuth2 through google-auth)."""

from gateway_adapters.providers.gemini.adapter import (
    GEMINI_API,
    GeminiChatProvider,
    vertex_base_url,
)
from gateway_adapters.providers.gemini.google_auth import GoogleTokenSource

__all__ = ["GEMINI_API", "GeminiChatProvider", "GoogleTokenSource", "vertex_base_url"]
