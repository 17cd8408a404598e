"""gateway-adapters: implementations of gateway-core's ports (providers, stores, tool backends)."""
