"""Azure OpenAI: OpenAI's wire format at Azure's deployment paths, with its own auth."""

from gateway_adapters.providers.azure.adapter import AzureOpenAIChatProvider, Deployment
from gateway_adapters.providers.azure.entra import CachedToken, EntraTokenSource
from gateway_adapters.providers.azure.managed_identity import ManagedIdentityTokenSource

__all__ = [
    "AzureOpenAIChatProvider",
    "CachedToken",
    "Deployment",
    "EntraTokenSource",
    "ManagedIdentityTokenSource",
]
