"""The Redis store contract suites again, on a three-master Redis Cluster (``cluster_setup``):
each module here imports one suite whole, and this fixture switches its clients to the cluster."""

from __future__ import annotations

import pytest


@pytest.fixture
def redis_mode() -> str:
    return "cluster"
