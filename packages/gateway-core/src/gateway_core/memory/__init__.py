"""In-memory implementations of the core's ports: the embedded default (one process) and the
stores unit tests run against. Pure Python, no I/O; time comes from an injected ``Clock``."""

from gateway_core.memory.cache import InMemoryResponseCache
from gateway_core.memory.rate_limits import InMemoryRateLimitStore
from gateway_core.memory.sessions import InMemorySessionStore
from gateway_core.memory.usage import InMemoryUsageStore

__all__ = [
    "InMemoryRateLimitStore",
    "InMemoryResponseCache",
    "InMemorySessionStore",
    "InMemoryUsageStore",
]
