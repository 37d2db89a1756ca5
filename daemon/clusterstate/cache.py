"""Cluster state for the request path: a snapshot refreshed in the background, never read live.

The daemon must not call slurmctld while answering (the hook holds slurmctld's locks), so a
background thread reads Slurm through a backend (the CLI's JSON by default, pyslurm where it
matches the installed Slurm) and swaps in a new immutable snapshot. Each reading is stamped with
its time; readers judge it fresh / usable-stale / stale / missing (state_model.py), and the
queue-wait estimate (state_queue.py) carries that label and a trust weight.

Interface: `Snapshot` (nodes, partitions, pending_gpus, jobs, kinds_by_partition, gpu_summary,
queue_wait, freshness), `StateCache(read, refresh_s)`, `CliBackend().read`, `select_backend()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal, Protocol

import structlog

from omnipilot.daemon.clusterstate.cli_backend import CliBackend
from omnipilot.daemon.clusterstate.snapshot import (
    DEFAULT_WINDOWS,
    Freshness,
    KindGpus,
    NodeState,
    PartitionState,
    QueuedJob,
    QueueWait,
    Snapshot,
    is_health_fault,
    parse_gres,
)

__all__ = [
    "DEFAULT_WINDOWS",
    "Backend",
    "CliBackend",
    "Freshness",
    "KindGpus",
    "NodeState",
    "PartitionState",
    "QueueWait",
    "QueuedJob",
    "Snapshot",
    "StateCache",
    "is_health_fault",
    "parse_gres",
    "select_backend",
]

log = structlog.get_logger("omnipilot.state")


class Backend(Protocol):
    name: str

    def read(self) -> Snapshot: ...


def select_backend(
    choice: Literal["auto", "cli", "pyslurm"] = "auto", env: dict[str, str] | None = None
) -> Backend:
    """`[state] backend`: "cli"; "pyslurm" (an error naming why when it cannot be used); "auto":
    pyslurm when it imports and matches the installed Slurm, else the CLI."""
    from omnipilot.daemon.clusterstate.pyslurm_backend import PyslurmBackend, pyslurm_status

    if choice == "cli":
        return CliBackend(env)
    ok, why = pyslurm_status()
    if ok:
        log.info("state_backend", backend="pyslurm", why=why)
        return PyslurmBackend()
    if choice == "pyslurm":
        raise RuntimeError(
            f'[state] backend = "pyslurm" cannot be used: {why}; set backend = "cli" or "auto"'
        )
    log.info("state_backend", backend="cli", why=why)
    return CliBackend(env)


class StateCache:
    """Holds the latest snapshot; a daemon thread refreshes it. Readers never block on Slurm."""

    def __init__(self, read: Callable[[], Snapshot], refresh_s: float) -> None:
        self._read = read
        self.refresh_s = refresh_s
        self._snap = Snapshot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot:
        return self._snap

    def refresh(self) -> Snapshot:
        try:
            snap = self._read()
            self._snap = snap
            log.debug(
                "state_refreshed", nodes=len(snap.nodes), partitions=len(snap.partitions), error=snap.error
            )
        except Exception as exc:  # keep the previous snapshot; its age tells readers how stale it is
            log.warning("state_refresh_failed", error=str(exc))
            self._snap = self._snap.model_copy(update={"error": str(exc)})
        return self._snap

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="state-refresher", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
