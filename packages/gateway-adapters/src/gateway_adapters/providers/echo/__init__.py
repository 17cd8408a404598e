from gateway_adapters.providers.echo.adapter import EchoChatProvider, EchoEmbeddingProvider

__all__ = ["EchoChatProvider", "EchoEmbeddingProvider"]
