"""The utility's queue term, read from the live snapshot's queue-wait estimate (state_queue.py).

One estimate per (kind, partitions, GPUs) and snapshot: the request path asks for each arm, and the
replay of the queue behind it is the same for every arm of that shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from omnipilot.config import UtilitySettings
from omnipilot.daemon.clusterstate.cache import Snapshot
from omnipilot.daemon.clusterstate.queue_wait import estimate_wait


class SnapshotQueue:
    """Implements advisor.utility.QueueView over one snapshot; stale readings count for less."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self._memo: dict[tuple[str, tuple[str, ...], int], float | None] = {}

    def _hours(self, gres_type: str, partitions: tuple[str, ...], tp: int) -> float | None:
        key = (gres_type, partitions, tp)
        if key not in self._memo:
            waits = []
            for p in partitions:
                qw = estimate_wait(self.snap, p, gres_type, tp)
                if qw.seconds is not None:
                    waits.append(qw.seconds / 3600.0 * qw.weight)
            self._memo[key] = min(waits) if waits else None
        return self._memo[key]

    def wait_h(self, gres_type: str, partitions: Sequence[str], tp: int, settings: UtilitySettings) -> float:
        hours = self._hours(gres_type, tuple(partitions), tp)
        return 0.0 if hours is None else min(hours, settings.queue_max_wait_h)
