"""Cluster state for the request path: a snapshot refreshed in the background, never read live.

The daemon must not call slurmctld while answering (the hook holds slurmctld's locks), so a
background thread reads the Slurm CLI (`sinfo --json`, `squeue --json`, `scontrol show partition
-o`, which all exist on 22.05 and 24.11) and swaps in a new immutable snapshot. Each snapshot is
stamped with its time; readers judge it fresh / usable-stale / stale / missing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import structlog
from pydantic import BaseModel

log = structlog.get_logger("omnipilot.state")

Freshness = Literal["fresh", "usable-stale", "stale", "missing"]
_BAD_FLAGS = {"DRAIN", "DRAINED", "DRAINING", "DOWN", "FAIL", "FAILING", "NOT_RESPONDING", "INVALID", "MAINTENANCE",
              "POWERED_DOWN", "POWERING_DOWN", "REBOOT_REQUESTED", "FUTURE", "UNKNOWN"}
_GRES_RE = re.compile(r"gpu:(?:(?P<type>[A-Za-z0-9_.\-]+):)?(?P<count>\d+)")


class NodeState(BaseModel):
    name: str
    partitions: list[str]
    gres_type: str | None
    gpus_total: int
    gpus_used: int
    states: list[str]
    reason: str = ""

    @property
    def usable(self) -> bool:
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


class Snapshot(BaseModel):
    taken_at: float = 0.0
    nodes: dict[str, NodeState] = {}
    partitions: dict[str, PartitionState] = {}
    pending_gpus: dict[str, int] = {}
    error: str | None = None

    def age_s(self, now: float | None = None) -> float:
        return (now or time.time()) - self.taken_at if self.taken_at else float("inf")

    def freshness(self, fresh_s: float, stale_s: float, now: float | None = None) -> Freshness:
        if not self.taken_at:
            return "missing"
        age = self.age_s(now)
        return "fresh" if age <= fresh_s else "usable-stale" if age <= stale_s else "stale"

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


def _as_number(v: Any) -> int | None:
    if isinstance(v, dict):  # 24.11: {"set": true, "infinite": false, "number": N}
        return int(v["number"]) if v.get("set") and not v.get("infinite") else None
    return int(v) if isinstance(v, int | float) else None


def _states(v: Any, flags: Any = None) -> list[str]:
    base = [s.upper() for s in v] if isinstance(v, list) else [str(v).upper()] if v else []
    return base + [str(f).upper() for f in flags or []]


def _nodes_from_sinfo(data: dict[str, Any]) -> dict[str, NodeState]:
    nodes: dict[str, NodeState] = {}
    if "nodes" in data and isinstance(data["nodes"], list):  # 22.05: one record per node
        for n in data["nodes"]:
            gtype, total = parse_gres(n.get("gres"))
            _, used = parse_gres(n.get("gres_used"))
            nodes[n["name"]] = NodeState(
                name=n["name"], partitions=list(n.get("partitions") or []), gres_type=gtype, gpus_total=total,
                gpus_used=used, states=_states(n.get("state"), n.get("state_flags")), reason=n.get("reason") or "",
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
                name=name, partitions=[part] if part else [], gres_type=gtype, gpus_total=total, gpus_used=used,
                states=_states((rec.get("node") or {}).get("state")), reason=reason or "",
            )
    return nodes


def _duration_min(text: str) -> int | None:
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


def _expand_nodelist(text: str) -> list[str]:
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


def _partitions_from_oneliner(text: str) -> dict[str, PartitionState]:
    parts: dict[str, PartitionState] = {}
    for line in text.splitlines():
        kv = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
        if "PartitionName" not in kv:
            continue
        parts[kv["PartitionName"]] = PartitionState(
            name=kv["PartitionName"], nodes=_expand_nodelist(kv.get("Nodes", "")),
            max_time_min=_duration_min(kv.get("MaxTime", "")), default_time_min=_duration_min(kv.get("DefaultTime", "")),
            up=kv.get("State", "UP") == "UP",
        )
    return parts


def _pending_gpus(data: dict[str, Any]) -> dict[str, int]:
    pending: dict[str, int] = {}
    for j in data.get("jobs", []):
        st = j.get("job_state")
        states = st if isinstance(st, list) else [st]
        if "PENDING" not in states:
            continue
        _, per_node = parse_gres(j.get("tres_per_node"))
        _, per_job = parse_gres(j.get("tres_per_job"))
        nodes = _as_number(j.get("node_count")) or 1
        gpus = per_job or per_node * nodes
        for p in str(j.get("partition") or "").split(","):
            if p:
                pending[p] = pending.get(p, 0) + gpus
    return pending


class CliBackend:
    """Reads the Slurm CLI's JSON; `-N` is asked on 23.11+ where sinfo groups nodes."""

    name = "cli"

    def __init__(self, env: dict[str, str] | None = None, timeout_s: float = 20.0) -> None:
        self.env = {**os.environ, **(env or {})}
        self.timeout_s = timeout_s
        self._grouped: bool | None = None

    def _run(self, *cmd: str) -> str:
        res = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=self.timeout_s)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()[:300]}")
        return res.stdout

    def read(self) -> Snapshot:
        sinfo = json.loads(self._run("sinfo", "-N", "--json"))
        parts = _partitions_from_oneliner(self._run("scontrol", "show", "partition", "-o"))
        queue = json.loads(self._run("squeue", "--json", "--states=PENDING"))
        return Snapshot(taken_at=time.time(), nodes=_nodes_from_sinfo(sinfo), partitions=parts,
                        pending_gpus=_pending_gpus(queue))


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
            log.debug("state_refreshed", nodes=len(snap.nodes), partitions=len(snap.partitions))
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
