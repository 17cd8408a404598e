"""Fixtures of the shared ChatProvider contract suite (test_chat_provider_contract.py).

The per-vendor files define their own ``provider``; these apply where a test asks for
``vendor``, which runs it once per adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from gateway_core.ports.providers import ChatProvider
from tests.contract.providers.chat_vendors import VENDORS, OpenProvider, ReplayedIds, Vendor
from tests.support.fake_upstream import (
    FakeUpstream,
    anthropic_wire,
    bedrock_wire,
    gemini_wire,
    openai_wire,
)

TIMEOUT = 10.0  # generous: the first Anthropic request builds the fake's SDK validator


@pytest.fixture(params=VENDORS, ids=str)
def vendor(request: pytest.FixtureRequest) -> Vendor:
    return request.param


@pytest.fixture
async def connect(vendor: Vendor, fake_upstream: FakeUpstream) -> AsyncIterator[OpenProvider]:
    """Opens the vendor's adapter (by default on the fake upstream); closed after the test."""
    async with AsyncExitStack() as clients:

        async def open_provider(
            base_url: str = fake_upstream.url, timeout: float = TIMEOUT
        ) -> ChatProvider:
            return await clients.enter_async_context(vendor.connect(base_url, timeout))

        yield open_provider


@pytest.fixture
async def provider(connect: OpenProvider) -> ChatProvider:
    return await connect()


@pytest.fixture
def replayed_ids(monkeypatch: pytest.MonkeyPatch) -> ReplayedIds:
    ids = ReplayedIds()
    for dialect in (openai_wire, anthropic_wire, gemini_wire, bedrock_wire):
        monkeypatch.setattr(dialect, "uuid", ids)
    return ids
