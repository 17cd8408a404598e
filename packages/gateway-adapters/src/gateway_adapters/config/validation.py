"""One way to check a config file: a pydantic model, and one formatter for its mistakes.

Every config input (``config/providers.json``, ``config/tools.json``, ``config/pricing.json``,
the keys file and ``LLM_GATEWAY_API_KEYS``) is a pydantic model validated by ``validate``.
Each mistake becomes one line that names the source, the entry and the field::

    config/pricing.json: models['gpt-4o']: 'output' is required
    keys file /etc/gw/keys.json: entry 2 (id 'ci'): 'requests_per_minute' must be a positive integer

A line never holds the value that was given: a keys file may hold a pasted secret and a
provider's headers may hold a token. pydantic's own rendering of an error (``str(error)``)
prints ``input_value=...``, so it is never used, and the ``ValidationError`` is not chained
(a log that prints the cause would print the input).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

Location = tuple[str | int, ...]
_SHOULD = re.compile(r"^(Input|String|List|Dictionary|Tuple|Value) should ")
Model = TypeVar("Model", bound=BaseModel)

EntryNamer = Callable[[Location, Any], str]
"""Names an entry from its place in the document and the entry as written."""


class ConfigFileError(ValueError):
    """A config input that cannot be used: the message names the source, entry and field."""


class ConfigModel(BaseModel):
    """A config object: unknown fields refused, no type coercion, immutable once read."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def validate(
    model: type[Model],
    document: Any,
    *,
    source: str,
    error: type[ConfigFileError] = ConfigFileError,
    entry_depth: int = 2,
    name_entry: EntryNamer | None = None,
) -> Model:
    """``document`` as ``model``, or ``error`` with every mistake, one line each.

    The first ``entry_depth`` parts of a mistake's location name the entry (``providers``,
    ``'openai'``), the rest the field; ``name_entry`` may name entries better (``entry 2 (id
    'ci')``) from the entry as written.
    """
    try:
        return model.model_validate(document)
    except ValidationError as invalid:
        lines = [
            describe(details, document, entry_depth, name_entry or name_by_place)
            for details in invalid.errors()
        ]
    raise error("\n".join(f"{source}: {line}" for line in _unique(lines))) from None


def describe(details: ErrorDetails, document: Any, entry_depth: int, name_entry: EntryNamer) -> str:
    """One mistake: ``<entry>: <sentence about the field>``, with no value in it."""
    location = tuple(details["loc"])
    entry, field = location[:entry_depth], location[entry_depth:]
    if len(location) < entry_depth:
        entry, field = (), location
    sentence = _redact(_sentence(details, field), details.get("input"))
    if not entry:
        return sentence
    return f"{name_entry(entry, _written(document, entry))}: {sentence}"


def name_by_place(entry: Location, written: Any) -> str:
    """``providers['openai']``, ``tools[0]``: the collection and the key or index."""
    collection, *keys = entry
    return str(collection) + "".join(f"[{key!r}]" for key in keys)


def field_name(field: Location) -> str:
    """``http.url``, ``allowed_models[0]``: a field's path as an operator would write it."""
    text = ""
    for part in field:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _sentence(details: ErrorDetails, field: Location) -> str:
    kind, message = details["type"], details["msg"]
    name = f"'{field_name(field)}'" if field else ""
    if kind == "missing":
        return f"{name} is required"
    if kind == "extra_forbidden":
        return f"unknown field {name}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{name} must be an object" if name else "expected an object"
    if kind in ("value_error", "assertion_error"):
        message = str(details.get("ctx", {}).get("error", message))
    elif _SHOULD.match(message):
        message = _SHOULD.sub("must ", message, count=1)
    if not name:
        return message
    return f"{name} {message}" if message.startswith("must") else f"{name}: {message}"


def _redact(sentence: str, given: Any) -> str:
    # pydantic's messages name what was expected, not what was given; this is the belt to
    # those braces, for a message that one day quotes its input.
    if isinstance(given, str) and len(given) >= 8 and given in sentence:
        return sentence.replace(given, "<redacted>")
    return sentence


def _written(document: Any, place: Location) -> Any:
    for part in place:
        try:
            document = document[part]
        except (KeyError, IndexError, TypeError):
            return None
    return document


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def json_number(value: Any) -> Any:
    """A before-validator: a JSON number (not ``true``), kept as given (``Decimal`` stays)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return value


def json_integer(value: Any) -> Any:
    """A before-validator: a JSON integer; ``3.0`` counts (as in JSON Schema), ``true`` not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    return value
