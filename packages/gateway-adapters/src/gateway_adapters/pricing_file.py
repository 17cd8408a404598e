"""Read the price table from ``config/pricing.json``.

The file is ``{"models": {"<name or glob>": {"input", "output", "cached_input"?, "cache_write_input"?}}}``, prices
in USD per million tokens; top-level keys and model keys starting with ``_`` are notes. Numbers
are parsed as ``Decimal`` so that ``0.175`` stays exactly 0.175. Order is kept: patterns match
in the order written. Every mistake names the file and the entry, so a bad deploy fails at
start-up with a message an operator can act on, never later with a wrong bill.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway_core.domain.pricing import Price, PriceTable

_FIELDS = frozenset({"input", "output", "cached_input", "cache_write_input"})
_REQUIRED = ("input", "output")


class PricingFileError(ValueError):
    """The pricing file is missing, is not JSON, or has an entry that is not a valid price."""


def load_price_table(path: str | Path) -> PriceTable:
    """Read and check the pricing file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PricingFileError(f"Cannot read the pricing file {path}: {error.strerror}") from error
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise PricingFileError(
            f"The pricing file {path} is not valid JSON (line {error.lineno}): {error.msg}"
        ) from error
    return parse_price_table(data, origin=str(path))


def parse_price_table(data: Any, *, origin: str = "pricing") -> PriceTable:
    """Build a ``PriceTable`` from the file's parsed JSON (floats ideally as ``Decimal``)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("models"), Mapping):
        raise PricingFileError(f'{origin}: expected an object with a "models" object')
    entries = [
        (name, _price(entry, f"{origin}: models[{name!r}]"))
        for name, entry in data["models"].items()
        if not name.startswith("_")
    ]
    return PriceTable.from_entries(entries)


def _price(entry: Any, where: str) -> Price:
    if not isinstance(entry, Mapping):
        raise PricingFileError(f"{where}: expected an object with input and output prices")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise PricingFileError(
            f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(_FIELDS))}"
        )
    missing = [field for field in _REQUIRED if field not in entry]
    if missing:
        raise PricingFileError(f"{where}: missing {', '.join(missing)}")
    for field, value in entry.items():
        if field in ("cached_input", "cache_write_input") and value is None:
            continue  # null: those prompt tokens are billed at the input price
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
            raise PricingFileError(f"{where}.{field}: expected a number, got {value!r}")
    try:
        return Price.per_million(
            entry["input"],
            entry["output"],
            entry.get("cached_input"),
            entry.get("cache_write_input"),
        )
    except ValueError as error:
        raise PricingFileError(f"{where}: {error}") from error
