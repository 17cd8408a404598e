"""``tests/contract/stores/test_key_store.py``, every test, on a Redis Cluster."""

from tests.contract.stores.test_key_store import *  # noqa: F403
