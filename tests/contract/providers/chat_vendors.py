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
from gateway_adapters.providers.azure import AzureOpenAIChatProvider
from gateway_adapters.providers.bedrock import BedrockChatProvider, SigV4Signer
from gateway_adapters.providers.gemini import (
    GeminiChatProvider,
    GoogleTokenSource,
    VertexClaudeChatProvider,
)
from gateway_adapters.providers.ollama import OllamaChatProvider
from gateway_adapters.providers.openai import OpenAIChatProvider
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import Message
from gateway_core.ports.providers import ChatProvider
from tests.support.fake_upstream import Fault
from tests.support.fake_upstream.azure_wire import AZURE_KEY
from tests.support.fake_upstream.bedrock_wire import ACCESS_KEY, SECRET_KEY, SESSION_TOKEN
from tests.support.fake_upstream.gemini_wire import GEMINI_KEY, service_account_info

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
    stream_path: str | None = None
    """Where its streamed requests land, when not at ``path`` (Gemini's stream method)."""
    reports_model: bool = True
    """Whether its answers name the model that answered (Bedrock's Converse does not)."""
    reports_retry_after: bool = True
    """Whether a rate limit says how long to wait (Bedrock's throttling does not)."""
    label: str = ""
    """The test id, when two vendors share a provider name (Vertex AI's Gemini and Claude)."""

    def __str__(self) -> str:  # the test id
        return self.label or self.name

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


@asynccontextmanager
async def _azure(base_url: str, timeout: float) -> AsyncIterator[ChatProvider]:
    async with Http1Client() as session:
        yield AzureOpenAIChatProvider(
            name="azure",
            endpoint=base_url,
            api_version="2024-10-21",
            api_key=AZURE_KEY,
            client=session,
            timeout=timeout,
        )


@asynccontextmanager
async def _gemini(base_url: str, timeout: float) -> AsyncIterator[ChatProvider]:
    async with Http1Client() as session:
        yield GeminiChatProvider(
            name="gemini",
            base_url=f"{base_url}/v1beta",
            api_key=GEMINI_KEY,
            client=session,
            timeout=timeout,
        )


def vertex_tokens(token_uri: str) -> GoogleTokenSource:
    """Service-account credentials (google-auth's own) whose token endpoint is the fake's."""
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        service_account_info(token_uri),
        scopes=["https://www.googleapis.com/auth/cloud-platform"],
    )
    return GoogleTokenSource(credentials)


VERTEX_PATH = "/v1/projects/fake-project/locations/us-central1/publishers/google"


@asynccontextmanager
async def _vertex(base_url: str, timeout: float) -> AsyncIterator[ChatProvider]:
    async with Http1Client() as session:
        yield GeminiChatProvider(
            name="vertex_ai",
            base_url=f"{base_url}{VERTEX_PATH}",
            tokens=vertex_tokens(f"{base_url}/token"),
            client=session,
            timeout=timeout,
        )


def bedrock_signer(region: str = "us-east-1") -> SigV4Signer:
    from botocore.credentials import Credentials

    return SigV4Signer(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), region)


@asynccontextmanager
async def _bedrock(base_url: str, timeout: float) -> AsyncIterator[ChatProvider]:
    async with Http1Client() as session:
        yield BedrockChatProvider(
            name="bedrock", base_url=base_url, signer=bedrock_signer(), client=session,
            timeout=timeout,
        )  # fmt: skip


VERTEX_CLAUDE_PATH = "/v1/projects/fake-project/locations/us-east5/publishers/anthropic"


@asynccontextmanager
async def _vertex_claude(base_url: str, timeout: float) -> AsyncIterator[ChatProvider]:
    async with Http1Client() as session:
        yield VertexClaudeChatProvider(
            name="vertex_ai",
            base_url=f"{base_url}{VERTEX_CLAUDE_PATH}",
            tokens=vertex_tokens(f"{base_url}/token"),
            client=session,
            timeout=timeout,
        )


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

