"""``tests/contract/stores/test_rate_limit_store.py``, every test, on a Redis Cluster."""

from tests.contract.stores.test_rate_limit_store import *  # noqa: F403
