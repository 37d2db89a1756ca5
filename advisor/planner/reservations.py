"""Turn a plan's fleet into Slurm reservation commands for the admin to review and run.
They are printed, never executed: a reservation takes nodes away from other users."""

from __future__ import annotations

import math
import re

import numpy as np

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.plan import Plan


def slurm_duration(hours: float) -> str:
    """Slurm's D-HH:MM:SS, rounded up to the minute."""
    minutes = math.ceil(hours * 60)
    days, rem = divmod(minutes, 24 * 60)
    return f"{days}-{rem // 60:02d}:{rem % 60:02d}:00"


def reservation_lines(
    t: Table, plan: Plan, users: str, start: str = "now", prefix: str = "omnipilot"
) -> list[str]:
    """One comment and one `scontrol create reservation` line per GPU kind the plan uses.
    Whole nodes are reserved (NodeCnt), since TP groups must sit inside a node."""
    lines: list[str] = []
    for g, pool in enumerate(t.instance.gpus):
        on = np.nonzero((t.gpu_of == g) & (plan.replicas > 0))[0]
        if not len(on):
            continue
        gpus = int(sum(int(t.tp[c]) * int(plan.replicas[c]) for c in on))
        # replicas are packed whole into nodes: a TP group never straddles two nodes
        slots = sorted((int(t.tp[c]) for c in on for _ in range(int(plan.replicas[c]))), reverse=True)
        nodes: list[int] = []
        for tp in slots:
            for k, free in enumerate(nodes):
                if free >= tp:
                    nodes[k] -= tp
                    break
            else:
                nodes.append(pool.gpus_per_node - tp)
        name = f"{prefix}-{re.sub(r'[^A-Za-z0-9]+', '-', pool.kind).strip('-').lower()}"
        part = f" PartitionName={pool.partition}" if pool.partition else ""
        lines.append(f"# {pool.kind}: {gpus} GPU(s) in {len(nodes)} node(s) of {pool.gpus_per_node}")
        lines.append(
            f"scontrol create reservation ReservationName={name} StartTime={start} "
            f"Duration={slurm_duration(t.instance.horizon_h)} Users={users}{part} NodeCnt={len(nodes)}"
        )
    return lines
