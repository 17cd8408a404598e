"""Embedding requests and responses, in the OpenAI Embeddings vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

from gateway_core.domain.usage import Usage


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str
    inputs: tuple[str, ...]
    dimensions: int | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    model: str
    vectors: tuple[tuple[float, ...], ...]
    """One vector per input, in the order of the inputs."""
    usage: Usage
    provider: str = ""
