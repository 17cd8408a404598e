from gateway_adapters.providers.echo.adapter import EchoChatProvider

__all__ = ["EchoChatProvider"]
