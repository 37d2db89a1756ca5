"""The cluster-state snapshot the request path reads: nodes, partitions, queue, and their ages.

Immutable once built (the refresher swaps in a new one). Every reading carries the time it was
taken; a per-metric window labels it fresh / usable-stale / stale / missing, and `weight()` turns
that label into how much a consumer may trust it (stale and missing: not at all).
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from pydantic import BaseModel

Freshness = Literal["fresh", "usable-stale", "stale", "missing"]
Metric = Literal["nodes", "partitions", "queue"]

# States under which Slurm's Reason describes the node now. Slurm sets a reason together with one of
# these; 24.11 keeps the old reason after `scontrol update state=resume` while the node is IDLE again
# (22.05 clears it), so a reason on a node without one of these flags is history, not health.
# NOT_RESPONDING is not one: slurmctld sets it (without a new reason) on a resumed node until its next
# ping, and a node that stays silent becomes DOWN with a reason of its own.
_REASON_FLAGS = {
    "DRAIN",
    "DRAINED",
    "DRAINING",
    "DOWN",
    "FAIL",
    "FAILING",
    "INVALID",
    "INVALID_REG",
    "MAINTENANCE",
    "REBOOT_REQUESTED",
    "REBOOT_ISSUED",
}
# States in which a node takes no new jobs: the reason-carrying ones, and power and boot transitions.
_BAD_FLAGS = _REASON_FLAGS | {"NOT_RESPONDING", "POWER_DOWN", "POWERED_DOWN", "POWERING_DOWN", "POWERING_UP", "FUTURE", "UNKNOWN"}
_GRES_RE = re.compile(r"gpu:(?:(?P<type>[A-Za-z0-9_.\-]+):)?(?P<count>\d+)")
# Reasons admins and health checks (NHC, DCGM health) give for GPU faults: the safety shield's input
_HEALTH_RE = re.compile(
    r"\bxid\b|row.?remap|remapped.?rows|\becc\b|nvlink|fallen off the bus|gpu.{0,20}(fault|error|"
    r"lost|fail|unhealthy)|dcgm",
    re.IGNORECASE,
)

# (fresh up to, usable-stale up to) seconds per metric. Node health and the queue move fastest;
# partitions (limits, node lists) change by admin action only.
DEFAULT_WINDOWS: dict[str, tuple[float, float]] = {
    "nodes": (30.0, 300.0),
    "queue": (30.0, 300.0),
    "partitions": (300.0, 3600.0),
}
_WEIGHT = {"fresh": 1.0, "usable-stale": 0.5, "stale": 0.0, "missing": 0.0}


def parse_gres(text: str | None) -> tuple[str | None, int]:
    """'gpu:h100:8(S:0-1)', 'gres:gpu:h100:2', 'gres/gpu:h100:2', 'gpu:2' → (type or None, count)."""
    if not text:
        return None, 0
    total_type: str | None = None
    total = 0
    for m in _GRES_RE.finditer(text):
        total_type = total_type or m.group("type")
        total += int(m.group("count"))
    return total_type, total


def label(age_s: float | None, fresh_s: float, stale_s: float) -> Freshness:
    if age_s is None:
        return "missing"
    return "fresh" if age_s <= fresh_s else "usable-stale" if age_s <= stale_s else "stale"


def is_health_fault(reason: str) -> bool:
    return bool(reason and _HEALTH_RE.search(reason))


class NodeState(BaseModel):
    name: str
    partitions: list[str]
    gres_type: str | None
    gpus_total: int
    gpus_used: int
    states: list[str]
    reason: str = ""
    cpus: int | None = None  # None: the backend did not say (limits then go unchecked)
    real_memory_mb: int | None = None

    @property
    def reason_current(self) -> bool:
        """Whether the reason describes the node now: it carries a drain/down/fail flag with it."""
        return bool(self.reason) and bool(set(self.states) & _REASON_FLAGS)

    @property
    def health_fault(self) -> bool:
        """A GPU health fault (XID, row remap, ECC...) named in a reason that is still current."""
        return self.reason_current and is_health_fault(self.reason)

    @property
    def usable(self) -> bool:
        """Judged from the state flags: a drained, down or failed node is out whatever its reason
        says, and a node Slurm schedules on again is back even if 24.11 kept its old reason."""
        return not (set(self.states) & _BAD_FLAGS)

    @property
    def gpus_free(self) -> int:
        return max(self.gpus_total - self.gpus_used, 0) if self.usable else 0


class PartitionState(BaseModel):
    name: str
    nodes: list[str]
    max_time_min: int | None = None
    default_time_min: int | None = None
    up: bool = True
    # Who may run here (None = ALL), as slurm.conf says; allow_uids is AllowGroups resolved to user
    # ids by the background refresh (members and users whose primary group it is), never per request.
    allow_groups: list[str] | None = None
    allow_uids: list[int] | None = None
    allow_accounts: list[str] | None = None
    deny_accounts: list[str] | None = None
    allow_qos: list[str] | None = None
    deny_qos: list[str] | None = None
    # per-node limits in CPUs and MB (None = unlimited or unknown)
    max_cpus_per_node: int | None = None
    max_mem_per_node_mb: int | None = None
    max_mem_per_cpu_mb: int | None = None
    # the memory a job gets when it names none: the partition's, else the cluster's default
    def_mem_per_cpu_mb: int | None = None
    def_mem_per_node_mb: int | None = None
    def_mem_per_gpu_mb: int | None = None
    qos: str | None = None  # the partition's QOS (QoS=): its limits apply to every job in it


class QosLimits(BaseModel):
    """A QOS's GPU limits: TRES name ("gres/gpu", "gres/gpu:h100") → count."""

    name: str
    per_job: dict[str, int] = {}  # MaxTRESPerJob
    per_user: dict[str, int] = {}  # MaxTRESPerUser
    per_account: dict[str, int] = {}  # MaxTRESPerAccount
    grp: dict[str, int] = {}  # GrpTRES


