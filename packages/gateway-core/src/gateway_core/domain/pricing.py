"""Model prices and the cost of one call, in exact integer arithmetic.

Prices are US dollars per million tokens, as the vendors publish them, held as ``Money`` (whole
picodollars per million tokens: exact for any price with up to twelve decimal places, so
$0.075 per 1M tokens is exactly 75,000,000,000 picodollars per million). A cost is the sum of
tokens x price, divided by a million and rounded half-even to ``COST_DECIMALS`` places (a
whole number of 10^-10 USD), so that a test or an invoice can compare exact figures. No float
and no ``Decimal`` is involved once the prices are read (see ``gateway_core.domain.money``).

Prompt tokens the vendor served from its own prompt cache (``Usage.cached_tokens``) are billed
at the cached-input price; tokens written to it (``Usage.cache_write_tokens``, Anthropic's
cache_creation) at the cache-write price (``input`` when none is set); the rest of the prompt
at the input price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from gateway_core.domain.money import AmountNumber, Money
from gateway_core.domain.usage import Usage

COST_DECIMALS = 10
COST_QUANTUM = Money.usd(f"1e-{COST_DECIMALS}")
"""A call's cost is a whole number of these (10^-10 USD)."""
_TOKENS_PER_PRICE_UNIT = 1_000_000
_GLOB_CHARACTERS = frozenset("*?[")

PriceNumber = AmountNumber


def _exact(value: PriceNumber, what: str) -> Money:
    try:
        price = Money.usd(value)
    except ValueError:
        price = None
    if price is None or price < Money.ZERO:
        raise ValueError(
            f"{what} must be a finite, non-negative number with at most 12 decimal places, "
            f"not {value!r}"
        )
    return price


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. ``cached_input`` ``None`` bills cached prompt tokens as input."""

    input: Money
    output: Money
    cached_input: Money | None = None
    cache_write_input: Money | None = None
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
    def cached_input_or_input(self) -> Money:
        return self.input if self.cached_input is None else self.cached_input


FREE = Price(Money.ZERO, Money.ZERO, Money.ZERO)


def cost_of(usage: Usage, price: Price) -> Money:
    """The cost of ``usage`` at ``price``, rounded half-even to ten decimal places of USD."""
    # A vendor reporting more cached tokens than prompt tokens must not make the bill negative.
    cached = min(max(usage.cached_tokens, 0), usage.prompt_tokens)
    written = min(max(usage.cache_write_tokens, 0), usage.prompt_tokens - cached)
    write_price = price.input if price.cache_write_input is None else price.cache_write_input
    # Integers throughout (the request path prices every call): one Money at the end.
    total_per_million = Money(
        price.input.picodollars * (usage.prompt_tokens - cached - written)
        + price.cached_input_or_input.picodollars * cached
        + write_price.picodollars * written
        + price.output.picodollars * usage.completion_tokens
    )
    return total_per_million.divided(_TOKENS_PER_PRICE_UNIT, quantum=COST_QUANTUM)


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """What one call cost. ``priced`` is False when no price matched (the cost is then 0)."""

    cost_usd: Money
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
            return PriceQuote(cost_usd=Money.ZERO, priced=False)
        return PriceQuote(cost_usd=cost_of(usage, price), priced=True)

    def __len__(self) -> int:
        return len(self._exact) + len(self._patterns)
