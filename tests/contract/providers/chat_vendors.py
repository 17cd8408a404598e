"""The three ChatProvider adapters as data for the shared contract suite: how to open one
against an upstream URL, and what its vendor says natively (stop reasons, error statuses).
The fixtures built on them are in conftest.py."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import httpx
from gateway_adapters.http1 import Http1Client
from gateway_adapters.providers.anthropic import AnthropicChatProvider
from gateway_adapters.providers.ollama import OllamaChatProvider
from gateway_adapters.providers.openai import OpenAIChatProvider
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import Message
from gateway_core.ports.providers import ChatProvider

from tests.support.fake_upstream import Fault

OPENAI_KEY = "sk-contract-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-contract-0123456789"

Connect = Callable[[str, float], AbstractAsyncContextManager[ChatProvider]]
"""(upstream base URL, timeout) -> the adapter, its HTTP client open while the context is."""

OpenProvider = Callable[..., Awaitable[ChatProvider]]
"""The ``connect`` fixture: ``await connect(base_url=..., timeout=...)``, both optional."""

# The status each fake dialect answers an HTTP fault with, and the error keeps as ``status``.
_UPSTREAM_STATUSES = {
    Fault.RATE_LIMITED: 429,
    Fault.SERVER_ERROR: 500,
    Fault.OVERLOADED: 503,
    Fault.UNAUTHORIZED: 401,
    Fault.BAD_REQUEST: 400,
    Fault.QUOTES_CREDENTIALS: 400,
}


@dataclass(frozen=True)
class Vendor:
    name: str
    model: str
    path: str
    """Where its requests land on the fake upstream."""
    connect: Connect
    native_stop: str
    native_tool_calls: str
    finish_reasons: tuple[tuple[str, str], ...]
    """(the vendor's own stop reason, the OpenAI finish_reason it becomes)."""
    upstream_statuses: Mapping[Fault, int]
    reports_cached_tokens: bool
    secrets: tuple[str, ...]
    """The keys it sends upstream: never part of an error's text."""

    def __str__(self) -> str:  # the test id
        return self.name

    def ask(self, *messages: Message, **fields: Any) -> ChatRequest:
        """A request for this vendor's model; one user question unless ``messages`` are given."""
        messages = messages or (Message.user("Why is the sky blue?"),)
        return ChatRequest(model=self.model, messages=messages, **fields)


@asynccontextmanager
async def _openai(base_url: str, timeout: float) -> AsyncIterator[ChatProvider]:
    async with Http1Client() as session:
        yield OpenAIChatProvider(
            name="openai",
            base_url=f"{base_url}/v1",
            api_key=OPENAI_KEY,
            client=session,
            timeout=timeout,
        )


@asynccontextmanager
async def _anthropic(base_url: str, timeout: float) -> AsyncIterator[ChatProvider]:
    async with Http1Client() as session:
        yield AnthropicChatProvider(
            name="anthropic",
            base_url=base_url,
            api_key=ANTHROPIC_KEY,
            client=session,
            timeout=timeout,
        )


@asynccontextmanager
async def _ollama(base_url: str, timeout: float) -> AsyncIterator[ChatProvider]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield OllamaChatProvider(name="ollama", base_url=base_url, client=client, timeout=timeout)


OPENAI = Vendor(
    name="openai",
    model="gpt-4o",
    path="/v1/chat/completions",
    connect=_openai,
    native_stop="stop",
    native_tool_calls="tool_calls",
    finish_reasons=(
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("something_new", "something_new"),
    ),
    upstream_statuses=MappingProxyType(_UPSTREAM_STATUSES),
    reports_cached_tokens=True,
    secrets=(OPENAI_KEY,),
)

ANTHROPIC = Vendor(
    name="anthropic",
    model="claude-sonnet-4-6",
    path="/v1/messages",
    connect=_anthropic,
    native_stop="end_turn",
    native_tool_calls="tool_use",
    finish_reasons=(
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
        ("some_new_reason", "some_new_reason"),
    ),
    # 529 is Anthropic's own "overloaded".
    upstream_statuses=MappingProxyType({**_UPSTREAM_STATUSES, Fault.OVERLOADED: 529}),
    reports_cached_tokens=True,
    secrets=(ANTHROPIC_KEY,),
)

OLLAMA = Vendor(
    name="ollama",
    model="llama3.2",
    path="/api/chat",
    connect=_ollama,
    native_stop="stop",
    native_tool_calls="stop",  # Ollama says "stop" whether or not the model called tools
    finish_reasons=(
        ("length", "length"),
        ("load", "load"),
        ("something_new", "something_new"),
    ),
    upstream_statuses=MappingProxyType(_UPSTREAM_STATUSES),
    reports_cached_tokens=False,  # Ollama has no prompt cache counter
    secrets=(),  # Ollama takes no key
)

VENDORS = (OPENAI, ANTHROPIC, OLLAMA)


class ReplayedIds:
    """Stands in for the fake dialects' ``uuid`` module. The fake draws tool-call ids at random,
    as the vendors do; ``replay()`` makes the next answer draw the same ones again, so one turn
    answered by ``complete()`` and then by ``stream()`` can be compared id for id."""

    def __init__(self) -> None:
        self.replay()

    def replay(self) -> None:
        self._random = random.Random(20240601)

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self._random.getrandbits(128), version=4)
