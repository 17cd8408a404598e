"""Embedding requests and responses, in the OpenAI Embeddings vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

from gateway_core.domain.usage import Usage

EmbeddingInput = str | tuple[int, ...]
"""One input: a text, or the token ids of one (what LangChain's ``OpenAIEmbeddings`` sends)."""

_CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str
    inputs: tuple[EmbeddingInput, ...]
    dimensions: int | None = None
    user: str | None = None
    encoding_format: str | None = None
    """As the client asked; an OpenAI-format provider receives it unchanged."""

    @property
    def estimated_tokens(self) -> int:
        """Tokens before the provider counts them: exact for token ids, ~4 chars/token for text."""
        return sum(
            -(-len(item) // _CHARS_PER_TOKEN) if isinstance(item, str) else len(item)
            for item in self.inputs
        )


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    model: str
    vectors: tuple[tuple[float, ...], ...]
    """One vector per input, in the order of the inputs."""
    usage: Usage
    provider: str = ""
