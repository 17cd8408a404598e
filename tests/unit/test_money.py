"""Money: exact sums, exact parsing, and the edge conversions (float, decimal string).

The model: ``decimal.Decimal`` with enough precision that nothing rounds, against which every
``Money`` operation must agree to the picodollar.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.domain.money import Money

EXACT = decimal.Context(prec=100)
PICODOLLAR = Decimal("1e-12")
COST_QUANTUM = Money.usd("1e-10")

amounts = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=12, allow_nan=False
)
"""Up to a billion dollars either way, to the picodollar."""


@given(st.lists(amounts, max_size=50))
def test_a_sum_of_money_is_the_exact_decimal_sum(values: list[Decimal]) -> None:
    total = Money.total(Money.usd(value) for value in values)
    assert total.to_decimal() == reduce(EXACT.add, values, Decimal(0))
    by_addition = Money.ZERO
    for value in values:
        by_addition = by_addition + Money.usd(value)
    assert by_addition == total


@given(amounts, amounts)
def test_subtraction_undoes_addition(a: Decimal, b: Decimal) -> None:
    assert (Money.usd(a) + Money.usd(b)) - Money.usd(b) == Money.usd(a)


@given(amounts, st.integers(0, 10**9))
def test_multiplying_by_a_token_count_is_exact(price: Decimal, tokens: int) -> None:
    product = Money.usd(price) * tokens
    assert product == tokens * Money.usd(price)
    assert product.to_decimal() == EXACT.multiply(price, Decimal(tokens))


@given(amounts)
def test_a_decimal_string_round_trips(value: Decimal) -> None:
    money = Money.usd(value)
    assert Money.usd(str(money)) == money
    assert Decimal(str(money)) == value
    assert "e" not in str(money).lower()


@given(st.decimals(min_value=0, max_value=Decimal("1e5"), places=10, allow_nan=False))
def test_a_cost_round_trips_through_the_json_float(value: Decimal) -> None:
    """Ten decimals (a priced call) up to a hundred thousand dollars survive float and back:
    15 significant digits, what a double keeps for any decimal (a million dollars with ten
    decimals is 16 digits, which a double does not always keep: 536714.8875477786 does not)."""
    money = Money.usd(value)
    assert Money.usd(money.to_float()) == money


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_a_config_float_is_read_as_its_shortest_decimal_spelling(number: float) -> None:
    spelled = Decimal(repr(number))
    if spelled != spelled.quantize(PICODOLLAR, context=EXACT):
        with pytest.raises(ValueError, match="finer than a picodollar"):
            Money.usd(number)
        return
    assert Money.usd(number).to_decimal() == spelled
    assert Money.usd(number).to_float() == number


@given(st.integers(-(10**20), 10**20), st.integers(1, 10**8))
def test_division_rounds_half_even_to_the_quantum(picodollars: int, divisor: int) -> None:
    result = Money(picodollars).divided(divisor, quantum=COST_QUANTUM)
    exact = EXACT.divide(Decimal(picodollars), Decimal(divisor * 100))
    expected = exact.quantize(Decimal(1), rounding=decimal.ROUND_HALF_EVEN, context=EXACT) * 100
    assert result.picodollars == int(expected)


def test_known_spellings() -> None:
    assert str(Money.usd("0.0018")) == "0.0018"
    assert str(Money.usd(35)) == "35"
    assert str(Money.ZERO) == "0"
    assert str(Money.usd("-0.5")) == "-0.5"
    assert str(Money.usd("1e-12")) == "0.000000000001"
    assert Money.usd("0.075").picodollars == 75_000_000_000
    assert Money.usd(0.1) + Money.usd(0.2) == Money.usd("0.3")
    assert (Money.usd(0.1) + Money.usd(0.2)).to_float() == 0.3
    assert repr(Money.usd("12.5")) == "Money.usd('12.5')"


def test_amounts_beyond_a_decimal_contexts_precision_stay_exact() -> None:
    """29 and more digits: a default ``Decimal`` context (28 digits) would round them."""
    big = "12345678901234567.123456789012"
    assert str(Money.usd(big)) == big
    assert Money.usd(big).to_decimal() == Decimal(big)
    assert Money.usd("0E-1000000") == Money.ZERO
    assert Money.usd("1.000000000000000000000000") == Money.usd(1)


@pytest.mark.parametrize(
    "bad",
    ["nan", "inf", "-inf", "1e-13", "0.0000000000001", "abc", True, "1e24", "1e999999999",
     "1e-999999999"],
)
def test_what_is_not_an_exact_amount_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        Money.usd(bad)  # type: ignore[arg-type]


def test_money_never_meets_a_float() -> None:
    one = Money.usd(1)
    with pytest.raises(TypeError):
        Money(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        one * 0.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        one * True  # a bool is not a token count
    with pytest.raises(TypeError):
        one + 0.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        one - 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        assert one < 2  # type: ignore[operator]
    assert one != 1.0  # never equal to a number: compare Money with Money


def test_money_is_immutable_and_hashable() -> None:
    amount = Money.usd("2.5")
    with pytest.raises(AttributeError):
        amount.picodollars = 1  # type: ignore[misc]
    assert {amount: "x"}[Money.usd(2.5)] == "x"
    assert sorted([Money.usd(3), Money.ZERO, Money.usd(-1)]) == [
        Money.usd(-1),
        Money.ZERO,
        Money.usd(3),
    ]
    assert not Money.ZERO and Money.usd("0.000000000001")
