"""GH, the single-pass greedy heuristic of the paper, with its three constraint-aware mechanisms:

- M1 TP-aware feasibility selection: only (class, configuration) pairs that fit in memory and meet
  the class's latency bound are candidates (the table's `allowed`); per (class, model, GPU,
  precision) the cheapest few TP degrees stay in play (keeping only one loses 31–79 % [spec §4.5]).
- M2 cost per effective coverage: each candidate is scored by its full cost increment (new
  replicas' rent, a new model's load cost, the delay penalty of the share) divided by the share of
  the class it can actually take given spare capacity, free GPUs, the budget and the class's
  remaining error budget; recomputed on the unassigned share after every step.
- M3 TP upgrade: when no candidate can take any share, an active deployment of the same model,
  GPU and precision is re-sharded to a higher TP degree (weights already placed), if that admits
  the class and keeps every constraint.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.plan import InfeasibleDemand, Plan
from omnipilot.advisor.planner.state import EPS, State

TOP_TP = 3  # TP degrees kept per (class, model, GPU, precision) for the heuristics


def candidate_mask(t: Table, top_tp: int = TOP_TP) -> np.ndarray:
    """M1: the allowed pairs, keeping per (class, model, GPU kind, precision) the `top_tp`
    cheapest TP degrees by rent per request."""
    keep = np.zeros_like(t.allowed)
    with np.errstate(divide="ignore"):
        per_req = np.where(t.allowed, t.rent[None, :] * t.load + t.penalty, np.inf)
    groups: dict[tuple[str, str, str], list[int]] = {}
    for c, cfg in enumerate(t.configs):
        groups.setdefault((cfg.model, cfg.gpu, cfg.precision), []).append(c)
    for cols in groups.values():
        idx = np.array(cols)
        sub = per_req[:, idx]
        order = np.argsort(sub, axis=1, kind="stable")[:, :top_tp]
        rows = np.arange(t.n_classes)[:, None]
        keep[rows, idx[order]] = True
    out: np.ndarray = keep & t.allowed
    return out


def _reference_error(s: State, i: int, cands: np.ndarray, rem: float) -> float:
    """Error of the cheapest-per-request candidate that could carry the whole rest of class i
    within its error bound: a worse candidate may only take what leaves the rest to it. (Taking
    the most accurate model as the reference instead forces the rest onto the priciest model.)"""
    t = s.t
    e = t.error[i, cands]
    ok = s.err[i] + e * rem <= t.error_slo[i] + 1e-12
    if not ok.any():
        return float(e.min())
    per_req = s.rent[cands] * s.load_c[i, cands] + s.pen[i, cands]
    return float(e[ok][np.argmin(per_req[ok])])


def _coverage(s: State, i: int, cands: np.ndarray, rem: float) -> tuple[np.ndarray, np.ndarray]:
    """Effective share a_c each candidate can take and the replicas dr_c it would add."""
    t = s.t
    eps_i = float(t.error_slo[i])
    e = t.error[i, cands]
    e_ref = _reference_error(s, i, cands, rem)
    a = np.full(len(cands), rem)
    worse = e > e_ref + 1e-15
    room = eps_i - s.err[i] - e_ref * rem  # error budget left if the rest went to the reference
    a[worse] = np.minimum(rem, np.maximum(room, 0.0) / (e[worse] - e_ref))
    load = s.load_c[i, cands]
    spare = s.r[cands] - s.L[cands]
    dr = np.ceil(np.maximum(a * load - spare - 1e-9, 0.0))
    g = t.gpu_of[cands]
    max_dr = (s.avail[g] - s.gpus[g]) // t.tp[cands]
    new_model = s.model_reps[t.model_of[cands]] == 0
    money = s.budget - s.spend - np.where(new_model, t.load_cost[t.model_of[cands]], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        max_dr = np.minimum(max_dr, np.floor(np.where(s.rent[cands] > 0, money / s.rent[cands], np.inf)))
    max_dr = np.where(money < -1e-9, -1, max_dr)
    if s.n_models >= s.max_models:
        max_dr = np.where(new_model, -1, max_dr)
    short = dr > max_dr
    dr = np.where(short, np.maximum(max_dr, 0), dr)
    a = np.where(short, np.minimum(a, np.maximum(spare + dr, 0.0) / load), a)
    a = np.where(max_dr < 0, np.minimum(a, np.maximum(spare, 0.0) / load), a)
    return np.maximum(a, 0.0), dr.astype(int)


def _step(s: State, i: int, cands: np.ndarray, rem: float, waste: float = 1.0) -> float:
    """Assign the best-scoring chunk of class i; returns the share assigned (0: none possible).
    `waste` prices the unused part of new replicas: 1 charges it in full (the paper's M2); lower
    values trust later classes to fill it (a diversification for AGH's multi-start)."""
    t = s.t
    a, dr = _coverage(s, i, cands, rem)
    new_model = (s.model_reps[t.model_of[cands]] == 0) & (dr > 0)
    fresh = np.maximum(a * s.load_c[i, cands] - np.maximum(s.r[cands] - s.L[cands], 0.0), 0.0)
    charged = np.where(dr > 0, fresh + waste * (dr - fresh), 0.0)
    delta = (
        s.rent[cands] * charged
        + np.where(new_model, t.load_cost[t.model_of[cands]], 0.0)
        + s.pen[i, cands] * a
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(a > EPS, delta / a, np.inf)
    unmet_room = min(rem, float(t.max_unmet[i] - s.u[i]))
    k = int(np.lexsort((t.tp[cands], t.error[i, cands], score))[0]) if len(cands) else -1
    if unmet_room > EPS and (k < 0 or t.unmet_cost[i] < score[k]):
        s.u[i] += unmet_room
        return unmet_room
    if k < 0 or not np.isfinite(score[k]):
        return 0.0
    c = int(cands[k])
    if dr[k] > 0:
        s.set_replicas(c, int(s.r[c] + dr[k]))
    s.route(i, c, float(a[k]))
    return float(a[k])


def tp_upgrade(s: State, i: int, allowed: np.ndarray) -> bool:
    """M3: re-shard an active deployment to a higher TP degree so it admits class i."""
    t = s.t
    for c in np.nonzero(s.r)[0]:
        base = t.configs[c]
        for c2, cfg in enumerate(t.configs):
            if (cfg.model, cfg.gpu, cfg.precision) != (
                base.model,
                base.gpu,
                base.precision,
            ) or cfg.tp <= base.tp:
                continue
            users = np.nonzero(s.x[:, c])[0]
            if not allowed[i, c2] or not all(allowed[k, c2] for k in users):
                continue
            trial = s.copy()
            for k in users:
                share = float(trial.x[k, c])
                trial.route(int(k), int(c), -share)
                trial.route(int(k), c2, share)
            trial.set_replicas(int(c), 0)
            trial.set_replicas(c2, max(trial.need(c2), int(trial.r[c2])))
            if trial.feasible_resources() and np.all(trial.err <= t.error_slo + 1e-12):
                s.__dict__.update(trial.__dict__)
                return True
    return False


def construct(
    t: Table, order: Sequence[int], allowed: np.ndarray, start: State | None = None, waste: float = 1.0
) -> State:
    """One greedy pass over the classes in `order`; raises InfeasibleDemand naming the class."""
    s = start.copy() if start is not None else State(t)
    for i in order:
        cands = np.nonzero(allowed[i])[0]
        rem = 1.0 - float(s.x[i].sum() + s.u[i])
        guard = 0
        while rem > 1e-9:
            took = _step(s, i, cands, rem, waste)
            if took <= 1e-12 and tp_upgrade(s, i, allowed):
                continue
            if took <= 1e-12:
                name = t.instance.classes[i].name
                raise InfeasibleDemand(
                    f"greedy could not place {rem:.1%} of class {name!r}: no candidate has free GPUs, "
                    "budget or error budget left"
                )
            rem -= took
            guard += 1
            if guard > 10 * t.n_configs + 10:
                raise InfeasibleDemand(f"greedy made no progress on class {t.instance.classes[i].name!r}")
    return s


def default_order(t: Table) -> list[int]:
    """The paper's GH order: classes by arrival rate, highest first."""
    return [int(i) for i in np.argsort(-t.rate_s, kind="stable")]


def solve_gh(t: Table) -> Plan:
    start = time.perf_counter()
    _precheck(t)
    try:
        s = construct(t, default_order(t), candidate_mask(t))
    except InfeasibleDemand as exc:
        raise explain_failure(t, exc) from exc
    s.trim()
    return s.to_plan("gh", time.perf_counter() - start)


def _precheck(t: Table) -> None:
    """Phase 1 (coverage pre-check): a class with no candidate at all is named before any work."""
    from omnipilot.advisor.planner.diagnose import unservable_classes

    reasons = unservable_classes(t)
    if reasons:
        raise InfeasibleDemand("infeasible demand: " + "; ".join(reasons))


def explain_failure(t: Table, exc: InfeasibleDemand) -> InfeasibleDemand:
    """A heuristic's failure, named by the LP diagnosis where the demand itself is infeasible."""
    from omnipilot.advisor.planner.diagnose import binding_constraints

    found = binding_constraints(t)
    return InfeasibleDemand(f"infeasible demand: binding constraint {found}") if found else exc
