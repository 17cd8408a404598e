"""Builders for the cloud providers (Azure OpenAI, Bedrock, Gemini API, Vertex AI): their credential
chains, read from the resolved settings, turned into the adapters' token sources.

Kept apart from provider_factory.py, which only registers them (``CLOUD_BUILDERS``,
``CLOUD_EMBEDDERS``). Nothing here logs or repeats a secret.

Each builder imports its vendor's adapter when it runs: a gateway that serves no cloud provider
never loads them (Bedrock's SigV4 signing alone brings botocore, dateutil and urllib3, about
6 MB of every worker's resident memory).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway_core.ports.native import NativeFormatProvider
from gateway_core.ports.providers import ChatProvider
from gateway_http.provider_config import AzureDeploymentConfig, ConfigError, ResolvedProvider

if TYPE_CHECKING:
    from gateway_adapters.providers.azure import CachedToken, Deployment
    from gateway_adapters.providers.bedrock import Guardrail, SigV4Signer
    from gateway_adapters.providers.gemini import GoogleTokenSource
    from gateway_http.wiring.provider_factory import UpstreamClients

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def _azure(provider: ResolvedProvider, clients: UpstreamClients) -> ChatProvider:
    from gateway_adapters.providers.azure import AzureOpenAIChatProvider

    config, settings = provider.config, provider.settings
    return AzureOpenAIChatProvider(
        name=provider.name,
        endpoint=provider.base_url or "",
        api_version=settings.get("api_version", "v1"),
        api_key=provider.api_key,
        entra=None if provider.api_key else _entra(settings, clients),
        deployments={model: _deployment(place) for model, place in config.deployments.items()},
        client=clients.http1_for(provider),
        deadlines=provider.deadlines,
        headers=config.headers,
    )


def _deployment(place: str | AzureDeploymentConfig) -> Deployment:
    from gateway_adapters.providers.azure import Deployment

    if isinstance(place, str):
        return Deployment(place)
    return Deployment(place.deployment, place.endpoint, place.api_version)


def _entra(settings: Mapping[str, str], clients: UpstreamClients) -> CachedToken | None:
    """Microsoft Entra ID, the sources azure-identity reads, first complete one wins:

    - client secret: ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``;
    - workload identity (AKS): ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``,
      ``AZURE_FEDERATED_TOKEN_FILE``;
    - managed identity: App Service's ``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``, or the
      instance metadata service when ``use_managed_identity`` is true
      (``AZURE_OPENAI_USE_MANAGED_IDENTITY``); ``client_id`` picks a user-assigned identity.
    None when none is complete."""
    from gateway_adapters.providers.azure import EntraTokenSource, ManagedIdentityTokenSource
    from gateway_adapters.providers.azure.managed_identity import IMDS_ENDPOINT

    authority = settings.get("authority_host") or "https://login.microsoftonline.com"
    tenant, client_id = settings.get("tenant_id"), settings.get("client_id")
    secret, assertion = settings.get("client_secret"), settings.get("federated_token_file")
    if tenant and client_id and (secret or assertion):
        return EntraTokenSource(
            tenant_id=tenant, client_id=client_id, authority=authority, client=clients.http1,
            client_secret=secret or None, assertion_file=None if secret else assertion,
        )  # fmt: skip
    endpoint, header = settings.get("identity_endpoint"), settings.get("identity_header")
    if endpoint and header:
        return ManagedIdentityTokenSource(client=clients.client, endpoint=endpoint,
                                          identity_header=header, client_id=client_id)  # fmt: skip
    if settings.get("use_managed_identity", "").lower() in ("true", "1", "yes"):
        return ManagedIdentityTokenSource(
            client=clients.client, endpoint=settings.get("imds_endpoint") or IMDS_ENDPOINT,
            client_id=client_id,
        )  # fmt: skip
    return None


def _gemini(provider: ResolvedProvider, clients: UpstreamClients) -> ChatProvider:
    from gateway_adapters.providers.gemini import GEMINI_API, GeminiChatProvider

    config = provider.config
    return GeminiChatProvider(
        name=provider.name,
        base_url=provider.base_url or GEMINI_API,
        api_key=provider.api_key,
        client=clients.http1_for(provider),
        deadlines=provider.deadlines,
        headers=config.headers,
    )


def _vertex_place(provider: ResolvedProvider) -> tuple[GoogleTokenSource, str]:
    """The token source and the ``.../publishers/google`` URL of a ``vertex_ai`` provider."""
    from gateway_adapters.providers.gemini import GoogleTokenSource, vertex_base_url

    settings = provider.settings
    credentials, default_project = _google_credentials(settings)
    project = settings.get("project") or default_project or ""
    location = settings.get("location") or "us-central1"
    return GoogleTokenSource(credentials), provider.base_url or vertex_base_url(project, location)


def _anthropic_publisher(google_url: str) -> str:
    return google_url.rsplit("/publishers/", 1)[0] + "/publishers/anthropic"


def _vertex(provider: ResolvedProvider, clients: UpstreamClients) -> ChatProvider:
    """Gemini models at ``.../publishers/google``, Claude models (``claude-...``) at
    ``.../publishers/anthropic``, one token source for both."""
    from gateway_adapters.providers.gemini import (
        GeminiChatProvider,
        VertexAIChatProvider,
        VertexClaudeChatProvider,
    )

    config = provider.config
    tokens, google_url = _vertex_place(provider)
    timeouts: dict[str, Any] = {"deadlines": provider.deadlines}
    gemini = GeminiChatProvider(
        name=provider.name, base_url=google_url, tokens=tokens,
        client=clients.http1_for(provider), headers=config.headers, **timeouts,
    )  # fmt: skip
    claude = VertexClaudeChatProvider(
        name=provider.name,
        base_url=_anthropic_publisher(google_url),
        tokens=tokens,
        client=clients.http1_for(provider),
        default_max_tokens=config.default_max_tokens or 4096,
        **timeouts,
    )
    return VertexAIChatProvider(gemini, claude)


def _vertex_messages(provider: ResolvedProvider, clients: UpstreamClients) -> NativeFormatProvider:
    """``/v1/messages`` for Claude on Vertex, natively (its own token source: the doors'
    adapters are built apart from the chat adapters)."""
    from gateway_adapters.providers.gemini.vertex_claude_messages import VertexClaudeMessages

    config = provider.config
    tokens, google_url = _vertex_place(provider)
    return VertexClaudeMessages(
        name=provider.name, base_url=_anthropic_publisher(google_url), tokens=tokens,
        client=clients.http1_for(provider), deadlines=provider.deadlines,
        headers=config.headers,
    )  # fmt: skip


def _bedrock_signer(provider: ResolvedProvider) -> SigV4Signer:
    """botocore's credential chain: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``
    (/``AWS_SESSION_TOKEN``), ``AWS_PROFILE`` and the shared config and credentials files,
    web identity (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``: IRSA on EKS), container
    and instance metadata. ``settings.profile`` picks a profile; ``settings.region`` the region."""
    import botocore.session

    from gateway_adapters.providers.bedrock import SigV4Signer

    settings = provider.settings
    session = botocore.session.Session(profile=settings.get("profile") or None)
    region = settings.get("region") or session.get_config_variable("region") or "us-east-1"
    return SigV4Signer(session.get_credentials(), region)


def _guardrail(settings: Mapping[str, str]) -> Guardrail | None:
    """``settings.guardrail_id`` (an id or ARN), ``guardrail_version`` (default ``DRAFT``),
    ``guardrail_trace`` (``enabled``): one guardrail on every call of the provider."""
    from gateway_adapters.providers.bedrock import Guardrail

    identifier = settings.get("guardrail_id")
    if not identifier:
        return None
    trace = settings.get("guardrail_trace", "").lower() in ("enabled", "true", "1")
    return Guardrail(identifier, settings.get("guardrail_version") or "DRAFT", trace)


def _bedrock(provider: ResolvedProvider, clients: UpstreamClients) -> ChatProvider:
    from gateway_adapters.providers.bedrock import BedrockChatProvider

    config = provider.config
    return BedrockChatProvider(
        name=provider.name,
        signer=_bedrock_signer(provider),
        base_url=provider.base_url,
        client=clients.http1_for(provider),
        deadlines=provider.deadlines,
        headers=config.headers,
        guardrail=_guardrail(provider.settings),
    )


def _bedrock_messages(provider: ResolvedProvider, clients: UpstreamClients) -> NativeFormatProvider:
    """``/v1/messages`` for Claude on Bedrock, natively through InvokeModel."""
    from gateway_adapters.providers.bedrock import BedrockClaudeMessages, runtime_url

    config, signer = provider.config, _bedrock_signer(provider)
    return BedrockClaudeMessages(
        name=provider.name, signer=signer, client=clients.http1_for(provider),
        base_url=provider.base_url or runtime_url(signer.region),
        deadlines=provider.deadlines, headers=config.headers,
        guardrail=_guardrail(provider.settings),
    )  # fmt: skip


def _google_credentials(settings: Mapping[str, str]) -> tuple[Any, str | None]:
    """A key file named by ``credentials_file`` (``GOOGLE_APPLICATION_CREDENTIALS``): a service
    account, an authorized user, or an external account (workload identity federation); else
    google-auth's default chain (gcloud user credentials, the GKE / Compute Engine metadata
    server). The file's ``type`` picks its loader (google-auth's generic loader is deprecated:
    it would load whatever type a file claims)."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    path = settings.get("credentials_file")
    try:
        if path:
            return _credentials_from_file(Path(path))
        return google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    except (DefaultCredentialsError, OSError, ValueError):
        # google-auth's message may quote the file; name the setting instead.
        raise ConfigError(
            "vertex_ai: no usable Google credentials (GOOGLE_APPLICATION_CREDENTIALS, "
            "gcloud application-default login, or a metadata server)"
        ) from None


