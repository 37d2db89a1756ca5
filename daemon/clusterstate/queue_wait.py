"""Queue-wait estimate for one (partition, GPU kind, GPU count) from a snapshot, without Slurm.

A first-come-first-served replay on the kind's usable nodes: running jobs free their GPUs at the
end of their time limit (the latest they can end; jobs often end earlier, so the estimate leans
long), pending jobs that compete for those nodes are placed in queue order for their time limit
(the partition default when they gave none), then the asked job is placed. Backfill and priority
changes are not modelled. Held jobs are not counted. The result carries the freshness of the
readings it stands on and a weight: a stale queue is not trusted at face value.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Mapping

from omnipilot.daemon.clusterstate.snapshot import Freshness, QueueWait, Snapshot

MAX_PENDING_REPLAYED = 500
_DEFAULT_JOB_S = 3600.0
_ORDER: dict[Freshness, int] = {"fresh": 0, "usable-stale": 1, "stale": 2, "missing": 3}
_WEIGHT: dict[Freshness, float] = {"fresh": 1.0, "usable-stale": 0.5, "stale": 0.0, "missing": 0.0}


def _worst(snap: Snapshot, now: float) -> Freshness:
    labels = [snap.metric_freshness(metric, now=now) for metric in ("nodes", "queue")]
    return max(labels, key=lambda f: _ORDER[f])


def estimate_wait(
    snap: Snapshot, partition: str, gres_type: str, gpus: int, now: float | None = None
) -> QueueWait:
    now = now or time.time()
    fresh = _worst(snap, now)
    weight = _WEIGHT[fresh]
    part = snap.partitions.get(partition)
    if part is None:
        return QueueWait(
            seconds=None, freshness=fresh, weight=weight, basis=f"partition {partition!r} unknown"
        )
    nodes = [snap.nodes[n] for n in part.nodes if n in snap.nodes]
    kind_nodes = {n.name: n for n in nodes if n.gres_type == gres_type and n.usable and n.gpus_total >= gpus}
    if not kind_nodes:
        return QueueWait(
            seconds=None,
            freshness=fresh,
            weight=weight,
            basis=f"no usable node in {partition} has {gpus} {gres_type} GPUs",
        )
    default_s = float(part.default_time_min * 60) if part.default_time_min else _DEFAULT_JOB_S
    free = {name: n.gpus_free for name, n in kind_nodes.items()}
    releases: list[tuple[float, str, int]] = []
    for job in snap.jobs:
        on = [n for n in job.nodes if n in kind_nodes]
        if job.state == "RUNNING" and on:
            end = job.end_time if job.end_time and job.end_time > now else now + default_s
            for n in on:
                releases.append((end, n, max(job.gpus // max(len(job.nodes), 1), 0)))
    heapq.heapify(releases)
    competing = {p.name for p in snap.partitions.values() if set(p.nodes) & set(kind_nodes)}
    ahead = [
        j
        for j in snap.jobs
        if j.state == "PENDING"
        and j.gres_type in (None, gres_type)
        and set(j.partitions) & competing
        and 0 < j.gpus <= max(n.gpus_total for n in kind_nodes.values())
    ]
    ahead = ahead[:MAX_PENDING_REPLAYED]
    for job in ahead:
        duration = float(job.time_limit_min * 60) if job.time_limit_min else default_s
        if _place(free, releases, kind_nodes, job.gpus, duration, now) is None:
            break
    start = _place(free, releases, kind_nodes, gpus, 0.0, now)
    if start is None:
        return QueueWait(
            seconds=None, freshness=fresh, weight=weight, basis="does not fit once the queue drains"
        )
    running = sum(1 for j in snap.jobs if j.state == "RUNNING" and set(j.nodes) & set(kind_nodes))
    return QueueWait(
        seconds=max(start - now, 0.0),
        freshness=fresh,
        weight=weight,
        basis=f"FCFS replay: {running} running, {len(ahead)} pending ahead on {len(kind_nodes)} node(s)",
    )


def _place(
    free: dict[str, int],
    releases: list[tuple[float, str, int]],
    nodes: Mapping[str, object],
    need: int,
    duration: float,
    now: float,
) -> float | None:
    """Earliest time a node has `need` free GPUs; books them until `duration` later."""
    t = now
    while True:
        fits = [n for n in free if free[n] >= need]
        if fits:
            node = min(fits, key=lambda n: (free[n], n))  # best fit keeps large nodes for large jobs
            free[node] -= need
            if duration > 0:
                heapq.heappush(releases, (t + duration, node, need))
            return t
        if not releases:
            return None
        at, node, n = heapq.heappop(releases)
        t = max(t, at)
        if node in nodes:
            free[node] += n
