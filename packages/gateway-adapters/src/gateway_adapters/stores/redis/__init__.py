"""Redis adapters (redis-py asyncio). Each store gets its client from the container."""

from gateway_adapters.stores.redis.sessions import RedisSessionStore

__all__ = ["RedisSessionStore"]

from gateway_adapters.stores.redis.cache import RedisResponseCache
from gateway_adapters.stores.redis.usage import RedisUsageStore

__all__ += ["RedisResponseCache", "RedisUsageStore"]

from gateway_adapters.stores.redis.responses import RedisResponseStore  # noqa: E402

__all__ += ["RedisResponseStore"]
