"""Fallback: a route's targets in order; retryable failures fall over, each one reported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import pytest

from gateway_core.domain.routing import Target
from gateway_core.errors import (
    ProviderError,
    ProviderNotConfiguredError,
    UpstreamBadRequestError,
    UpstreamOverloadedError,
)
from gateway_core.use_cases.fallback import Fallback

TARGETS = (Target("a", "m-a"), Target("b", "m-b"), Target("c", "m-c"))


def _scripted(
    outcomes: Mapping[str, Exception | str],
) -> tuple[list[str], Callable[[Target], Awaitable[str]]]:
    tried: list[str] = []

    async def attempt(target: Target) -> str:
        tried.append(target.provider)
        outcome = outcomes[target.provider]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return tried, attempt


async def test_retryable_failures_fall_over_and_every_one_is_reported() -> None:
    reported: list[ProviderError] = []
    busy = UpstreamOverloadedError("busy", provider="a")
    unconfigured = ProviderNotConfiguredError("no key for b")
    tried, attempt = _scripted({"a": busy, "b": unconfigured, "c": "answer"})
    answer = await Fallback(reported.append).first_success(TARGETS, attempt)
    assert (answer, tried, reported) == ("answer", ["a", "b", "c"], [busy])


async def test_a_failure_that_is_not_retryable_stops_at_once() -> None:
    reported: list[ProviderError] = []
    refused = UpstreamBadRequestError("bad request", provider="a")
    tried, attempt = _scripted({"a": refused, "b": "never"})
    with pytest.raises(UpstreamBadRequestError):
        await Fallback(reported.append).first_success(TARGETS, attempt)
    assert (tried, reported) == (["a"], [refused])


async def test_the_last_targets_failure_is_raised() -> None:
    tried, attempt = _scripted({name: UpstreamOverloadedError(name) for name in "abc"})
    with pytest.raises(UpstreamOverloadedError, match="c"):
        await Fallback().first_success(TARGETS, attempt)
    assert tried == ["a", "b", "c"]
