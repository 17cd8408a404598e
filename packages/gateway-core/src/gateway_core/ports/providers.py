from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse


class ChatProvider(Protocol):
    """One model vendor (or one OpenAI-compatible server).

    ``request.model`` is already the vendor's own model id. Raises ``ProviderError``
    subclasses only (from ``gateway_core.errors``), never a library's exceptions; never retries.
    """

    name: str

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        """Chunks as the upstream produces them; the last ones carry finish_reason and usage.

        An async generator (``async def`` with ``yield``): ``aclose()`` ends the upstream call
        early when the client goes away."""
        ...
