"""An independent check of a plan against its instance. It trusts no solver: it recomputes load,
error averages, GPU counts, cost and memory (from the catalog) with its own loops, so a bug in a
solver's bookkeeping shows up here as a named violation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.plan import Plan
from omnipilot.advisor.planner.rates import GB, GPU_MEMORY_UTILIZATION, OVERHEAD_BYTES_PER_GPU
from omnipilot.catalog import Catalog

TOL = 1e-6


@dataclass
class Verdict:
    feasible: bool
    cost: float
    violations: list[str] = field(default_factory=list)


def check_plan(t: Table, plan: Plan, catalog: Catalog | None = None) -> Verdict:
    inst = t.instance
    bad: list[str] = []
    n_i, n_c = len(inst.classes), len(t.configs)
    if plan.replicas.shape != (n_c,) or plan.routing.shape != (n_i, n_c) or plan.unmet.shape != (n_i,):
        return Verdict(
            False, float("nan"), ["plan arrays do not match the instance's classes/configurations"]
        )
    reps = plan.replicas
    if np.any(reps < 0) or np.any(reps != np.round(reps)):
        bad.append("replica counts must be non-negative integers")
    if np.any(plan.routing < -TOL) or np.any(plan.unmet < -TOL):
        bad.append("negative routing or unmet share")
    bad += _routes(t, plan, catalog or Catalog.load())
    for i, cls in enumerate(inst.classes):
        served = sum(float(plan.routing[i, c]) for c in range(n_c))
        if abs(served + plan.unmet[i] - 1.0) > TOL:
            bad.append(f"coverage: class {cls.name!r} routed {served:.6f} + unmet {plan.unmet[i]:.6f} != 1")
        if plan.unmet[i] > cls.max_unmet + TOL:
            bad.append(f"unmet: class {cls.name!r} leaves {plan.unmet[i]:.4f} > max_unmet {cls.max_unmet}")
        err = sum(float(plan.routing[i, c] * t.error[i, c]) for c in range(n_c) if plan.routing[i, c] > 0)
        if err > cls.error_slo + TOL:
            bad.append(f"error: class {cls.name!r} routed-average error {err:.5f} > {cls.error_slo}")
    bad += _capacity(t, plan)
    rent = 0.0
    for g, pool in enumerate(inst.gpus):
        used = sum(t.configs[c].tp * int(reps[c]) for c in range(n_c) if t.configs[c].gpu == pool.kind)
        if used > pool.available:
            bad.append(f"gpus: {used} of kind {pool.kind} used, {pool.available} available")
        rent += sum(float(t.rent[c]) * int(reps[c]) for c in range(n_c) if t.gpu_of[c] == g)
    models = {t.configs[c].model for c in range(n_c) if reps[c] > 0}
    load = sum(m.load_cost for m in inst.models if m.name in models)
    if inst.budget is not None and rent + load > inst.budget * (1 + TOL):
        bad.append(f"budget: spend {rent + load:.2f} > budget {inst.budget:.2f}")
    if inst.max_models is not None and len(models) > inst.max_models:
        bad.append(f"models: {len(models)} distinct models > max_models {inst.max_models}")
    hours = inst.horizon_h
    penalty = sum(
        cls.delay_penalty * cls.rate_per_h * hours * float(plan.routing[i, c]) * float(t.delay[i, c])
        for i, cls in enumerate(inst.classes)
        for c in range(n_c)
        if plan.routing[i, c] > 0
    )
    unmet = sum(
        cls.unmet_penalty * cls.rate_per_h * hours * float(plan.unmet[i])
        for i, cls in enumerate(inst.classes)
    )
    return Verdict(not bad, rent + load + penalty + unmet, bad)


def _routes(t: Table, plan: Plan, cat: Catalog) -> list[str]:
    """Each used route: allowed, within its latency bound, TP inside a node, fits in memory."""
    bad: list[str] = []
    inst = t.instance
    pools = {p.kind: p for p in inst.gpus}
    for i, c in zip(*np.nonzero(plan.routing > TOL), strict=True):
        cls, cfg = inst.classes[i], t.configs[c]
        if not t.allowed[i, c] or not np.isfinite(t.delay[i, c]) or t.delay[i, c] > cls.delay_slo_s + TOL:
            bad.append(f"delay: class {cls.name!r} routed to {cfg.label}, which misses {cls.delay_slo_s} s")
            continue
        if plan.replicas[c] < 1:
            bad.append(f"capacity: class {cls.name!r} routed to {cfg.label}, which has no replica")
        if cfg.tp > pools[cfg.gpu].gpus_per_node:
            bad.append(f"tp: {cfg.label} spans more GPUs than a node has")
        ms, gs = cat.model(cfg.model), cat.gpu(cfg.gpu)
        if ms is None or gs is None:
            bad.append(f"catalog: {cfg.label} names an unknown model or GPU")
            continue
        kv = t.concurrency[i, c] * ms.kv_bytes_per_token() * cls.kv_tokens
        need = ms.weight_bytes(cfg.precision) + kv + cfg.tp * OVERHEAD_BYTES_PER_GPU
        if need > cfg.tp * gs.memory_gb * GB * GPU_MEMORY_UTILIZATION:
            bad.append(
                f"memory: {cfg.label} needs {need / GB / cfg.tp:.1f} GB per GPU for class {cls.name!r}"
            )
    return bad


def _capacity(t: Table, plan: Plan) -> list[str]:
    bad: list[str] = []
    inst = t.instance
    for c, cfg in enumerate(t.configs):
        used = 0.0
        for i, cls in enumerate(inst.classes):
            if plan.routing[i, c] > TOL and t.mu[i, c] > 0:
                used += cls.rate_per_h / 3600.0 * float(plan.routing[i, c]) / float(t.mu[i, c])
        limit = (1.0 - inst.headroom) * int(plan.replicas[c])
        if used > limit * (1 + TOL) + TOL:
            bad.append(
                f"capacity: {cfg.label} carries {used:.4f} replicas of load on {plan.replicas[c]} replica(s)"
            )
    return bad
