"""BedrockChatProvider against the fake upstream's Bedrock dialect, over real sockets.

Only what is Bedrock's own: SigV4 signatures (recomputed and compared by the fake), the
credential chain read by botocore, the Converse body (system, images, tool use and results,
tool choice), event-stream exceptions, and Titan embeddings. What every ChatProvider shares is
in test_chat_provider_contract.py.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.session
import pytest
from botocore.credentials import Credentials, RefreshableCredentials

from gateway_adapters.http1 import Http1Client
from gateway_adapters.providers.bedrock import BedrockChatProvider, SigV4Signer
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.embeddings import EmbeddingRequest
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolSpec
from gateway_core.errors import (
    InvalidRequestError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamRateLimitError,
)
from tests.contract.providers.chat_vendors import BEDROCK_MODEL
from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.fake_upstream.bedrock_wire import (
    ACCESS_KEY,
    REASONING_SIGNATURE,
    ROLE_ARN,
    SECRET_KEY,
    SESSION_TOKEN,
    SIGNATURES,
    WEB_IDENTITY,
    WEB_IDENTITY_TOKEN,
    ThrottledMidStream,
)

PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
WEATHER = ToolSpec("get_weather", "Current weather", {"type": "object"})
QUESTION = (Message.user("Why is the sky blue?"),)


@pytest.fixture
async def session() -> AsyncIterator[Http1Client]:
    async with Http1Client() as client:
        yield client


@pytest.fixture(autouse=True)
def fresh_signatures() -> None:
    SIGNATURES.regions.clear()
    SIGNATURES.session_tokens.clear()


def bedrock(
    upstream: FakeUpstream, session: Http1Client, credentials: object, region: str = "eu-west-3"
) -> BedrockChatProvider:
    return BedrockChatProvider(
        name="bedrock",
        base_url=upstream.url,
        signer=SigV4Signer(credentials, region),
        client=session,
    )


async def test_every_request_is_signed_for_its_region_with_the_session_token(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = bedrock(fake_upstream, session, Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN))

    await provider.complete(ChatRequest(model=BEDROCK_MODEL, messages=QUESTION))
    _ = [c async for c in provider.stream(ChatRequest(model=BEDROCK_MODEL, messages=QUESTION))]

    assert SIGNATURES.regions == ["eu-west-3", "eu-west-3"]
    assert SIGNATURES.session_tokens == [SESSION_TOKEN, SESSION_TOKEN]
    # The model id's ":" is percent-encoded in the path the signature covers.
    assert fake_upstream.requests[0].path == f"/model/{BEDROCK_MODEL}/converse"


async def test_a_wrong_secret_fails_the_signature_check_and_is_never_shown(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    wrong = "wrong/secret+that-must-not-leak-000000"
    provider = bedrock(fake_upstream, session, Credentials(ACCESS_KEY, wrong))

    with pytest.raises(UpstreamAuthError) as raised:
        await provider.complete(ChatRequest(model=BEDROCK_MODEL, messages=QUESTION))

    assert raised.value.status == 403
    assert wrong not in f"{raised.value} {raised.value!r} {provider!r}"


async def test_credentials_come_from_botocore_s_chain(
    fake_upstream: FakeUpstream,
    session: Http1Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shared credentials file and profile, found by botocore as it would be in production."""
    credentials_file = tmp_path / "credentials"
    credentials_file.write_text(
        f"[gateway]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    credentials = botocore.session.Session(profile="gateway").get_credentials()
    provider = bedrock(fake_upstream, session, credentials)

    response = await provider.complete(ChatRequest(model=BEDROCK_MODEL, messages=QUESTION))

    assert response.choices[0].message.content == "Hello from the fake upstream."
    assert SIGNATURES.session_tokens == [None]


async def test_no_credentials_is_an_auth_error(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = bedrock(fake_upstream, session, None)

    with pytest.raises(UpstreamAuthError, match="no AWS credentials"):
        await provider.complete(ChatRequest(model=BEDROCK_MODEL, messages=QUESTION))

    assert fake_upstream.requests == []


async def test_the_converse_body(fake_upstream: FakeUpstream, session: Http1Client) -> None:
    provider = bedrock(fake_upstream, session, Credentials(ACCESS_KEY, SECRET_KEY))
    call = ToolCall("tooluse_1", "get_weather", '{"city": "Paris"}')
    request = ChatRequest(
        model=BEDROCK_MODEL,
        messages=(
            Message.system("Be brief."),
            Message.user((TextPart("And this?"), ImagePart(f"data:image/png;base64,{PIXEL}"))),
            Message.assistant(None, (call,)),
            Message.tool_result("tooluse_1", "21 C"),
        ),
        tools=(WEATHER,),
        tool_choice=NamedToolChoice("get_weather"),
        max_tokens=50,
        stop=("END",),
    )

    await provider.complete(request)

    assert fake_upstream.requests[0].body == {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "And this?"},
                    {"image": {"format": "png", "source": {"bytes": PIXEL}}},
                ],
            },
            {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather",
                                         "input": {"city": "Paris"}}}],
            },
            {
                "role": "user",
                "content": [{"toolResult": {"toolUseId": "tooluse_1",
                                            "content": [{"text": "21 C"}]}}],
            },
        ],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 50, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [
                {"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}},
                              "description": "Current weather"}}
            ],
            "toolChoice": {"tool": {"name": "get_weather"}},
        },
    }  # fmt: skip


