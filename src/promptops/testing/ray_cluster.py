"""A real multi-node Ray cluster on 127.0.0.1 for tests and benchmarks.

Each node is its own `ray start --block` process (the head, then `ray start --address` for
the others), as on separate machines, with one CPU and a small object store each. Every port
a node opens is chosen free beforehand, so two clusters (or another user's Ray) on the host
never collide, and stopping ends only these nodes' processes, never `ray stop`'s every-Ray-
process-on-the-host sweep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WORKER_PORTS = 40  # worker processes a node may start (actors, tasks, Ray Data)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _free_range(size: int) -> int:
    """The first of `size` consecutive ports that are free now."""
    for _ in range(200):
        start = _free_port()
        if start + size > 65000:
            continue
        ports = range(start, start + size)
        try:
            probes = []
            for port in ports:
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return start
    raise RuntimeError("no free port range for Ray workers")


class LocalRayCluster:
    """`nodes` Ray nodes on this machine; use as a context manager."""

    def __init__(
        self, nodes: int = 2, cpus_per_node: int = 1, object_store_bytes: int = 100_000_000
    ) -> None:
        self.nodes = nodes
        self.cpus_per_node = cpus_per_node
        self.object_store_bytes = object_store_bytes
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._processes: list[subprocess.Popen[bytes]] = []
        self._temp = tempfile.TemporaryDirectory(prefix="promptops-ray-")
        # Ray's socket paths must stay short (AF_UNIX limit): a short private root.
        self.temp_dir = Path(self._temp.name)

    def _node_args(self) -> list[str]:
        workers = _free_range(_WORKER_PORTS)
        return [
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.cpus_per_node}",
            f"--object-store-memory={self.object_store_bytes}",
            f"--node-manager-port={_free_port()}",
            f"--object-manager-port={_free_port()}",
            f"--min-worker-port={workers}",
            f"--max-worker-port={workers + _WORKER_PORTS - 1}",
            f"--dashboard-agent-listen-port={_free_port()}",
            f"--dashboard-agent-grpc-port={_free_port()}",
            f"--runtime-env-agent-port={_free_port()}",
            f"--metrics-export-port={_free_port()}",
            "--disable-usage-stats",
        ]

    def _start(self, args: list[str]) -> None:
        ray = str(Path(sys.executable).with_name("ray"))
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        log = (self.temp_dir / f"node{len(self._processes)}.log").open("wb")
        self._processes.append(
            subprocess.Popen(
                [ray, "start", *args, *self._node_args()],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: stopped as one
            )
        )

    def start(self, timeout: float = 90.0) -> None:
        self._start(
            [
                "--head",
                f"--port={self.port}",
                "--include-dashboard=false",
                f"--temp-dir={self.temp_dir}",
            ]
        )
        self._wait_for_port(timeout)
        for _ in range(self.nodes - 1):
            self._start([f"--address={self.address}"])
        self._wait_for_nodes(timeout)

    def _wait_for_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"the Ray head did not open port {self.port}")

    def _wait_for_nodes(self, timeout: float) -> None:
        """Until every node has registered, asked from a separate driver process."""
        script = (
            "import sys, time, ray\n"
            f"ray.init(address='{self.address}', logging_level='ERROR', log_to_driver=False)\n"
            f"deadline = time.monotonic() + {timeout}\n"
            f"while sum(n['Alive'] for n in ray.nodes()) < {self.nodes}:\n"
            "    if time.monotonic() > deadline: sys.exit(1)\n"
            "    time.sleep(0.2)\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=timeout)
        if done.returncode:
            self._check_alive()
            raise TimeoutError(f"Ray nodes did not all join: {done.stderr.decode()[-2000:]}")

    def _check_alive(self) -> None:
        for index, process in enumerate(self._processes):
            if process.poll() is not None:
                log = (self.temp_dir / f"node{index}.log").read_text(errors="replace")
                raise RuntimeError(f"Ray node {index} exited: {log[-2000:]}")

    def stop(self, grace: float = 3.0) -> None:
        """End every process of these nodes: SIGTERM to each node's process group, then
        SIGKILL to whatever is left of it after `grace` seconds."""
        for process in self._processes:
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self._processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(process.pid, signal.SIGKILL)  # workers the node left behind
            process.wait()
        self._processes.clear()
        self._temp.cleanup()

    def __enter__(self) -> LocalRayCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
