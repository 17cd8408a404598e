"""``tests/contract/stores/test_usage_store.py``, every test, on a Redis Cluster."""

from tests.contract.stores.test_usage_store import *  # noqa: F403