@pytest.mark.parametrize(
    ("request_fields", "what"),
    [
        ({"tools": (WEATHER,), "tool_choice": "none"}, "tool_choice"),
        ({"messages": (Message.user((ImagePart("https://example.com/a.png"),)),)}, "data: URLs"),
    ],
    ids=["tool-choice-none", "image-url"],
)
async def test_what_converse_cannot_carry_is_refused_by_name(
    fake_upstream: FakeUpstream, session: Http1Client, request_fields: dict, what: str
) -> None:
    provider = bedrock(fake_upstream, session, Credentials(ACCESS_KEY, SECRET_KEY))
    request = ChatRequest(**{"model": BEDROCK_MODEL, "messages": QUESTION, **request_fields})

    with pytest.raises(UpstreamBadRequestError, match=what):
        await provider.complete(request)

    assert fake_upstream.requests == []


async def test_an_exception_frame_mid_stream_is_its_error(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = bedrock(fake_upstream, session, Credentials(ACCESS_KEY, SECRET_KEY))
    fake_upstream.script(ThrottledMidStream(text="one two three four"))
    received = []

    with pytest.raises(UpstreamRateLimitError):
        async for chunk in provider.stream(ChatRequest(model=BEDROCK_MODEL, messages=QUESTION)):
            received.append(chunk)

    assert received[0].role == "assistant" and received[1].content == "one"


async def test_titan_embeddings_one_call_per_input(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = bedrock(fake_upstream, session, Credentials(ACCESS_KEY, SECRET_KEY))
    model = "amazon.titan-embed-text-v2:0"

    answer = await provider.embed(
        EmbeddingRequest(model=model, inputs=("a b", "ccc"), dimensions=3)
    )

    assert answer.vectors == ((3.0, 4.0, 5.0), (3.0, 4.0, 5.0))
    assert answer.usage.prompt_tokens == 3
    assert sorted(r.body["inputText"] for r in fake_upstream.requests) == ["a b", "ccc"]
    assert {r.path for r in fake_upstream.requests} == {f"/model/{model}/invoke"}


async def test_refreshable_credentials_are_refreshed_before_they_expire(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    """As botocore refreshes web-identity (IRSA) or SSO credentials: the refresh runs when the
    expiry comes near, off the event loop, and the next request is signed with the new ones."""
    issued: list[str] = []

    def refresh() -> dict[str, str]:
        token = f"{SESSION_TOKEN}-{len(issued)}"
        issued.append(token)
        soon = datetime.now(UTC) + timedelta(minutes=5 if len(issued) == 1 else 60)
        return {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "token": token,
                "expiry_time": soon.isoformat()}  # fmt: skip

    credentials = RefreshableCredentials.create_from_metadata(
        refresh(), refresh_using=refresh, method="web-identity-fake"
    )
    provider = bedrock(fake_upstream, session, credentials)
    request = ChatRequest(model=BEDROCK_MODEL, messages=QUESTION)

    await provider.complete(request)  # 5 minutes left: inside botocore's refresh window
    await provider.complete(request)

    # One refresh (the new credentials last an hour), both requests signed with its token.
    assert issued == [f"{SESSION_TOKEN}-0", f"{SESSION_TOKEN}-1"]
    assert SIGNATURES.session_tokens == [f"{SESSION_TOKEN}-1", f"{SESSION_TOKEN}-1"]


async def test_web_identity_irsa_assumes_the_role_through_sts_and_refreshes_before_expiry(
    fake_upstream: FakeUpstream,
    session: Http1Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IRSA on EKS as botocore's chain finds it: the service-account token file and the role
    in the environment, STS ``AssumeRoleWithWebIdentity`` (the fake's, at
    ``AWS_ENDPOINT_URL_STS``) for session credentials. They last 5 minutes here, inside
    botocore's refresh window, so the second request assumes the role again first."""
    token_file = tmp_path / "eks-token"
    token_file.write_text(WEB_IDENTITY_TOKEN)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                     "AWS_PROFILE"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE_ARN)
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "llm-gateway-pod")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", fake_upstream.url)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(WEB_IDENTITY, "lifetime", 300)
    WEB_IDENTITY.forms.clear()
    credentials = botocore.session.Session().get_credentials()
    provider = bedrock(fake_upstream, session, credentials)
    request = ChatRequest(model=BEDROCK_MODEL, messages=QUESTION)

    await provider.complete(request)
    await provider.complete(request)

    assert [form["RoleSessionName"] for form in WEB_IDENTITY.forms] == ["llm-gateway-pod"] * 2
    assert SIGNATURES.session_tokens == [f"{SESSION_TOKEN}-irsa-1", f"{SESSION_TOKEN}-irsa-2"]


@pytest.mark.parametrize("streamed", [False, True])
async def test_claude_s_reasoning_through_converse_and_back_with_its_signature(
    fake_upstream: FakeUpstream, session: Http1Client, streamed: bool
) -> None:
    provider = bedrock(fake_upstream, session, Credentials(ACCESS_KEY, SECRET_KEY))
    fake_upstream.script(
        Turn(text=None, reasoning="Check the weather tool.", tool_calls=(("get_weather", {}),)),
        Turn(text="Sunny."),
    )
    request = ChatRequest(model=BEDROCK_MODEL, messages=QUESTION, tools=(WEATHER,),
                          max_tokens=512, extra={"reasoning_effort": "low"})  # fmt: skip

    if streamed:
        chunks = [chunk async for chunk in provider.stream(request)]
        reasoning = "".join(chunk.reasoning_content or "" for chunk in chunks)
        blocks = [b for c in chunks for b in c.delta_extra.get("thinking_blocks", ())]
        (delta,) = [d for chunk in chunks for d in chunk.tool_calls if d.id]
        arguments = "".join(d.arguments for chunk in chunks for d in chunk.tool_calls)
        call = ToolCall(delta.id or "", delta.name or "", arguments)
    else:
        message = (await provider.complete(request)).choices[0].message
        reasoning, blocks = message.reasoning_content or "", message.extra["thinking_blocks"]
        (call,) = message.tool_calls
    sent = fake_upstream.requests[0].body
    assistant = Message("assistant", None, tool_calls=(call,),
                        extra={"thinking_blocks": blocks})  # fmt: skip
    follow_up = (*QUESTION, assistant, Message.tool_result(call.id, "sunny"))
    await provider.complete(ChatRequest(model=BEDROCK_MODEL, messages=follow_up,
                                        tools=(WEATHER,), extra={"reasoning_effort": "low"}))  # fmt: skip

    assert sent["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 1024}
    }
    assert sent["inferenceConfig"]["maxTokens"] == 512 + 1024  # room kept for the answer
    assert reasoning == "Check the weather tool."
    assert blocks == [{"type": "thinking", "thinking": "Check the weather tool.",
                       "signature": REASONING_SIGNATURE}]  # fmt: skip
    returned = fake_upstream.requests[1].body["messages"][1]["content"]
    assert returned[0] == {"reasoningContent": {"reasoningText": {
        "text": "Check the weather tool.", "signature": REASONING_SIGNATURE}}}  # fmt: skip
    assert "toolUse" in returned[1]


async def test_reasoning_settings_reach_only_claude_on_bedrock(
    fake_upstream: FakeUpstream, session: Http1Client
) -> None:
    provider = bedrock(fake_upstream, session, Credentials(ACCESS_KEY, SECRET_KEY))
    request = ChatRequest(model="amazon.nova-pro-v1:0", messages=QUESTION,
                          extra={"reasoning_effort": "high"})  # fmt: skip

    with pytest.raises(InvalidRequestError) as refused:
        await provider.complete(request)

    assert refused.value.param == "reasoning_effort"
    assert fake_upstream.requests == []