AZURE = Vendor(
    name="azure",
    model="gpt-4o",
    path="/openai/deployments/gpt-4o/chat/completions",
    connect=_azure,
    native_stop="stop",
    native_tool_calls="tool_calls",
    finish_reasons=(
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("something_new", "something_new"),
    ),
    upstream_statuses=MappingProxyType(_UPSTREAM_STATUSES),
    reports_cached_tokens=True,
    secrets=(AZURE_KEY,),
)

_GEMINI_FINISH_REASONS = (
    ("MAX_TOKENS", "length"),
    ("SAFETY", "content_filter"),
    ("RECITATION", "content_filter"),
    ("PROHIBITED_CONTENT", "content_filter"),
    ("MALFORMED_FUNCTION_CALL", "MALFORMED_FUNCTION_CALL"),
)

GEMINI = Vendor(
    name="gemini",
    model="gemini-2.5-flash",
    path="/v1beta/models/gemini-2.5-flash:generateContent",
    connect=_gemini,
    native_stop="STOP",
    native_tool_calls="STOP",  # Gemini says STOP whether or not the model called functions
    finish_reasons=_GEMINI_FINISH_REASONS,
    # A wrong Gemini API key is a 400 (INVALID_ARGUMENT, reason API_KEY_INVALID).
    upstream_statuses=MappingProxyType({**_UPSTREAM_STATUSES, Fault.UNAUTHORIZED: 400}),
    reports_cached_tokens=True,
    secrets=(GEMINI_KEY,),
    stream_path="/v1beta/models/gemini-2.5-flash:streamGenerateContent",
)

VERTEX = Vendor(
    name="vertex_ai",
    model="gemini-2.5-pro",
    path=f"{VERTEX_PATH}/models/gemini-2.5-pro:generateContent",
    connect=_vertex,
    native_stop="STOP",
    native_tool_calls="STOP",
    finish_reasons=_GEMINI_FINISH_REASONS,
    upstream_statuses=MappingProxyType(_UPSTREAM_STATUSES),
    reports_cached_tokens=True,
    secrets=(),  # the tokens and the key are checked in test_gemini_adapter.py
    stream_path=f"{VERTEX_PATH}/models/gemini-2.5-pro:streamGenerateContent",
)

BEDROCK_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
BEDROCK = Vendor(
    name="bedrock",
    model=BEDROCK_MODEL,
    path=f"/model/{BEDROCK_MODEL}/converse",
    stream_path=f"/model/{BEDROCK_MODEL}/converse-stream",
    connect=_bedrock,
    native_stop="end_turn",
    native_tool_calls="tool_use",
    finish_reasons=(
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("model_context_window_exceeded", "model_context_window_exceeded"),
    ),
    # Bedrock refuses unknown credentials with 403 (UnrecognizedClientException).
    upstream_statuses=MappingProxyType({**_UPSTREAM_STATUSES, Fault.UNAUTHORIZED: 403}),
    reports_cached_tokens=True,
    secrets=(SECRET_KEY, SESSION_TOKEN),
    reports_model=False,
    reports_retry_after=False,
)

VERTEX_CLAUDE = Vendor(
    name="vertex_ai",
    model="claude-sonnet-4-5@20250929",
    path=f"{VERTEX_CLAUDE_PATH}/models/claude-sonnet-4-5@20250929:rawPredict",
    stream_path=f"{VERTEX_CLAUDE_PATH}/models/claude-sonnet-4-5@20250929:streamRawPredict",
    connect=_vertex_claude,
    native_stop=ANTHROPIC.native_stop,
    native_tool_calls=ANTHROPIC.native_tool_calls,
    finish_reasons=ANTHROPIC.finish_reasons,
    upstream_statuses=ANTHROPIC.upstream_statuses,
    reports_cached_tokens=True,
    secrets=(),  # bearer tokens, checked in test_gemini_adapter.py
    label="vertex_ai-claude",
)

VENDORS = (OPENAI, ANTHROPIC, OLLAMA, AZURE, GEMINI, VERTEX, VERTEX_CLAUDE, BEDROCK)


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
