"""``tests/contract/stores/test_response_cache.py``, every test, on a Redis Cluster."""

from tests.contract.stores.test_response_cache import *  # noqa: F403
