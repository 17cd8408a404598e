"""``decode_body``: what every JSON route refuses, with a 400 naming the problem."""

from __future__ import annotations

import msgspec
import pytest

from gateway_core.errors import ForbiddenParameterError, InvalidRequestError
from gateway_http.schemas.json_body import decode_body


class Body(msgspec.Struct):
    model: str
    extra: object = None


_decoder = msgspec.json.Decoder(Body)


def test_invalid_utf8_is_named() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decode_body(_decoder, b'{"model": "\xff\xfe"}')
    assert caught.value.code == "invalid_utf8"
    assert "UTF-8" in caught.value.message


def test_deep_nesting_is_named() -> None:
    raw = b'{"model": "m", "extra": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    with pytest.raises(InvalidRequestError) as caught:
        decode_body(_decoder, raw)
    assert caught.value.code == "json_too_deep"


@pytest.mark.parametrize("field", ["api_base", "base_url", "api_key"])
def test_upstream_overrides_are_refused_by_name(field: str) -> None:
    with pytest.raises(ForbiddenParameterError) as caught:
        decode_body(_decoder, msgspec.json.encode({"model": "m", field: "http://evil.example"}))
    assert caught.value.param == field


def test_the_same_names_below_the_top_level_are_data() -> None:
    raw = msgspec.json.encode({"model": "m", "extra": {"api_key": "a tool's own field"}})
    assert decode_body(_decoder, raw).model == "m"


def test_a_null_override_is_no_override() -> None:
    assert decode_body(_decoder, b'{"model": "m", "api_key": null}').model == "m"