def _credentials_from_file(path: Path) -> tuple[Any, str | None]:
    from google.auth import aws, identity_pool
    from google.oauth2 import credentials as user
    from google.oauth2 import service_account

    info = json.loads(path.read_text(encoding="utf-8"))
    kind = info.get("type")
    scopes = [CLOUD_PLATFORM_SCOPE]
    if kind == "service_account":
        loaded = service_account.Credentials.from_service_account_info(info, scopes=scopes)
        return loaded, info.get("project_id")
    if kind == "authorized_user":
        return user.Credentials.from_authorized_user_info(info, scopes=scopes), None
    if kind == "external_account":
        source = str((info.get("credential_source") or {}).get("environment_id", ""))
        loader = aws.Credentials if source.startswith("aws") else identity_pool.Credentials
        return loader.from_info(info, scopes=scopes), None
    raise ValueError(f"unsupported credentials type {kind!r}")


CLOUD_BUILDERS: dict[str, Callable[[ResolvedProvider, UpstreamClients], ChatProvider]] = {
    "azure": _azure,
    "bedrock": _bedrock,
    "gemini": _gemini,
    "vertex_ai": _vertex,
}
CLOUD_EMBEDDERS = frozenset({"azure", "bedrock", "gemini", "vertex_ai"})
"""Cloud types whose chat adapter also embeds."""
CLOUD_MESSAGES: dict[
    str, Callable[[ResolvedProvider, UpstreamClients], NativeFormatProvider]
] = {"bedrock": _bedrock_messages, "vertex_ai": _vertex_messages}
"""Cloud types that serve ``/v1/messages`` natively for their Claude models."""