class AssocLimits(BaseModel):
    """One association (an account's row has no user; `parent` is set on account rows only)."""

    account: str
    user: str = ""
    partition: str = ""
    parent: str = ""
    qos: list[str] = []
    default_qos: str | None = None
    max_per_job: dict[str, int] = {}  # MaxTRES
    grp: dict[str, int] = {}  # GrpTRES


class AccountingLimits(BaseModel):
    """The GPU limits slurmctld enforces (AccountingStorageEnforce with `limits`), read by the
    background refresh from slurmdbd; the users' ids resolved there too, never per request."""

    qos: dict[str, QosLimits] = {}
    assocs: list[AssocLimits] = []
    default_account: dict[str, str] = {}  # user name → DefaultAccount
    users: dict[int, str] = {}  # uid → user name, for the users that have associations


class QueuedJob(BaseModel):
    """A pending or running GPU job, as much as the queue-wait estimate needs."""

    job_id: str
    state: Literal["PENDING", "RUNNING"]
    partitions: list[str]
    gres_type: str | None
    gpus: int
    nodes: list[str] = []
    end_time: float | None = None  # running: when its time limit ends it at the latest
    time_limit_min: int | None = None


class KindGpus(BaseModel):
    """GPUs of one kind in one partition."""

    configured: int = 0
    allocated: int = 0
    free: int = 0
    unusable: int = 0
    unusable_nodes: list[str] = []
    pending: int = 0
    max_per_node: int = 0


class QueueWait(BaseModel):
    seconds: float | None  # None: no usable GPU of the kind in the partition
    freshness: Freshness
    weight: float
    basis: str


class Snapshot(BaseModel):
    taken_at: float = 0.0
    nodes: dict[str, NodeState] = {}
    partitions: dict[str, PartitionState] = {}
    pending_gpus: dict[str, int] = {}
    jobs: list[QueuedJob] = []
    read_at: dict[str, float] = {}  # metric → when it was last read successfully
    backend: str = ""
    error: str | None = None
    # None: no accounting, or limits not enforced (AccountingStorageEnforce without `limits`)
    limits: AccountingLimits | None = None

    def age_s(self, now: float | None = None) -> float:
        return (now or time.time()) - self.taken_at if self.taken_at else float("inf")

    def freshness(self, fresh_s: float, stale_s: float, now: float | None = None) -> Freshness:
        if not self.taken_at:
            return "missing"
        return label(self.age_s(now), fresh_s, stale_s)

    def metric_age_s(self, metric: str, now: float | None = None) -> float | None:
        at = self.read_at.get(metric) or (self.taken_at if not self.read_at else 0.0)
        return (now or time.time()) - at if at else None

    def metric_freshness(
        self, metric: str, windows: dict[str, tuple[float, float]] | None = None, now: float | None = None
    ) -> Freshness:
        fresh_s, stale_s = (windows or DEFAULT_WINDOWS).get(metric, DEFAULT_WINDOWS["nodes"])
        return label(self.metric_age_s(metric, now), fresh_s, stale_s)

    def weight(
        self, metric: str, windows: dict[str, tuple[float, float]] | None = None, now: float | None = None
    ) -> float:
        """How far a consumer may trust a metric: 1 fresh, 0.5 usable-stale, 0 stale or missing."""
        return _WEIGHT[self.metric_freshness(metric, windows, now)]

    def kinds_by_partition(self, partitions: list[str] | None = None) -> dict[str, dict[str, int]]:
        """partition → GRES type → most GPUs of that type on one usable node (the TP ceiling)."""
        out: dict[str, dict[str, int]] = {}
        for p in self.partitions.values():
            if (partitions and p.name not in partitions) or not p.up:
                continue
            kinds: dict[str, int] = {}
            for n in p.nodes:
                node = self.nodes.get(n)
                if node is None or not node.usable or not node.gres_type or node.gpus_total <= 0:
                    continue
                kinds[node.gres_type] = max(kinds.get(node.gres_type, 0), node.gpus_total)
            if kinds:
                out[p.name] = kinds
        return out

    def gpu_summary(self) -> dict[str, dict[str, KindGpus]]:
        """partition → GRES type → configured / allocated / free / unusable GPUs and pending demand."""
        out: dict[str, dict[str, KindGpus]] = {}
        for p in self.partitions.values():
            kinds: dict[str, KindGpus] = {}
            for n in p.nodes:
                node = self.nodes.get(n)
                if node is None or not node.gres_type or node.gpus_total <= 0:
                    continue
                k = kinds.setdefault(node.gres_type, KindGpus())
                k.configured += node.gpus_total
                k.allocated += node.gpus_used
                k.free += node.gpus_free
                if not node.usable:
                    k.unusable += node.gpus_total
                    k.unusable_nodes.append(node.name)
                else:
                    k.max_per_node = max(k.max_per_node, node.gpus_total)
            for job in self.jobs:
                if job.state == "PENDING" and p.name in job.partitions:
                    for t, k in kinds.items():
                        if job.gres_type in (None, t):
                            k.pending += job.gpus
            if kinds:
                out[p.name] = kinds
        return out



def as_number(v: Any) -> int | None:
    if isinstance(v, dict):  # 24.11: {"set": true, "infinite": false, "number": N}
        return int(v["number"]) if v.get("set") and not v.get("infinite") else None
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
