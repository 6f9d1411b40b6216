"""Connecting to Ray: an existing cluster (`--ray-address`, or RAY_ADDRESS), else a local
instance of this machine's cores. Ray is an optional extra; its absence is one clear line."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from types import ModuleType

from promptops.errors import ConfigError

EXECUTORS = ("local", "ray")
EXTRA_HINT = "install the Ray extra: pip install 'promptops[ray]'"


@dataclass(frozen=True)
class RaySettings:
    """`--executor ray` options: where the cluster is and how many model actors to run."""

    address: str | None = None  # None: RAY_ADDRESS when set, else a local instance
    workers: int | None = None  # None: one per CPU the cluster offers
    cpus_per_worker: int = 1


def require_ray() -> ModuleType:
    """The `ray` module, or a ConfigError naming the extra that provides it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"Ray is not installed; {EXTRA_HINT}", where="--executor ray") from None
    return ray


def connect(settings: RaySettings) -> ModuleType:
    """Join the cluster (once per process) and return the `ray` module."""
    ray = require_ray()
    if not ray.is_initialized():
        address = settings.address or os.environ.get("RAY_ADDRESS") or None
        options: dict[str, object] = {"logging_level": logging.WARNING, "log_to_driver": False}
        if address is None:
            options["include_dashboard"] = False
        try:
            ray.init(address=address, **options)
        except ConnectionError as exc:
            raise ConfigError(
                f"cannot reach the Ray cluster: {exc}", where="--ray-address"
            ) from exc
    return ray


def worker_count(ray: ModuleType, settings: RaySettings) -> int:
    """`--workers`, else as many as the cluster's CPUs hold at `cpus_per_worker` each."""
    if settings.workers is not None:
        if settings.workers < 1:
            raise ConfigError("must be at least 1", where="--workers")
        return settings.workers
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, cpus // settings.cpus_per_worker)
