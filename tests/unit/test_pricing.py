"""Prices and costs: exact figures for known token counts, and the price table's matching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_adapters.pricing_file import PricingFileError, load_price_table, parse_price_table
from gateway_core.domain.money import Money
from gateway_core.domain.pricing import Price, PriceTable, cost_of
from gateway_core.domain.usage import Usage

PRICING_FILE = Path(__file__).resolve().parents[2] / "config" / "pricing.json"

GPT_4O = Price.per_million("2.50", "10.00", "1.25")
GPT_5_2 = Price.per_million("1.75", "14.00", "0.175")
OPUS_4_5 = Price.per_million(5, 25, "0.50")


@pytest.mark.parametrize(
    ("usage", "price", "expected"),
    [
        # 1,000 x $2.50/M + 500 x $10/M = $0.0025 + $0.005
        (Usage(prompt_tokens=1_000, completion_tokens=500), GPT_4O, 0.0075),
        # 800 uncached x $2.50/M + 200 cached x $1.25/M + 500 x $10/M = 0.002 + 0.00025 + 0.005
        (Usage(prompt_tokens=1_000, completion_tokens=500, cached_tokens=200), GPT_4O, 0.00725),
        # 1 token at $0.175/M: the smallest figure must not be lost to rounding
        (Usage(prompt_tokens=1, cached_tokens=1), GPT_5_2, 0.000000175),
        (Usage(prompt_tokens=3, completion_tokens=7), GPT_5_2, 0.00010325),
        (Usage(prompt_tokens=2_000_000, completion_tokens=1_000_000), OPUS_4_5, 35.0),
        (Usage(), OPUS_4_5, 0.0),
    ],
)
def test_cost_is_exact_for_known_token_counts(usage: Usage, price: Price, expected: float) -> None:
    assert cost_of(usage, price) == Money.usd(expected)


def test_cached_tokens_default_to_the_input_price_when_no_cached_price_is_set() -> None:
    gpt_4 = Price.per_million(30, 60)
    assert cost_of(Usage(prompt_tokens=100, cached_tokens=100), gpt_4) == Money.usd("0.003")


def test_more_cached_than_prompt_tokens_never_bills_below_zero() -> None:
    assert cost_of(Usage(prompt_tokens=10, cached_tokens=50), GPT_4O) == Money.usd("0.0000125")


def test_a_price_of_a_fraction_of_a_cent_per_million_is_exact() -> None:
    flash = Price.per_million("0.075", "0.30")
    assert flash.input == Money(75_000_000_000)  # picodollars per million tokens
    assert cost_of(Usage(prompt_tokens=1), flash) == Money.usd("0.000000075")
    assert cost_of(Usage(prompt_tokens=1_000_000), flash) == Money.usd("0.075")


def test_a_float_price_is_read_as_its_decimal_spelling() -> None:
    assert Price.per_million(0.1, 0.2).input == Money.usd("0.1")


@pytest.mark.parametrize("bad", [-1, "nan", "inf", "-0.5"])
def test_negative_or_infinite_prices_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="input price"):
        Price.per_million(bad, 1)  # type: ignore[arg-type]


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9))
def test_every_cost_round_trips_through_the_json_edge(
    prompt: int, completion: int, cached: int
) -> None:
    cost = cost_of(Usage(prompt, completion, min(cached, prompt)), GPT_5_2)
    assert Money.usd(cost.to_float()) == cost
    assert Money.usd(str(cost)) == cost


def test_summing_money_is_exact_where_floats_are_not() -> None:
    costs = [0.1, 0.2]
    assert sum(costs) != 0.3
    assert Money.total(Money.usd(cost) for cost in costs).to_float() == 0.3


def test_exact_names_win_over_patterns_and_patterns_match_in_order() -> None:
    opus, sonnet, anything = (
        Price.per_million(15, 75),
        Price.per_million(3, 15),
        Price.per_million(1, 1),
    )
    table = PriceTable.from_entries(
        [("claude-*", anything), ("claude-sonnet-*", sonnet), ("claude-sonnet-4-5", opus)]
    )
    assert table.price_of("claude-sonnet-4-5") is opus
    assert table.price_of("claude-sonnet-4-20250514") is anything
    assert table.price_of("gpt-4o") is None


def test_an_unknown_model_costs_nothing_and_is_flagged_unpriced() -> None:
    quote = PriceTable.from_entries([("gpt-4o", GPT_4O)]).quote("mystery", Usage(10, 10))
    assert (quote.cost_usd, quote.priced) == (Money.ZERO, False)


@pytest.mark.parametrize(
    ("model", "usage", "expected"),
    [
        ("gpt-4", Usage(1_000, 1_000), 0.09),
        ("gpt-4o", Usage(1_000, 500, 200), 0.00725),
        # 6,000 x $1.75 + 4,000 x $0.175 + 1,000 x $14, per million
        ("gpt-5.2", Usage(10_000, 1_000, 4_000), 0.0252),
        ("claude-sonnet-4-5-20250929", Usage(1_000, 1_000, 1_000), 0.0153),
        ("claude-sonnet-4-20250514", Usage(1_000, 1_000), 0.018),
        ("claude-opus-4-20250514", Usage(1_000, 1_000), 0.09),
        ("claude-opus-4.5", Usage(1_000, 1_000), 0.03),
        ("gpt-4o-2024-08-06", Usage(1_000, 0), 0.0025),
        ("qwen3.5-9b", Usage(1_000, 1_000), 0.0),
        # Names are the model ids providers report, after routing: no "ollama/" prefix.
        ("llama3.2", Usage(1_000, 1_000), 0.0),
        ("deepseek-chat", Usage(1_000_000, 1_000_000), 0.7),
    ],
)
def test_the_shipped_pricing_file_prices_the_consumers_models(
    model: str, usage: Usage, expected: float
) -> None:
    quote = load_price_table(PRICING_FILE).quote(model, usage)
    assert quote.priced
    assert quote.cost_usd == Money.usd(expected)


def test_the_shipped_pricing_file_says_where_its_numbers_come_from() -> None:
    notes = json.loads(PRICING_FILE.read_text())
    assert "pricing" in notes["_source"] and notes["_updated"] and notes["_how_to_update"]


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"gpt-4o": {"input": 1}}, "'output' is required"),
        ({"gpt-4o": {"input": 1, "output": 2, "cache_input": 1}}, "unknown field"),
        ({"gpt-4o": {"input": "1", "output": 2}}, "'input' must be a number"),
        ({"gpt-4o": {"input": -1, "output": 2}}, "non-negative"),
        ({"gpt-4o": {"input": 1e-13, "output": 2}}, "at most 12 decimal places"),
        ({"gpt-4o": [1, 2]}, "expected an object"),
    ],
)
def test_a_bad_entry_names_the_model_and_the_mistake(models: object, message: str) -> None:
    with pytest.raises(PricingFileError, match=message) as raised:
        parse_price_table({"models": models}, origin="pricing.json")
    assert "models['gpt-4o']" in str(raised.value)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PricingFileError, match="Cannot read"):
        load_price_table(tmp_path / "absent.json")
    broken = tmp_path / "pricing.json"
    broken.write_text('{"models": {')
    with pytest.raises(PricingFileError, match="not valid JSON"):
        load_price_table(broken)


def test_notes_are_skipped_and_null_cached_price_means_input_price() -> None:
    table = parse_price_table(
        {
            "_source": "x",
            "models": {"_note": "y", "m": {"input": 2, "output": 4, "cached_input": None}},
        }
    )
    assert len(table) == 1
    assert (
        cost_of(Usage(prompt_tokens=1_000_000, cached_tokens=500_000), table.price_of("m"))
        == Money.usd(2)
    )
