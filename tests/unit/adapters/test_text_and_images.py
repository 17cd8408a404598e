"""Gemini and Bedrock refuse, by name, what they cannot take (it used to be AttributeErrors)."""

from __future__ import annotations

import pytest

from gateway_adapters.providers.text_and_images import image_part, text_inputs
from gateway_core.domain.messages import ImagePart, OpaquePart
from gateway_core.errors import UnsupportedParameterError


def test_an_image_passes_and_an_audio_part_is_refused_naming_the_vendor() -> None:
    image = ImagePart("https://example.test/a.png")
    assert image_part(image, "Gemini") is image
    with pytest.raises(UnsupportedParameterError, match="Bedrock does not take 'input_audio'"):
        image_part(OpaquePart("input_audio", {"data": "...", "format": "wav"}), "Bedrock")


def test_token_id_inputs_are_refused_and_texts_pass() -> None:
    assert text_inputs(["a", "b"], "Gemini") == ["a", "b"]
    with pytest.raises(UnsupportedParameterError) as refused:
        text_inputs(["a", (1, 2, 3)], "Gemini")
    assert refused.value.param == "input"
