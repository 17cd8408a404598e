"""AzureOpenAIChatProvider against the fake upstream's Azure dialect, over real sockets.

Only what is Azure's own: deployment paths and api-version, the v1 surface, ``api-key`` and
Microsoft Entra ID tokens (client secret or workload identity's federated assertion; fetched,
cached, refreshed before expiry), managed identity tokens (App Service and the instance
metadata service), the content filter and embeddings. The behaviour every ChatProvider shares is in test_chat_provider_contract.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway_adapters.http1 import Http1Client
from gateway_adapters.providers.azure import (
    AzureOpenAIChatProvider,
    Deployment,
    EntraTokenSource,
    ManagedIdentityTokenSource,
)
from gateway_core.domain.chat import OPENAI_CHAT_WIRE, ChatRequest
from gateway_core.domain.embeddings import EmbeddingRequest
from gateway_core.domain.messages import Message
from gateway_core.domain.relay_tap import RELAY_TAP, RelayTap
from gateway_core.domain.request_caps import OutputCap
from gateway_core.domain.stream_accumulator import StreamAccumulator
from gateway_core.errors import UpstreamAuthError, UpstreamBadRequestError
from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.fake_upstream.azure_wire import (
    AZURE_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    FEDERATED_ASSERTIONS,
    IDENTITY_HEADER,
    MANAGED_IDENTITY_PATH,
    TENANT,
    TOKENS,
    FilteredPrompt,
)

QUESTION = (Message.user("Why is the sky blue?"),)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session() -> AsyncIterator[Http1Client]:
    async with Http1Client() as client:
        yield client


@pytest.fixture(autouse=True)
def fresh_tokens() -> None:
    TOKENS.issued.clear()
    TOKENS.revoked.clear()
    TOKENS.forms.clear()
    TOKENS.expires_in = 3599


def entra(
    upstream: FakeUpstream, session: Http1Client, clock: Clock, **fields: str
) -> EntraTokenSource:
    credentials = {"tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    return EntraTokenSource(
        **{**credentials, **fields}, client=session, authority=upstream.url, clock=clock
    )


async def test_a_deployment_path_carries_the_api_version_and_the_api_key(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = AzureOpenAIChatProvider(
        name="azure",
        endpoint=fake_upstream.url,
        api_version="2024-10-21",
        api_key=AZURE_KEY,
        client=session,
        deployments={"gpt-4o": Deployment("prod-gpt4o")},
    )

    response = await provider.complete(ChatRequest(model="gpt-4o", messages=QUESTION))

    (recorded,) = fake_upstream.requests
    assert recorded.path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert recorded.headers["api-key"] == AZURE_KEY
    assert "Authorization" not in recorded.headers
    assert response.model == "prod-gpt4o"  # the fake answers with the deployment's name


async def test_the_v1_surface_names_the_deployment_in_the_body(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = AzureOpenAIChatProvider(
        name="azure",
        endpoint=fake_upstream.url,
        api_version="v1",
        api_key=AZURE_KEY,
        client=session,
        deployments={"gpt-4o-mini": Deployment("mini-eastus")},
    )

    chunks = [c async for c in provider.stream(ChatRequest(model="gpt-4o-mini", messages=QUESTION))]

    (recorded,) = fake_upstream.requests
    assert recorded.path == "/openai/v1/chat/completions"
    assert recorded.body["model"] == "mini-eastus"
    assert "".join(c.content or "" for c in chunks) == "Hello from the fake upstream."


async def test_an_entra_token_is_fetched_once_reused_and_refreshed_before_it_expires(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    clock = Clock()
    tokens = entra(fake_upstream, session, clock)
    provider = AzureOpenAIChatProvider(
        name="azure", endpoint=fake_upstream.url, client=session, entra=tokens
    )
    request = ChatRequest(model="gpt-4o", messages=QUESTION)

    await provider.complete(request)
    clock.now += 3000  # still more than the 300 s margin left
    await provider.complete(request)
    first = TOKENS.issued[0]
    TOKENS.revoked.add(first)  # the old token must not be used after the refresh point
    clock.now += 400  # inside the margin: refresh
    await provider.complete(request)

    assert tokens.refreshes == 2 and len(TOKENS.issued) == 2
    chat = [r for r in fake_upstream.requests if r.path.endswith("/chat/completions")]
    assert [r.headers["Authorization"] for r in chat] == [
        f"Bearer {first}",
        f"Bearer {first}",
        f"Bearer {TOKENS.issued[1]}",
    ]
    assert TOKENS.forms[0]["scope"] == "https://cognitiveservices.azure.com/.default"
    assert all("api-key" not in r.headers for r in chat)


async def test_refused_client_credentials_are_an_auth_error_that_shows_no_secret(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    secret = "wrong-secret-must-not-leak-42"
    tokens = entra(fake_upstream, session, Clock(), client_secret=secret)
    provider = AzureOpenAIChatProvider(
        name="azure", endpoint=fake_upstream.url, client=session, entra=tokens
    )

    with pytest.raises(UpstreamAuthError) as raised:
        await provider.complete(ChatRequest(model="gpt-4o", messages=QUESTION))

    shown = f"{raised.value} {raised.value!r} {provider!r} {tokens!r}"
    assert secret not in shown and CLIENT_ID not in shown


async def test_a_filtered_prompt_is_a_bad_request_that_names_the_categories(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = AzureOpenAIChatProvider(
        name="azure", endpoint=fake_upstream.url, api_key=AZURE_KEY, client=session
    )
    fake_upstream.script(FilteredPrompt(categories=("violence", "hate")))

    with pytest.raises(UpstreamBadRequestError) as raised:
        await provider.complete(ChatRequest(model="gpt-4o", messages=QUESTION))

    error = raised.value
    assert (error.status, error.code) == (400, "content_filter")
    assert "content filter" in str(error) and "hate, violence" in str(error)
    assert AZURE_KEY not in f"{error!r} {provider!r}"


async def test_a_filtered_answer_finishes_with_content_filter(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = AzureOpenAIChatProvider(
        name="azure", endpoint=fake_upstream.url, api_key=AZURE_KEY, client=session
    )
    fake_upstream.script(Turn(text="I can", finish="content_filter"))

    response = await provider.complete(ChatRequest(model="gpt-4o", messages=QUESTION))

    assert response.choices[0].finish_reason == "content_filter"


@pytest.mark.parametrize("api_version", ["2024-10-21", "v1"])
async def test_embeddings_reach_the_deployment(
    fake_upstream: FakeUpstream, session: Http1Client, api_version: str
) -> None:
    provider = AzureOpenAIChatProvider(
        name="azure",
        endpoint=fake_upstream.url,
        api_version=api_version,
        api_key=AZURE_KEY,
        client=session,
        deployments={"text-embedding-3-small": Deployment("embed-small")},
    )
    fake_upstream.script(Turn(prompt_tokens=5))

    answer = await provider.embed(
        EmbeddingRequest(model="text-embedding-3-small", inputs=("a", "bb"))
    )

    assert len(answer.vectors) == 2 and answer.usage.prompt_tokens == 5
    (recorded,) = fake_upstream.requests
    expected = (
        "/openai/v1/embeddings"
        if api_version == "v1"
        else "/openai/deployments/embed-small/embeddings"
    )
    assert recorded.path == expected


async def test_workload_identity_sends_the_federated_token_file_read_at_each_refresh(
    fake_upstream: FakeUpstream, session: Http1Client, tmp_path: Path
) -> None:
    """AKS workload identity: the kubelet rotates the service-account token in the file."""
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(FEDERATED_ASSERTIONS[0] + "\n")
    clock = Clock()
    tokens = EntraTokenSource(tenant_id=TENANT, client_id=CLIENT_ID, client=session,
                              assertion_file=str(token_file), authority=fake_upstream.url,
                              clock=clock)  # fmt: skip
    provider = AzureOpenAIChatProvider(
        name="azure", endpoint=fake_upstream.url, client=session, entra=tokens
    )
    request = ChatRequest(model="gpt-4o", messages=QUESTION)

    await provider.complete(request)
    token_file.write_text(FEDERATED_ASSERTIONS[1])
    clock.now += 3400  # inside the refresh margin
    await provider.complete(request)

    assert [form["client_assertion"] for form in TOKENS.forms] == list(FEDERATED_ASSERTIONS)
    assert all("client_secret" not in form for form in TOKENS.forms)
    sent = [r.headers["Authorization"] for r in fake_upstream.requests]
    assert sent == [f"Bearer {token}" for token in TOKENS.issued]


async def test_an_unreadable_federated_token_file_is_an_auth_error(
    fake_upstream: FakeUpstream, session: Http1Client, tmp_path: Path
) -> None:
    tokens = EntraTokenSource(tenant_id=TENANT, client_id=CLIENT_ID, client=session,
                              assertion_file=str(tmp_path / "absent"), authority=fake_upstream.url)  # fmt: skip
    provider = AzureOpenAIChatProvider(
        name="azure", endpoint=fake_upstream.url, client=session, entra=tokens
    )

    with pytest.raises(UpstreamAuthError, match="AZURE_FEDERATED_TOKEN_FILE"):
        await provider.complete(ChatRequest(model="gpt-4o", messages=QUESTION))

    assert fake_upstream.requests == []


@pytest.mark.parametrize("app_service", [True, False], ids=["app-service", "imds"])
async def test_a_managed_identity_token_is_fetched_reused_and_refreshed_before_it_expires(
    fake_upstream: FakeUpstream, session: Http1Client, app_service: bool
) -> None:
    clock = Clock()
    async with httpx.AsyncClient() as http:
        tokens = ManagedIdentityTokenSource(
            client=http, endpoint=f"{fake_upstream.url}{MANAGED_IDENTITY_PATH}",
            identity_header=IDENTITY_HEADER if app_service else None,
            client_id="user-assigned-id", clock=clock,
        )  # fmt: skip
        provider = AzureOpenAIChatProvider(
            name="azure", endpoint=fake_upstream.url, client=session, entra=tokens
        )
        request = ChatRequest(model="gpt-4o", messages=QUESTION)
        await provider.complete(request)
        clock.now += 3000  # more than the 300 s margin left
        await provider.complete(request)
        clock.now += 400  # inside the margin: refresh
        await provider.complete(request)

    first, second = TOKENS.issued
    sent = [r.headers["Authorization"] for r in fake_upstream.requests]
    assert sent == [f"Bearer {first}", f"Bearer {first}", f"Bearer {second}"]
    assert TOKENS.forms[0]["client_id"] == "user-assigned-id"
    assert tokens.refreshes == 2


async def test_a_refused_managed_identity_shows_no_header_secret(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    wrong = "wrong-identity-header-must-not-leak"
    async with httpx.AsyncClient() as http:
        tokens = ManagedIdentityTokenSource(
            client=http, endpoint=f"{fake_upstream.url}{MANAGED_IDENTITY_PATH}",
            identity_header=wrong,
        )  # fmt: skip
        provider = AzureOpenAIChatProvider(
            name="azure", endpoint=fake_upstream.url, client=session, entra=tokens
        )
        with pytest.raises(UpstreamAuthError) as raised:
            await provider.complete(ChatRequest(model="gpt-4o", messages=QUESTION))

    assert wrong not in f"{raised.value} {raised.value!r} {tokens!r}"
    assert fake_upstream.requests == []


async def test_a_relayed_stream_hands_its_middle_events_to_the_turns_tap(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    """Azure's stream is OpenAI's: with a tap armed, the events between the first and the end
    go to it (written, counted) and only the end is yielded."""
    provider = AzureOpenAIChatProvider(
        name="azure", endpoint=fake_upstream.url, api_key=AZURE_KEY, client=session
    )
    fake_upstream.script(Turn(text="Rayleigh scattering of light."))
    progress = StreamAccumulator()
    tap = RelayTap(progress, OutputCap(1000, None, 1.0))
    written: list[bytes] = []
    tap.write = lambda body: written.append(body) is None
    request = ChatRequest(model="gpt-4o", messages=QUESTION, stream=True, relay=OPENAI_CHAT_WIRE)

    token = RELAY_TAP.set(tap)
    try:
        chunks = [chunk async for chunk in provider.stream(request)]
    finally:
        RELAY_TAP.reset(token)

    assert b'"content": " scattering"' in b"".join(written)
    assert progress.response("m").choices[0].message.text == "Rayleigh scattering of light."
    assert chunks and all(c.finish_reason or c.usage or not c.wire for c in chunks)
    assert chunks[0].finish_reason == "stop"
