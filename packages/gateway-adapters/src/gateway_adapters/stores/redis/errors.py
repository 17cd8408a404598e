"""redis-py's exceptions turned into ``StoreUnavailableError``, for every Redis store.

Classified by walking the exception's MRO through one table (the most specific class wins),
never by reading its text; the message names the class only, since a redis error's text can
hold the server's address. ``retry_after`` is how long a client should wait: a failover or a
server still loading its data takes longer than a dropped connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from redis import exceptions as redis_errors

from gateway_core.errors import StoreUnavailableError

_RETRY_AFTER_SECONDS: Mapping[type[BaseException], float] = {
    redis_errors.BusyLoadingError: 5.0,
    redis_errors.ClusterDownError: 5.0,
    redis_errors.ReadOnlyError: 5.0,
    redis_errors.TryAgainError: 1.0,
    redis_errors.TimeoutError: 1.0,
    redis_errors.ConnectionError: 2.0,
    redis_errors.RedisClusterException: 2.0,
    redis_errors.RedisError: 2.0,
    TimeoutError: 1.0,
    OSError: 2.0,
}


def store_unavailable(error: BaseException, store: str) -> StoreUnavailableError | None:
    """The ``StoreUnavailableError`` for a Redis failure, or ``None`` if it is not one."""
    for cls in type(error).__mro__:
        retry_after = _RETRY_AFTER_SECONDS.get(cls)
        if retry_after is not None:
            return StoreUnavailableError(
                f"The {store} store is unavailable ({type(error).__name__}); try again shortly.",
                retry_after=retry_after,
            )
    return None


@contextmanager
def translated_redis_errors(store: str) -> Iterator[None]:
    """Re-raise Redis failures inside the block as ``StoreUnavailableError``, cause chained."""
    try:
        yield
    except Exception as error:
        translated = store_unavailable(error, store)
        if translated is None:
            raise
        raise translated from error
