"""Real Redis topologies started from ``redis-server`` on free ports, for the tests of
Sentinel and Cluster support: a master, a replica and a sentinel; a three-master cluster."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.support.gateway import free_port

STARTUP_SECONDS = 15.0


def wait_for(condition: Callable[[], bool], what: str, seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, and below 65536: the
    OS's ephemeral ports are often above 55535."""
    for _ in range(1000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 > 65535:
            port -= 20000  # the range below the ephemeral one is rarely in use
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _cluster_ports(count: int) -> list[int]:
    """Ports for ``count`` cluster nodes whose client and bus ports are all distinct: picked
    one at a time, one node's port could be another's bus port (port + 10000), which that
    node then holds (and the other fails to bind)."""
    ports: list[int] = []
    taken: set[int] = set()
    while len(ports) < count:
        port = _cluster_port()
        if {port, port + 10000} & taken:
            continue
        ports.append(port)
        taken |= {port, port + 10000}
    return ports


def _pongs(port: int) -> bool:
    """Whether a Redis server answers PING on ``port`` within half a second. A plain socket,
    not redis-py: whatever else holds the port (another node's cluster bus, say) may accept and
    never answer, and redis-py retries a timed-out command for about 15 s."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class _NodeExited(RuntimeError):
    """A server exited while starting (its port taken meanwhile, say): see its log."""


class _Processes:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, *args: str) -> None:
        log = (self.directory / f"redis-{len(self._processes)}.log").open("wb")
        self._processes.append(
            subprocess.Popen(
                ["redis-server", *args], stdout=log, stderr=subprocess.STDOUT,
                cwd=self.directory,
            )
        )

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.wait(timeout=10)
        self._processes.clear()

    def wait_for_pings(self, ports: list[int]) -> None:
        """Every server answers PING; ``_NodeExited`` at once if one has exited instead."""
        for process, port in zip(self._processes, ports, strict=True):

            def answers(process: subprocess.Popen[bytes] = process, port: int = port) -> bool:
                if process.poll() is not None:
                    raise _NodeExited(f"redis-server on port {port} exited while starting")
                return _pongs(port)

            wait_for(answers, f"node {port}")


def _server_args(port: int, directory: Path) -> list[str]:
    return ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(directory)]  # fmt: skip


class SentinelSetup(_Processes):
    """A master, one replica and one sentinel (quorum 1) watching ``MASTER_NAME``."""

    MASTER_NAME = "gateway"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_port = free_port()
        self.url = f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.MASTER_NAME}/0"

    def start(self) -> SentinelSetup:
        for port in (self.master_port, self.replica_port):
            (self.directory / str(port)).mkdir()
        self.spawn(*_server_args(self.master_port, self.directory / str(self.master_port)))
        self.spawn(*_server_args(self.replica_port, self.directory / str(self.replica_port)),
                   "--replicaof", "127.0.0.1", str(self.master_port))  # fmt: skip
        config = self.directory / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel monitor {self.MASTER_NAME} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {self.MASTER_NAME} 3000\n"
        )
        self.spawn(str(config), "--sentinel")
        wait_for(self._replica_known, "the sentinel to see the synced replica")
        return self

    def sentinel(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel_port, socket_timeout=2, decode_responses=True)

    def master_port_now(self) -> int:
        with self.sentinel() as sentinel:
            _, port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                               self.MASTER_NAME)  # fmt: skip
        return int(port)

    def _replica_known(self) -> bool:
        with redis.Redis(port=self.replica_port, socket_timeout=1) as replica:
            if replica.info("replication").get("master_link_status") != "up":
                return False
        with self.sentinel() as sentinel:
            replicas = sentinel.execute_command("SENTINEL", "REPLICAS", self.MASTER_NAME)
        # What the sentinel requires of a replica it may promote: connected, its link to the
        # master up, and a recent INFO of its own (else SENTINEL FAILOVER says NOGOODSLAVE).
        for entry in replicas:
            fields = entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2], strict=True))
            if (fields.get("flags") == "slave" and fields.get("master-link-status") == "ok"
                    and 0 < int(fields.get("info-refresh", 0)) < 5000):  # fmt: skip
                return True
        return False

    def failover(self) -> int:
        """``SENTINEL FAILOVER``; returns the new master's port once every side agrees."""
        old = self.master_port_now()

        def started() -> bool:
            with self.sentinel() as sentinel:
                try:
                    sentinel.execute_command("SENTINEL", "FAILOVER", self.MASTER_NAME)
                except redis.ResponseError as error:
                    if "NOGOODSLAVE" in str(error):  # its view of the replica is being renewed
                        return False
                    raise
            return True

        wait_for(started, "the sentinel to accept SENTINEL FAILOVER")
        wait_for(lambda: self.master_port_now() != old, "the sentinel to name a new master")
        new = self.master_port_now()

        def promoted() -> bool:
            with redis.Redis(port=new, socket_timeout=1) as master:
                return master.info("replication")["role"] == "master"

        def demoted() -> bool:
            with redis.Redis(port=old, socket_timeout=1) as former:
                return former.info("replication")["role"] == "slave"

        wait_for(promoted, "the new master to take writes")
        # Until the old master steps down it still takes writes (which the resync then drops):
        # Redis's asynchronous replication, not the client's doing.
        wait_for(demoted, "the old master to become a replica")
        return new


class ClusterSetup(_Processes):
    """Three masters, no replicas, every slot covered."""

    _ATTEMPTS = 3
    """Starts on fresh ports after a node exited: a free port can be taken before it binds."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.ports = _cluster_ports(3)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> ClusterSetup:
        for attempt in range(self._ATTEMPTS):
            try:
                self._spawn_nodes()
                break
            except _NodeExited:
                self.stop()
                if attempt == self._ATTEMPTS - 1:
                    raise
                self.ports = _cluster_ports(3)
        command = ["redis-cli", "--cluster", "create",
                   *(f"127.0.0.1:{port}" for port in self.ports),
                   "--cluster-replicas", "0", "--cluster-yes"]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=30)
        # Every node must tell the same, whole slot map: a client that starts from a node
        # still learning it (gossip) is sent MOVED, and redis-py then drops every connection.
        wait_for(self._settled, "every node to agree on the slot map")
        return self

    def _spawn_nodes(self) -> None:
        for port in self.ports:
            node_dir = self.directory / str(port)
            node_dir.mkdir()
            self.spawn(*_server_args(port, node_dir), "--cluster-enabled", "yes",
                       "--cluster-config-file", str(node_dir / "nodes.conf"),
                       "--cluster-node-timeout", "2000")  # fmt: skip
        self.wait_for_pings(self.ports)

    def _settled(self) -> bool:
        maps = []
        for port in self.ports:
            with redis.Redis(port=port, socket_timeout=1) as node:
                if node.execute_command("CLUSTER", "INFO").decode().find("cluster_state:ok") < 0:
                    return False
                slots = node.execute_command("CLUSTER", "SLOTS")
            maps.append(sorted((int(s[0]), int(s[1]), int(s[2][1])) for s in slots))
        covered = sum(end - start + 1 for start, end, _ in maps[0])
        return covered == 16384 and all(other == maps[0] for other in maps)


class Topologies:
    """Each topology started on first use, all stopped by ``stop``: one per test session.

    Lazy on purpose: a session fixture requested with ``request.getfixturevalue`` from a
    parametrized test is torn down early by pytest; this holder is requested statically."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._cluster: ClusterSetup | None = None
        self._sentinel: SentinelSetup | None = None
        self._spawned: list[_Processes] = []
        """Every setup tried, started or not: all of their servers are stopped at the end."""

    def cluster(self) -> ClusterSetup:
        if self._cluster is None:
            # A setup that failed leaves its directory: the next test tries afresh beside it.
            directory = self._directory / f"cluster-{len(self._spawned)}"
            directory.mkdir()
            setup = ClusterSetup(directory)
            self._spawned.append(setup)
            self._cluster = setup.start()
        return self._cluster

    def sentinel(self) -> SentinelSetup:
        if self._sentinel is None:
            directory = self._directory / f"sentinel-{len(self._spawned)}"
            directory.mkdir()
            setup = SentinelSetup(directory)
            self._spawned.append(setup)
            self._sentinel = setup.start()
        return self._sentinel

    def stop(self) -> None:
        for setup in self._spawned:
            setup.stop()
