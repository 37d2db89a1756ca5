"""The Slurm CLI backend of the cluster state: `sinfo -N --json`, `scontrol show partition -o` and
`squeue --json`, which exist on 22.05 and 24.11 alike (`scontrol --json` does not exist on 22.05).

Both JSON dialects are read: 22.05 (one record per node, plain numbers, state strings) and 23.11+
(records under "sinfo", `{set, infinite, number}` numbers, state lists). A part that fails to read
keeps its previous reading and that reading's age, so only it turns stale.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from typing import Any

from omnipilot.daemon.clusterstate.groups import resolve_groups
from omnipilot.daemon.clusterstate.limits import config_values, read_limits
from omnipilot.daemon.clusterstate.snapshot import (
    AccountingLimits,
    NodeState,
    PartitionState,
    QueuedJob,
    Snapshot,
    as_number,
    parse_gres,
)


def _states(v: Any, flags: Any = None) -> list[str]:
    base = [s.upper() for s in v] if isinstance(v, list) else [str(v).upper()] if v else []
    return base + [str(f).upper() for f in flags or []]


def nodes_from_sinfo(data: dict[str, Any]) -> dict[str, NodeState]:
    nodes: dict[str, NodeState] = {}
    if "nodes" in data and isinstance(data["nodes"], list):  # 22.05: one record per node
        for n in data["nodes"]:
            gtype, total = parse_gres(n.get("gres"))
            _, used = parse_gres(n.get("gres_used"))
            nodes[n["name"]] = NodeState(
                name=n["name"],
                partitions=list(n.get("partitions") or []),
                gres_type=gtype,
                gpus_total=total,
                gpus_used=used,
                states=_states(n.get("state"), n.get("state_flags")),
                reason=n.get("reason") or "",
                cpus=as_number(n.get("cpus")),
                real_memory_mb=as_number(n.get("real_memory")),
            )
        return nodes
    for rec in data.get("sinfo", []):  # 23.11+: records grouped; read with -N for one node each
        gtype, total = parse_gres((rec.get("gres") or {}).get("total"))
        _, used = parse_gres((rec.get("gres") or {}).get("used"))
        part = (rec.get("partition") or {}).get("name")
        reason = (rec.get("reason") or {}).get("description", "")
        for name in (rec.get("nodes") or {}).get("nodes", []):
            if name in nodes:
                if part and part not in nodes[name].partitions:
                    nodes[name].partitions.append(part)
                continue
            nodes[name] = NodeState(
                name=name,
                partitions=[part] if part else [],
                gres_type=gtype,
                gpus_total=total,
                gpus_used=used,
                states=_states((rec.get("node") or {}).get("state")),
                reason=reason or "",
                cpus=as_number((rec.get("cpus") or {}).get("total")),
                real_memory_mb=as_number((rec.get("memory") or {}).get("maximum")),
            )
    return nodes


def duration_min(text: str) -> int | None:
    """Slurm time 'D-HH:MM:SS', 'HH:MM:SS', 'MM', 'UNLIMITED' → minutes (None = unlimited/unknown)."""
    if not text or text.upper() in ("UNLIMITED", "INFINITE", "NONE"):
        return None
    days = 0
    if "-" in text:
        d, text = text.split("-", 1)
        days = int(d)
    parts = [int(p) for p in text.split(":")]
    if len(parts) == 3:
        h, m, s = parts
    elif len(parts) == 2:
        h, m, s = 0, parts[0], parts[1]
    else:
        h, m, s = 0, parts[0], 0
    return days * 1440 + h * 60 + m + (1 if s else 0)


def expand_nodelist(text: str) -> list[str]:
    """'a100-1,h100-[1-2]' → ['a100-1', 'h100-1', 'h100-2'] (the forms scontrol prints)."""
    out: list[str] = []
    for m in re.finditer(r"([^,\[]+)(?:\[([^\]]+)\])?", text):
        prefix, ranges = m.group(1), m.group(2)
        if not ranges:
            out.append(prefix)
            continue
        for r in ranges.split(","):
            if "-" in r:
                lo, hi = r.split("-")
                out.extend(f"{prefix}{i:0{len(lo)}d}" for i in range(int(lo), int(hi) + 1))
            else:
                out.append(f"{prefix}{r}")
    return [n for n in out if n and n != "(null)"]


def _names(value: str | None) -> list[str] | None:
    """AllowGroups=ALL / AllowAccounts=a,b / DenyQos=(null) → None (no list) or the names."""
    if value is None or value.upper() in ("ALL", "(NULL)", ""):
        return None
    return [v for v in value.split(",") if v]


def _limit(value: str | None) -> int | None:
    """MaxMemPerNode=UNLIMITED / 1000 / 4G → MB or count (None = unlimited or absent)."""
    if not value:
        return None
    m = re.fullmatch(r"(\d+)([KMGT]?)", value.strip().upper())
    if m is None:
        return None
    scale = {"": 1, "K": 1, "M": 1, "G": 1024, "T": 1024 * 1024}[m.group(2)]
    return int(m.group(1)) * scale if m.group(2) != "K" else int(m.group(1)) // 1024


def config_mem_defaults(text: str) -> dict[str, int | None]:
    """The cluster-wide DefMemPerCPU/Node/GPU of `scontrol show config` (a partition inherits them)."""
    out: dict[str, int | None] = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        key = key.strip()
        if eq and key in ("DefMemPerCPU", "DefMemPerNode", "DefMemPerGPU"):
            out[key] = _limit(value.strip())
    return out


def partitions_from_oneliner(
    text: str, defaults: dict[str, int | None] | None = None
) -> dict[str, PartitionState]:
    parts: dict[str, PartitionState] = {}
    defaults = defaults or {}
    for line in text.splitlines():
        kv = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
        if "PartitionName" not in kv:
            continue
        # JobDefaults=DefMemPerGPU=N,DefCpuPerGPU=M: split() keeps it one token, partition("=") above too
        job_defaults = dict(
            item.split("=", 1) for item in kv.get("JobDefaults", "").split(",") if "=" in item
        )
        own_cpu, own_node = _limit(kv.get("DefMemPerCPU")), _limit(kv.get("DefMemPerNode"))
        own = own_cpu is not None or own_node is not None
        parts[kv["PartitionName"]] = PartitionState(
            name=kv["PartitionName"],
            nodes=expand_nodelist(kv.get("Nodes", "")),
            max_time_min=duration_min(kv.get("MaxTime", "")),
            default_time_min=duration_min(kv.get("DefaultTime", "")),
            up=kv.get("State", "UP") == "UP",
            allow_groups=_names(kv.get("AllowGroups")),
            allow_accounts=_names(kv.get("AllowAccounts")),
            deny_accounts=_names(kv.get("DenyAccounts")),
            allow_qos=_names(kv.get("AllowQos")),
            deny_qos=_names(kv.get("DenyQos")),
            max_cpus_per_node=_limit(kv.get("MaxCPUsPerNode")),
            max_mem_per_node_mb=_limit(kv.get("MaxMemPerNode")),
            max_mem_per_cpu_mb=_limit(kv.get("MaxMemPerCPU")),
            def_mem_per_cpu_mb=own_cpu if own else defaults.get("DefMemPerCPU"),
            def_mem_per_node_mb=own_node if own else defaults.get("DefMemPerNode"),
            def_mem_per_gpu_mb=_limit(job_defaults.get("DefMemPerGPU")) or defaults.get("DefMemPerGPU"),
            qos=kv.get("QoS") if kv.get("QoS") not in (None, "", "N/A", "(null)") else None,
        )
    return parts


def jobs_from_squeue(data: dict[str, Any]) -> list[QueuedJob]:
    """Pending (not held) and running GPU jobs, in squeue's order (priority order for pending)."""
    jobs: list[QueuedJob] = []
    for j in data.get("jobs", []):
        st = j.get("job_state")
        states = st if isinstance(st, list) else [st]
        state = "PENDING" if "PENDING" in states else "RUNNING" if "RUNNING" in states else None
        reason = str(j.get("state_reason") or "")
        if state is None or (state == "PENDING" and reason.startswith("JobHeld")):
            continue
        t_node, per_node = parse_gres(j.get("tres_per_node"))
        t_job, per_job = parse_gres(j.get("tres_per_job"))
        count = as_number(j.get("node_count")) or 1
        gpus = per_job or per_node * count
        if state == "RUNNING" and not gpus:  # a typeless or --gpus-per-task request: what was allocated
            t_node, gpus = parse_gres(" ".join(j.get("gres_detail") or []))
        if gpus <= 0:
            continue
        end = as_number(j.get("end_time"))
        jobs.append(
            QueuedJob(
                job_id=str(j.get("job_id")),
                state=state,
                partitions=[p for p in str(j.get("partition") or "").split(",") if p],
                gres_type=t_node or t_job,
                gpus=gpus,
                nodes=expand_nodelist(str(j.get("nodes") or "")),
                end_time=float(end) if end else None,
                time_limit_min=as_number(j.get("time_limit")),
            )
        )
    return jobs


