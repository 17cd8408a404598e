"""Model prices and the cost of one call, in exact decimal arithmetic.

Prices are US dollars per million tokens, as the vendors publish them. Costs are computed with
``Decimal`` (a float would turn 3 x $0.1 into $0.30000000000000004) and handed out as a float
rounded to ``COST_DECIMALS`` places, so that a test or an invoice can compare exact figures.
Stores that add costs up keep them as integer picodollars (``to_picodollars``), which stays
exact for any cost rounded to ten places.

Prompt tokens the vendor served from its own prompt cache (``Usage.cached_tokens``) are billed
at the cached-input price; tokens written to it (``Usage.cache_write_tokens``, Anthropic's
cache_creation) at the cache-write price (``input`` when none is set); the rest of the prompt
at the input price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fnmatch import fnmatchcase

from gateway_core.domain.usage import Usage

COST_DECIMALS = 10
_COST_QUANTUM = Decimal(1).scaleb(-COST_DECIMALS)
_PICODOLLARS_PER_USD = 10**12
_TOKENS_PER_PRICE_UNIT = 1_000_000
_GLOB_CHARACTERS = frozenset("*?[")

PriceNumber = Decimal | int | str | float


def _exact(value: PriceNumber, what: str) -> Decimal:
    # str(float) first: Decimal(0.1) would carry the float's binary error into every bill.
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number < 0:
        raise ValueError(f"{what} must be a finite, non-negative number, not {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. ``cached_input`` ``None`` bills cached prompt tokens as input."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write_input: Decimal | None = None
    """Per million prompt tokens written to the vendor's prompt cache; ``None``: ``input``."""

    @classmethod
    def per_million(
        cls,
        input: PriceNumber,
        output: PriceNumber,
        cached_input: PriceNumber | None = None,
        cache_write_input: PriceNumber | None = None,
    ) -> Price:
        """Build a price from numbers or decimal strings, checking each one."""
        return cls(
            input=_exact(input, "input price"),
            output=_exact(output, "output price"),
            cached_input=None if cached_input is None else _exact(cached_input, "cached price"),
            cache_write_input=(
                None
                if cache_write_input is None
                else _exact(cache_write_input, "cache write price")
            ),
        )

    @property
    def cached_input_or_input(self) -> Decimal:
        return self.input if self.cached_input is None else self.cached_input


FREE = Price(Decimal(0), Decimal(0), Decimal(0))


def cost_decimal(usage: Usage, price: Price) -> Decimal:
    """The exact cost of ``usage`` at ``price``, unrounded."""
    # A vendor reporting more cached tokens than prompt tokens must not make the bill negative.
    cached = min(max(usage.cached_tokens, 0), usage.prompt_tokens)
    written = min(max(usage.cache_write_tokens, 0), usage.prompt_tokens - cached)
    write_price = price.input if price.cache_write_input is None else price.cache_write_input
    total_per_million = (
        (usage.prompt_tokens - cached - written) * price.input
        + cached * price.cached_input_or_input
        + written * write_price
        + usage.completion_tokens * price.output
    )
    return total_per_million / _TOKENS_PER_PRICE_UNIT


def cost_usd(usage: Usage, price: Price) -> float:
    """The cost of ``usage`` at ``price`` in USD, rounded half-even to ten decimal places."""
    return float(cost_decimal(usage, price).quantize(_COST_QUANTUM, rounding=ROUND_HALF_EVEN))


def to_picodollars(cost: float) -> int:
    """A cost in USD as whole picodollars, exact for any cost rounded to ten places.

    ``repr`` gives the shortest decimal that reads back as the same float, which for a cost
    produced by ``cost_usd`` is the rounded decimal itself.
    """
    return int((Decimal(repr(cost)) * _PICODOLLARS_PER_USD).to_integral_value(ROUND_HALF_EVEN))


def from_picodollars(picodollars: int) -> float:
    """Whole picodollars back to USD, rounded like ``cost_usd``."""
    usd = Decimal(picodollars) / _PICODOLLARS_PER_USD
    return float(usd.quantize(_COST_QUANTUM, rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """What one call cost. ``priced`` is False when no price matched (the cost is then 0)."""

    cost_usd: float
    priced: bool


class PriceTable:
    """Prices by model name. Exact names win; then glob patterns (``claude-*``) in the order
    given, first match. A model nothing matches costs 0 and is quoted as unpriced."""

    __slots__ = ("_exact", "_patterns")

    def __init__(
        self,
        exact: Mapping[str, Price] | None = None,
        patterns: Iterable[tuple[str, Price]] = (),
    ) -> None:
        self._exact = dict(exact or {})
        self._patterns = tuple(patterns)

    @classmethod
    def from_entries(cls, entries: Iterable[tuple[str, Price]]) -> PriceTable:
        """One ordered list of names and patterns; a name with ``*``, ``?`` or ``[`` is a glob."""
        exact: dict[str, Price] = {}
        patterns: list[tuple[str, Price]] = []
        for name, price in entries:
            if _GLOB_CHARACTERS.intersection(name):
                patterns.append((name, price))
            else:
                exact[name] = price
        return cls(exact, patterns)

    def price_of(self, model: str) -> Price | None:
        price = self._exact.get(model)
        if price is not None:
            return price
        return next((p for pattern, p in self._patterns if fnmatchcase(model, pattern)), None)

    def quote(self, model: str, usage: Usage) -> PriceQuote:
        price = self.price_of(model)
        if price is None:
            return PriceQuote(cost_usd=0.0, priced=False)
        return PriceQuote(cost_usd=cost_usd(usage, price), priced=True)

    def __len__(self) -> int:
        return len(self._exact) + len(self._patterns)
