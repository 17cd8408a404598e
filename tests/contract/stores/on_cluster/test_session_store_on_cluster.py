"""``tests/contract/stores/test_session_store.py``, every test, on a Redis Cluster."""

from tests.contract.stores.test_session_store import *  # noqa: F403
