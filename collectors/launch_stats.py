"""Per-configuration launch-success counts and demand shares from the cluster harvest.

The launch-success prior (advisor/prior.py) reads `launch_counts()`:
`{(gpu_kind, gpu_count): (successes, failures)}`, where gpu_kind is the catalog's kind name
("H100-80GB") when the GRES type is in etc/gpus.toml, else the GRES type itself, and gpu_count is
the job's GPUs on its node (single-node jobs only: the advisor's scope).

What counts (DECISIONS.md §7): the server became ready, where an emitter row tells (by the
OmniPilot token in the job's comment); otherwise from accounting — a job that started and ran past
`min_serving_s`, or ended COMPLETED, TIMEOUT or CANCELLED by its own user, launched; one that
ended FAILED, OUT_OF_MEMORY or NODE_FAIL before `min_serving_s` failed to launch. Jobs that never
started, and jobs cancelled by someone else early, say nothing about launching and are left out.
The counts are observational (confounded by who runs what); the prior shrinks them to the pool.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from omnipilot.collectors.harvest import ClusterJobRow, LaunchOutcome

DEFAULT_MIN_SERVING_S = 300.0
_FAILED = ("FAILED", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL")

Config = tuple[str, int]


def launch_outcome(row: ClusterJobRow, min_serving_s: float = DEFAULT_MIN_SERVING_S) -> LaunchOutcome:
    if row.start is None:
        return "not_started"
    if row.elapsed_s >= min_serving_s:
        return "launched"
    if row.state in ("COMPLETED", "TIMEOUT"):
        return "launched"
    if row.state == "CANCELLED":
        return "launched" if row.cancelled_by_owner is not False else "unknown"
    if row.state in _FAILED:
        return "failed_launch"
    return "unknown"


def _config(row: ClusterJobRow) -> Config | None:
    if row.gpus <= 0 or row.nodes != 1:
        return None
    return (row.gpu_kind or row.gpu_type or "unknown", row.gpus)


def launch_counts(
    rows: Iterable[ClusterJobRow],
    *,
    min_serving_s: float = DEFAULT_MIN_SERVING_S,
    serving_only: bool = False,
    ready_by_token: Mapping[str, bool] | None = None,
) -> dict[Config, tuple[int, int]]:
    """{(gpu_kind, gpu_count): (successes, failures)} over single-node GPU jobs.

    `ready_by_token`: token → whether the emitter saw the server become ready; it overrides the
    accounting rule for the jobs it names. `serving_only`: only jobs recognised as vLLM serving.
    """
    ok: Counter[Config] = Counter()
    bad: Counter[Config] = Counter()
    for row in rows:
        cfg = _config(row)
        if cfg is None or (serving_only and not row.serving):
            continue
        if ready_by_token and row.job_token is not None and row.job_token in ready_by_token:
            outcome: LaunchOutcome = "launched" if ready_by_token[row.job_token] else "failed_launch"
        else:
            outcome = launch_outcome(row, min_serving_s)
        if outcome == "launched":
            ok[cfg] += 1
        elif outcome == "failed_launch":
            bad[cfg] += 1
    return {cfg: (ok[cfg], bad[cfg]) for cfg in sorted(set(ok) | set(bad))}


def demand_shares(
    rows: Iterable[ClusterJobRow], *, weight: str = "jobs", serving_only: bool = False
) -> dict[Config, float]:
    """Share of demand per configuration, by job count (`weight="jobs"`) or GPU-hours ("gpu_hours").

    Every submitted single-node GPU job counts, started or not: demand is what was asked for.
    """
    if weight not in ("jobs", "gpu_hours"):
        raise ValueError(f"weight must be 'jobs' or 'gpu_hours', not {weight!r}")
    tally: Counter[Config] = Counter()
    for row in rows:
        cfg = _config(row)
        if cfg is None or (serving_only and not row.serving):
            continue
        tally[cfg] += 1.0 if weight == "jobs" else row.gpus * row.elapsed_s / 3600.0  # type: ignore[assignment]
    total = sum(tally.values())
    return {cfg: v / total for cfg, v in sorted(tally.items())} if total > 0 else {}
