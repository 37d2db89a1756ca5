"""The optional pyslurm backend of the cluster state (DECISIONS.md §1).

pyslurm links against one Slurm release's libslurm: PyPI has 25.11 only, and Debian ships 22.05 or
24.11, so it is selected only where it imports *and* its major.minor equals the installed Slurm's.
Everything else uses the CLI backend. It reads through pyslurm's object API (`Nodes.load()`,
`Partitions.load()`, `Jobs.load()`) into the same `Snapshot` the CLI backend builds; attribute
access is defensive because the API has moved between releases, and it is exercised only where a
matching pyslurm exists (its tests skip elsewhere, with the reason).
"""

from __future__ import annotations

import importlib
import subprocess
import time
from typing import Any

from omnipilot.daemon.clusterstate.cli_backend import duration_min, expand_nodelist, pending_by_partition
from omnipilot.daemon.clusterstate.snapshot import NodeState, PartitionState, QueuedJob, Snapshot, parse_gres


def installed_slurm_version() -> str:
    """'22.05.8' from `sinfo --version` (or `slurmctld -V` where sinfo needs a config); '' if none."""
    for cmd in (["sinfo", "--version"], ["slurmctld", "-V"]):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out:
            return out.split()[-1]
    return ""


def _major_minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def pyslurm_status(slurm_version: str | None = None) -> tuple[bool, str]:
    """(usable, why): pyslurm imports and matches the installed Slurm's major.minor."""
    try:
        mod = importlib.import_module("pyslurm")
    except Exception as exc:  # ImportError, or a libslurm symbol error from a mismatched build
        return False, f"pyslurm does not import ({type(exc).__name__}: {str(exc)[:120]})"
    have = str(getattr(mod, "__version__", ""))
    slurm = slurm_version if slurm_version is not None else installed_slurm_version()
    if not slurm:
        return False, "the installed Slurm version is unknown (no sinfo/slurmctld)"
    if _major_minor(have) is None or _major_minor(have) != _major_minor(slurm):
        return False, f"pyslurm {have or '?'} does not match the installed Slurm {slurm}"
    return True, f"pyslurm {have} matches Slurm {slurm}"


def _gres_text(v: Any) -> str:
    """pyslurm gives GRES as a dict {'gpu:h100': 8} or a string 'gpu:h100:8'."""
    if isinstance(v, dict):
        return ",".join(f"{k}:{n}" for k, n in v.items())
    return str(v or "")


def _states(*values: Any) -> list[str]:
    out: list[str] = []
    for v in values:
        if isinstance(v, list | tuple | set):
            out.extend(str(s).upper() for s in v)
        elif v:
            out.extend(s.upper() for s in str(v).replace("+", " ").split())
    return out


class PyslurmBackend:
    name = "pyslurm"

    def __init__(self) -> None:
        ok, why = pyslurm_status()
        if not ok:
            raise RuntimeError(why)
        self._mod: Any = importlib.import_module("pyslurm")

    def read(self) -> Snapshot:
        now = time.time()
        nodes = {n.name: n for n in (self._node(x) for x in self._mod.Nodes.load().values())}
        parts = {p.name: p for p in (self._partition(x) for x in self._mod.Partitions.load().values())}
        jobs = [j for j in (self._job(x) for x in self._mod.Jobs.load().values()) if j is not None]
        return Snapshot(
            taken_at=now,
            nodes=nodes,
            partitions=parts,
            jobs=jobs,
            pending_gpus=pending_by_partition(jobs),
            read_at={"nodes": now, "partitions": now, "queue": now},
            backend=self.name,
        )

    @staticmethod
    def _node(x: Any) -> NodeState:
        gtype, total = parse_gres(_gres_text(getattr(x, "configured_gres", None)))
        _, used = parse_gres(_gres_text(getattr(x, "allocated_gres", None)))
        return NodeState(
            name=str(x.name),
            partitions=list(getattr(x, "partitions", None) or []),
            gres_type=gtype,
            gpus_total=total,
            gpus_used=used,
            states=_states(getattr(x, "state", None), getattr(x, "next_state", None)),
            reason=str(getattr(x, "reason", None) or ""),
        )

    @staticmethod
    def _partition(x: Any) -> PartitionState:
        def minutes(v: Any) -> int | None:
            return int(v) if isinstance(v, int) else duration_min(str(v or ""))

        return PartitionState(
            name=str(x.name),
            nodes=expand_nodelist(str(getattr(x, "nodes", "") or "")),
            max_time_min=minutes(getattr(x, "max_time", None)),
            default_time_min=minutes(getattr(x, "default_time", None)),
            up=str(getattr(x, "state", "UP")).upper() == "UP",
        )

    @staticmethod
    def _job(x: Any) -> QueuedJob | None:
        state = str(getattr(x, "state", "")).upper()
        if state not in ("PENDING", "RUNNING"):
            return None
        if state == "PENDING" and str(getattr(x, "state_reason", "")).startswith("JobHeld"):
            return None
        gtype, per_node = parse_gres(_gres_text(getattr(x, "gres_per_node", None)))
        count = int(getattr(x, "num_nodes", 1) or 1)
        if per_node <= 0:
            return None
        end = getattr(x, "end_time", None)
        limit = getattr(x, "time_limit", None)
        return QueuedJob(
            job_id=str(x.id if hasattr(x, "id") else x.job_id),
            state=state,
            partitions=[p for p in str(getattr(x, "partition", "") or "").split(",") if p],
            gres_type=gtype,
            gpus=per_node * count,
            nodes=expand_nodelist(str(getattr(x, "nodes", "") or "")),
            end_time=float(end) if isinstance(end, int | float) and end else None,
            time_limit_min=int(limit) if isinstance(limit, int) else None,
        )