def pending_by_partition(jobs: list[QueuedJob]) -> dict[str, int]:
    pending: dict[str, int] = {}
    for j in jobs:
        if j.state == "PENDING":
            for p in j.partitions:
                pending[p] = pending.get(p, 0) + j.gpus
    return pending


class CliBackend:
    """Reads the Slurm CLI's JSON. Never called from the request path: only by the refresher."""

    name = "cli"

    def __init__(self, env: dict[str, str] | None = None, timeout_s: float = 20.0) -> None:
        self.env = {**os.environ, **(env or {})}
        self.timeout_s = timeout_s
        self._last = Snapshot(backend=self.name)
        self._config = ""  # `scontrol show config` of the current read, shared by its parts

    def _run(self, *cmd: str) -> str:
        res = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=self.timeout_s)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()[:300]}")
        return res.stdout

    def read(self) -> Snapshot:
        """A new snapshot; parts that fail keep their last reading. Raises when every part failed."""
        prev, now = self._last, time.time()
        self._config = ""
        update: dict[str, Any] = {}
        errors: list[str] = []
        read_at = dict(prev.read_at)
        for metric, fetch in (
            ("nodes", self._nodes),
            ("partitions", self._partitions),
            ("queue", self._queue),
        ):
            try:
                update.update(fetch())
                read_at[metric] = now
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
                errors.append(f"{metric}: {exc}")
        if len(errors) == 3:
            raise RuntimeError("; ".join(errors))
        try:
            # QOS/association limits: not a metric of their own, so a failing sacctmgr never ages
            # the snapshot; the previous reading is kept
            update["limits"] = self._limits()
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            errors.append(f"limits: {exc}")
        # the snapshot is as old as its oldest part: a part that failed drags the whole label down
        snap = prev.model_copy(
            update={
                **update,
                "taken_at": min(read_at.values()),
                "read_at": read_at,
                "error": "; ".join(errors) or None,
                "backend": self.name,
            }
        )
        self._last = snap
        return snap

    def _limits(self) -> AccountingLimits | None:
        config = self._config or self._run("scontrol", "show", "config")
        return read_limits(self._run, config_values(config))

    def _nodes(self) -> dict[str, Any]:
        return {"nodes": nodes_from_sinfo(json.loads(self._run("sinfo", "-N", "--json")))}

    def _partitions(self) -> dict[str, Any]:
        try:
            self._config = self._run("scontrol", "show", "config")
            defaults = config_mem_defaults(self._config)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            self._config, defaults = "", {}
        parts = partitions_from_oneliner(self._run("scontrol", "show", "partition", "-o"), defaults)
        # AllowGroups resolved here, in the background: the request path must never call NSS
        members = resolve_groups({g for p in parts.values() for g in p.allow_groups or []})
        for p in parts.values():
            if p.allow_groups is not None:
                p.allow_uids = sorted({uid for g in p.allow_groups for uid in members.get(g, ())})
        return {"partitions": parts}

    def _queue(self) -> dict[str, Any]:
        jobs = jobs_from_squeue(json.loads(self._run("squeue", "--json", "--states=PENDING,RUNNING")))
        return {"jobs": jobs, "pending_gpus": pending_by_partition(jobs)}
