"""The model of ``config/pricing.json``: ``{"models": {"<name or glob>": {"input", "output",
"cached_input"?, "cache_write_input"?}}}``, USD per million tokens.

Top-level keys and model keys starting with ``_`` are notes. Numbers stay as parsed (the loader
parses fractions as ``Decimal``, so that ``0.175`` stays exactly 0.175); order is kept, since
patterns match in the order written.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, field_validator, model_validator

from gateway_adapters.config.validation import ConfigModel, json_number
from gateway_core.domain.pricing import Price

PriceValue = Annotated[Decimal | int | float, BeforeValidator(json_number)]


def _number_or_null(value: Any) -> Any:
    return None if value is None else json_number(value)


class PriceEntry(ConfigModel):
    input: PriceValue
    output: PriceValue
    cached_input: Annotated[Decimal | int | float | None, BeforeValidator(_number_or_null)] = None
    """``null`` or absent: cached prompt tokens are billed at the input price."""
    cache_write_input: Annotated[
        Decimal | int | float | None, BeforeValidator(_number_or_null)
    ] = None
    """``null`` or absent: tokens written to the prompt cache are billed at the input price."""

    @model_validator(mode="after")
    def _valid_price(self) -> PriceEntry:
        self.price()  # the domain's rules: finite and non-negative
        return self

    def price(self) -> Price:
        return Price.per_million(
            self.input, self.output, self.cached_input, cache_write_input=self.cache_write_input
        )


class PricingFile(ConfigModel):
    model_config = ConfigDict(extra="ignore")  # "_source", "_updated": notes

    models: dict[str, PriceEntry]

    @field_validator("models", mode="before")
    @classmethod
    def _skip_notes(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {name: entry for name, entry in value.items() if not name.startswith("_")}
