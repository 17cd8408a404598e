"""The fields of OpenAI's answers the gateway does not model, kept to hand back unchanged.

The modelled fields are decoded into ``schema``'s Structs; this second look at the same bytes
reads each object's keys with values left as raw JSON text (``msgspec.Raw``: a slice, no
objects built) and decodes only the few values the gateway does not model (``refusal``,
``logprobs``, ``annotations``, ``service_tier``, and fields not yet invented).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway_core.domain.messages import NO_EXTRA

_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_OBJECTS = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])

# What the gateway writes itself, from its domain values: everything else is passed on.
_TOP = frozenset({"id", "object", "created", "model", "choices", "usage", "error"})
_COMPLETION = _TOP | {"system_fingerprint"}
_CHOICE = frozenset({"index", "message", "delta", "finish_reason"})
_MESSAGE = frozenset({"role", "content", "tool_calls", "reasoning_content"})

Extras = Mapping[str, Any]


def _unmodelled(fields: dict[str, msgspec.Raw], modelled: frozenset[str]) -> Extras:
    if fields.keys() <= modelled:
        return NO_EXTRA
    return {name: msgspec.json.decode(v) for name, v in fields.items() if name not in modelled}


class AnswerExtras:
    """The unmodelled fields of one completion or chunk: its own, and per choice index
    those of the choice and of its message (or delta)."""

    __slots__ = ("choices", "top")

    def __init__(self, raw: bytes | str, *, chunk: bool) -> None:
        fields = _OBJECT.decode(raw)
        self.top = _unmodelled(fields, _TOP if chunk else _COMPLETION)
        self.choices: list[tuple[Extras, Extras]] = []
        inner_name = "delta" if chunk else "message"
        choices = fields.get("choices")
        if choices is None or bytes(choices) == b"null":
            return
        for choice in _OBJECTS.decode(choices):
            inner = choice.get(inner_name)
            inner_fields = {} if inner is None or bytes(inner) == b"null" else _OBJECT.decode(inner)
            self.choices.append(
                (_unmodelled(choice, _CHOICE), _unmodelled(inner_fields, _MESSAGE))
            )

    def of_choice(self, position: int) -> tuple[Extras, Extras]:
        """The (choice, message-or-delta) extras of the choice at ``position`` in the list."""
        if position < len(self.choices):
            return self.choices[position]
        return NO_EXTRA, NO_EXTRA
