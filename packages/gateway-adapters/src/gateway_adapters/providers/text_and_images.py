"""What vendors that take only text and images (Gemini, Bedrock) refuse by name.

OpenAI-only content parts (``input_audio``, ``file``) and token-id embedding inputs reach
these vendors' adapters like any request; each is refused with 400 naming the vendor, never
dropped and never left to fail as an attribute error.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway_core.domain.embeddings import EmbeddingInput
from gateway_core.domain.messages import ContentPart, ImagePart
from gateway_core.errors import UnsupportedParameterError


def image_part(part: ContentPart, vendor: str) -> ImagePart:
    """``part`` (not a text part) as an image; any other kind refused by name."""
    if not isinstance(part, ImagePart):
        raise UnsupportedParameterError(
            f"{vendor} does not take '{getattr(part, 'type', 'unknown')}' content parts "
            "through the gateway.",
            param="messages",
        )
    return part


def text_inputs(inputs: Iterable[EmbeddingInput], vendor: str) -> list[str]:
    """The embedding inputs as texts; token ids refused (the vendor embeds text only)."""
    texts = []
    for item in inputs:
        if not isinstance(item, str):
            raise UnsupportedParameterError(
                f"{vendor} embeds text only: send strings, not token ids.", param="input"
            )
        texts.append(item)
    return texts
