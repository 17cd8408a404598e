"""Settings to ``RedisConnectionConfig``: the one place the service reads Redis's settings."""

from __future__ import annotations

from gateway_adapters.stores.redis.connection import RedisConnectionConfig
from gateway_http.settings import Settings


def redis_connection_config(settings: Settings) -> RedisConnectionConfig:
    if settings.redis_url is None:
        raise ValueError("LLM_GATEWAY_REDIS_URL is not set")
    return RedisConnectionConfig(
        url=settings.redis_url.get_secret_value(),
        timeout=settings.redis_timeout_seconds,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout_seconds,
    )
