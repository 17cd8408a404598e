"""Azure OpenAI: OpenAI's wire format at Azure's deployment paths, with its own auth."""

from gateway_adapters.providers.azure.adapter import AzureOpenAIChatProvider, Deployment
from gateway_adapters.providers.azure.entra import EntraTokenSource

__all__ = ["AzureOpenAIChatProvider", "Deployment", "EntraTokenSource"]
