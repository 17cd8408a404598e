"""Amazon Bedrock: the Converse API for every model family, SigV4-signed by botocore."""

from gateway_adapters.providers.bedrock.adapter import BedrockChatProvider, runtime_url
from gateway_adapters.providers.bedrock.signing import SigV4Signer

__all__ = ["BedrockChatProvider", "SigV4Signer", "runtime_url"]
