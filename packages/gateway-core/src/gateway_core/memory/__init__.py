"""In-memory implementations of the core's ports: the embedded default (one process) and the
stores unit tests run against. Pure Python, no I/O; time comes from an injected ``Clock``."""

from gateway_core.memory.sessions import InMemorySessionStore

__all__ = ["InMemorySessionStore"]

from gateway_core.memory.rate_limits import InMemoryRateLimitStore

__all__ += ["InMemoryRateLimitStore"]

from gateway_core.memory.cache import InMemoryResponseCache  # noqa: E402
from gateway_core.memory.usage import InMemoryUsageStore  # noqa: E402

__all__ += ["InMemoryResponseCache", "InMemoryUsageStore"]

from gateway_core.memory.responses import InMemoryResponseStore  # noqa: E402

__all__ += ["InMemoryResponseStore"]

from gateway_core.memory.api_keys import InMemoryKeyStore  # noqa: E402

__all__ += ["InMemoryKeyStore"]
