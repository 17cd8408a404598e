"""How the pieces of a field the gateway does not model add up over a stream.

A streamed answer spreads the fields of a message over its chunks (``refusal`` text in pieces,
``logprobs.content`` entries a few at a time, Anthropic's ``thinking_blocks`` one whole block
per delta, ``audio`` with its ``data`` and ``transcript`` in pieces). ``merged`` puts them back
as the JSON answer would have them, by the rules the OpenAI SDKs use to rebuild a completion
from its chunks:

- text is joined; a list of objects that carry an ``index`` is merged entry by entry, any
  other list is extended; objects are merged key by key;
- ``id``, ``index`` and ``type`` name a thing rather than add to it: the newest value stands;
- ``null`` adds nothing (OpenAI sends ``"refusal": null`` on its first delta); a number,
  boolean or change of type replaces what was there.

Nothing given is modified: values are copied on the way in, so a chunk still being relayed to
a client never changes under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NAMING_KEYS = frozenset({"id", "index", "type"})


def merged(so_far: Any, piece: Any) -> Any:
    """``so_far`` with ``piece`` added; ``so_far`` may be changed in place (it is our copy)."""
    if piece is None:
        return so_far
    if so_far is None:
        return copied(piece)
    if isinstance(so_far, str) and isinstance(piece, str):
        return so_far + piece
    if isinstance(so_far, list) and isinstance(piece, list):
        return _merged_lists(so_far, piece)
    if isinstance(so_far, dict) and isinstance(piece, Mapping):
        return merged_fields(so_far, piece)
    return copied(piece)


def merged_fields(so_far: dict[str, Any], piece: Mapping[str, Any]) -> dict[str, Any]:
    """``so_far`` with each field of ``piece`` added (in place, and returned)."""
    for name, value in piece.items():
        if name in _NAMING_KEYS and value is not None:
            so_far[name] = value
        elif name in so_far:
            so_far[name] = merged(so_far[name], value)
        else:
            so_far[name] = copied(value)
    return so_far


def _merged_lists(so_far: list[Any], piece: list[Any]) -> list[Any]:
    for entry in piece:
        position = _indexed_position(so_far, entry)
        if position is None:
            so_far.append(copied(entry))
        else:
            so_far[position] = merged(so_far[position], entry)
    return so_far


def _indexed_position(entries: list[Any], entry: Any) -> int | None:
    """Where the entry with ``entry``'s ``index`` already is, if it has one and is there."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("index"), int):
        return None
    index = entry["index"]
    for position, seen in enumerate(entries):
        if isinstance(seen, dict) and seen.get("index") == index:
            return position
    return None


def copied(value: Any) -> Any:
    """A copy of a decoded JSON value whose objects and lists are new (tuples become lists)."""
    if isinstance(value, Mapping):
        return {name: copied(inner) for name, inner in value.items()}
    if isinstance(value, list | tuple):
        return [copied(inner) for inner in value]
    return value
