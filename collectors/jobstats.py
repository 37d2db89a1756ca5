"""Princeton jobstats summaries, as stored in a job's AdminComment by its slurmctld epilog.

Format (github.com/PrincetonUniversity/jobstats, docs/setup/summaries.md): `JS1:` + base64 of the
gzipped compact JSON `{"gpus": N, "nodes": {NODE: {"cpus", "gpu_total_memory": {idx: bytes},
"gpu_used_memory": {idx: bytes}, "gpu_utilization": {idx: percent}, "total_memory", "used_memory",
"total_time"}}, "total_time": seconds}`; `JS1:Short` (job too short to sample) and `JS1:None` carry
no data. Anything else in AdminComment is not jobstats and is left alone.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from typing import Any, Literal

from pydantic import BaseModel

PREFIX = "JS1:"


class JobstatsSummary(BaseModel):
    """The per-job figures the harvest keeps (node names and per-GPU detail are dropped)."""

    status: Literal["ok", "short", "none", "absent", "undecodable"]
    gpus: int | None = None
    gpu_util_mean_pct: float | None = None
    gpu_mem_used_peak_frac: float | None = None
    cpu_efficiency: float | None = None
    cpu_mem_used_frac: float | None = None
    error: str | None = None


def encode(summary: dict[str, Any]) -> str:
    """The inverse of `decode`'s parsing: what the jobstats epilog writes (for tests and the demo)."""
    blob = gzip.compress(json.dumps(summary, separators=(",", ":")).encode())
    return PREFIX + base64.b64encode(blob).decode()


def decode(admin_comment: str | None) -> JobstatsSummary:
    text = (admin_comment or "").strip()
    if not text.startswith(PREFIX):
        return JobstatsSummary(status="absent")
    body = text[len(PREFIX) :]
    if body == "Short":
        return JobstatsSummary(status="short")
    if body == "None":
        return JobstatsSummary(status="none")
    try:
        data = json.loads(gzip.decompress(base64.b64decode(body, validate=True)))
    except (binascii.Error, OSError, EOFError, zlib.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        return JobstatsSummary(status="undecodable", error=f"{type(exc).__name__}: {exc}"[:200])
    if not isinstance(data, dict):
        return JobstatsSummary(status="undecodable", error="summary is not a JSON object")
    return _summarise(data)


def _summarise(data: dict[str, Any]) -> JobstatsSummary:
    utils: list[float] = []
    mem_fracs: list[float] = []
    cpu_used = cpu_alloc = mem_used = mem_total = 0.0
    elapsed = float(data.get("total_time") or 0)
    nodes = data.get("nodes") if isinstance(data.get("nodes"), dict) else {}
    assert isinstance(nodes, dict)
    for node in nodes.values():
        if not isinstance(node, dict):
            continue
        utils.extend(float(v) for v in (node.get("gpu_utilization") or {}).values())
        total = node.get("gpu_total_memory") or {}
        for idx, used in (node.get("gpu_used_memory") or {}).items():
            if total.get(idx):
                mem_fracs.append(float(used) / float(total[idx]))
        cpu_used += float(node.get("total_time") or 0)
        cpu_alloc += elapsed * float(node.get("cpus") or 0)
        mem_used += float(node.get("used_memory") or 0)
        mem_total += float(node.get("total_memory") or 0)
    gpus = data.get("gpus")
    return JobstatsSummary(
        status="ok",
        gpus=int(gpus) if isinstance(gpus, int | float) and not isinstance(gpus, bool) else None,
        gpu_util_mean_pct=round(sum(utils) / len(utils), 2) if utils else None,
        gpu_mem_used_peak_frac=round(min(max(mem_fracs), 1.0), 4) if mem_fracs else None,
        cpu_efficiency=round(cpu_used / cpu_alloc, 4) if cpu_alloc > 0 else None,
        cpu_mem_used_frac=round(mem_used / mem_total, 4) if mem_total > 0 else None,
    )
