"""Read the price table from ``config/pricing.json``.

The file's format is ``gateway_adapters.config.pricing``. Numbers are parsed as ``Decimal`` so
that ``0.175`` stays exactly 0.175. Every mistake names the file, the entry and the field, so a
bad deploy fails at start-up with a message an operator can act on, never later with a wrong
bill.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway_adapters.config.pricing import PricingFile
from gateway_adapters.config.validation import ConfigFileError, validate
from gateway_core.domain.pricing import PriceTable


class PricingFileError(ConfigFileError):
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
    checked = validate(PricingFile, data, source=origin, error=PricingFileError)
    return PriceTable.from_entries((name, entry.price()) for name, entry in checked.models.items())
