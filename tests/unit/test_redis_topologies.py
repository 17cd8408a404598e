"""The test suite's own Redis cluster: its nodes' ports never collide, and a node that cannot
start (its port taken) is retried on fresh ports instead of failing every cluster test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import redis_topologies
from tests.support.redis_topologies import ClusterSetup


def test_no_node_is_given_another_nodes_bus_port(monkeypatch: pytest.MonkeyPatch) -> None:
    # 40000 is 30000's bus port, and 30000 itself comes twice: both are passed over.
    offered = iter([30000, 40000, 30000, 31000, 32000])
    monkeypatch.setattr(redis_topologies, "_cluster_port", lambda: next(offered))
    assert redis_topologies._cluster_ports(3) == [30000, 31000, 32000]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process holds, as when a free port is taken before a node binds it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_node_whose_port_was_taken_is_started_again_on_fresh_ports(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = redis_topologies._cluster_ports
    first = [taken_port, *real(2)]
    picks = iter([first])
    monkeypatch.setattr(redis_topologies, "_cluster_ports", lambda n: next(picks, None) or real(n))
    setup = ClusterSetup(tmp_path)
    try:
        setup.start()
        assert taken_port not in setup.ports
        assert setup.ports != first
        with redis.RedisCluster(host="127.0.0.1", port=setup.ports[0]) as cluster:
            cluster.set("k", "v")
            assert cluster.get("k") == b"v"
    finally:
        setup.stop()
