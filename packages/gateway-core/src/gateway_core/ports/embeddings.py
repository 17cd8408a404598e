from __future__ import annotations

from typing import Protocol

from gateway_core.domain.embeddings import EmbeddingRequest, EmbeddingResponse


class EmbeddingProvider(Protocol):
    """A vendor that turns text into vectors. ``request.model`` is the vendor's own id.

    Raises ``ProviderError`` subclasses only; never retries.
    """

    name: str

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse: ...
