"""Money: an exact amount of US dollars, held as a whole number of picodollars.

Why an integer: a float turns 0.1 + 0.2 into 0.30000000000000004, and costs are added up all
the time (a key's month, a session's turns, a usage report). Integers add exactly and cost
less than ``Decimal`` on the request path.

Why picodollars (10^-12 USD): vendors publish prices per million tokens with up to a few
decimals ($0.075 per 1M tokens is 75,000 picodollars per token), so any price with at most 12
decimal places per million tokens is a whole number of picodollars per million, and a cost
(tokens x price / 10^6, rounded to ten decimal places by ``pricing``) is a whole number of
picodollars. The stores already counted picodollars (Redis ``HINCRBY``/``INCRBY`` on integer
fields), so their data is read as it always was.

The edge: amounts come in from decimal strings or configuration numbers (``Money.usd``, through
``Decimal``, never float arithmetic) and go out as a float (``to_float``: JSON bodies, metrics)
or a decimal string (``str``: the cost header, messages); nothing else converts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import ClassVar

PICODOLLARS_PER_USD = 10**12
_DECIMALS = 12
_MAX_DIGITS = 24
"""Amounts of 10^24 USD and more are refused: no price or budget is that big, and a config
number like ``1e999999`` must not make a 10^999999 integer."""

AmountNumber = Decimal | int | str | float
"""What ``Money.usd`` reads: a decimal string, an integer, a ``Decimal`` or a config float."""


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount of US dollars (negative only as a difference). Adds to ``Money``, multiplies
    by an ``int`` (a token count); a float is refused, so no float arithmetic touches money."""

    picodollars: int

    ZERO: ClassVar[Money]

    def __post_init__(self) -> None:
        if type(self.picodollars) is not int:
            raise TypeError(f"Money holds whole picodollars, not {type(self.picodollars).__name__}")

    @classmethod
    def usd(cls, amount: AmountNumber) -> Money:
        """``amount`` US dollars, exactly. A float (a JSON config number) is read as its
        shortest decimal spelling (``0.1`` is 0.1, not the binary fraction next to it).

        Raises ``ValueError`` for a non-finite amount or one finer than a picodollar.
        """
        if isinstance(amount, bool):
            raise ValueError(f"not an amount of money: {amount!r}")
        try:
            number = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
        except (InvalidOperation, ValueError, TypeError):
            raise ValueError(f"not an amount of money: {amount!r}") from None
        if not number.is_finite():
            raise ValueError(f"not a finite amount of money: {amount!r}")
        if not number:
            return cls(0)
        if number.adjusted() >= _MAX_DIGITS:
            raise ValueError(f"{amount!r} is more than 10^{_MAX_DIGITS} USD")
        # On the digits, not through a Decimal context (its 28-digit precision would round),
        # and trailing zeros first, so that no exponent makes a huge power of ten.
        sign, digits, exponent = number.as_tuple()
        text = "".join(map(str, digits))
        significant = text.rstrip("0")
        shift = int(exponent) + len(text) - len(significant) + _DECIMALS
        if shift < 0:
            raise ValueError(f"{amount!r} is finer than a picodollar (10^-12 USD)")
        picodollars = int(significant) * 10**shift
        return cls(-picodollars if sign else picodollars)

    @classmethod
    def total(cls, amounts: Iterable[Money]) -> Money:
        """The exact sum of ``amounts`` (``sum()`` would start from the int 0)."""
        return cls(sum(amount.picodollars for amount in amounts))

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.picodollars + other.picodollars)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.picodollars - other.picodollars)

    def __mul__(self, count: int) -> Money:
        # ``type() is int``: a bool or a float count is a bug, not a quantity.
        if type(count) is not int:
            return NotImplemented
        return Money(self.picodollars * count)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.picodollars)

    def __bool__(self) -> bool:
        return self.picodollars != 0

    def divided(self, divisor: int, *, quantum: Money) -> Money:
        """This amount divided by ``divisor``, rounded half-even to a multiple of ``quantum``:
        integer arithmetic only (a price per million tokens times tokens, over a million)."""
        if type(divisor) is not int or divisor <= 0 or quantum.picodollars <= 0:
            raise ValueError("divide by a positive int, to a positive quantum")
        step = divisor * quantum.picodollars
        quotient, remainder = divmod(self.picodollars, step)
        twice = 2 * remainder
        if twice > step or (twice == step and quotient % 2 == 1):
            quotient += 1
        return Money(quotient * quantum.picodollars)

    def to_decimal(self) -> Decimal:
        """The amount in USD as an exact ``Decimal`` (for messages and reports)."""
        return Decimal(f"{self.picodollars}E-{_DECIMALS}")  # parsing is exact at any size

    def to_float(self) -> float:
        """The amount in USD as the nearest float: for JSON bodies and metrics only."""
        # int / int is correctly rounded: the same float as float(str(self)).
        return self.picodollars / PICODOLLARS_PER_USD

    def __str__(self) -> str:
        """The amount in USD as a plain decimal, no exponent, no trailing zeros: ``0.0018``."""
        whole, fraction = divmod(abs(self.picodollars), PICODOLLARS_PER_USD)
        sign = "-" if self.picodollars < 0 else ""
        if not fraction:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{fraction:012d}".rstrip("0")

    def __repr__(self) -> str:
        return f"Money.usd('{self}')"


Money.ZERO = Money(0)
