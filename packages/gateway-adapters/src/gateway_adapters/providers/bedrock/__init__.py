"""Amazon Bedrock: the Converse API for every model family, SigV4-signed by botocore, and
Claude's own Messages format through InvokeModel for ``/v1/messages``."""

from gateway_adapters.providers.bedrock.adapter import BedrockChatProvider, Guardrail, runtime_url
from gateway_adapters.providers.bedrock.invoke_messages import BedrockClaudeMessages
from gateway_adapters.providers.bedrock.signing import SigV4Signer

__all__ = [
    "BedrockChatProvider",
    "BedrockClaudeMessages",
    "Guardrail",
    "SigV4Signer",
    "runtime_url",
]
