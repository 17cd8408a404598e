"""The fields of OpenAI's answers the gateway does not model, kept to hand back unchanged.

The modelled fields are decoded into ``schema``'s Structs; this second look at the same bytes
decodes them as plain objects and keeps what the gateway does not model (``refusal``,
``logprobs``, ``annotations``, ``service_tier``, and fields not yet invented).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway_core.domain.messages import NO_EXTRA

_OBJECT = msgspec.json.Decoder(dict[str, Any])

# What the gateway writes itself, from its domain values: everything else is passed on.
_TOP = frozenset({"id", "object", "created", "model", "choices", "usage", "error"})
_COMPLETION = _TOP | {"system_fingerprint"}
_CHOICE = frozenset({"index", "message", "delta", "finish_reason"})
_MESSAGE = frozenset({"role", "content", "tool_calls", "reasoning_content"})

Extras = Mapping[str, Any]


def _unmodelled(fields: dict[str, Any], modelled: frozenset[str]) -> Extras:
    if fields.keys() <= modelled:
        return NO_EXTRA
    return {name: value for name, value in fields.items() if name not in modelled}


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise msgspec.ValidationError("Expected `object` for a choice or its message")
    return value


class AnswerExtras:
    """The unmodelled fields of one completion or chunk: its own, and per choice index
    those of the choice and of its message (or delta)."""

    __slots__ = ("choices", "top")

    def __init__(self, raw: bytes | str, *, chunk: bool) -> None:
        # One generic decode of the whole answer: cheaper than a decode per nested object
        # with raw values (and a decode per unmodelled value), the more so the longer it is.
        fields = _OBJECT.decode(raw)
        self.top = _unmodelled(fields, _TOP if chunk else _COMPLETION)
        self.choices: list[tuple[Extras, Extras]] = []
        inner_name = "delta" if chunk else "message"
        choices = fields.get("choices")
        if choices is None:
            return
        if not isinstance(choices, list):
            raise msgspec.ValidationError("Expected `array` for `choices`")
        for item in choices:
            choice = _object(item)
            inner = choice.get(inner_name)
            inner_extra = NO_EXTRA if inner is None else _unmodelled(_object(inner), _MESSAGE)
            self.choices.append((_unmodelled(choice, _CHOICE), inner_extra))

    def of_choice(self, position: int) -> tuple[Extras, Extras]:
        """The (choice, message-or-delta) extras of the choice at ``position`` in the list."""
        if position < len(self.choices):
            return self.choices[position]
        return NO_EXTRA, NO_EXTRA
