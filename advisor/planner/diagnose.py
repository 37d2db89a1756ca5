"""Why no plan exists: name the binding constraint in words an admin can act on.

First, classes that no configuration can serve at all (memory or latency). Then an elastic LP
relaxation: every GPU pool, the budget, each class's error bound and the model cap get a slack
priced per unit of its own limit; the slacks left positive at the optimum are the binding ones.
"""

from __future__ import annotations

import numpy as np

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.milp_model import build_layout, column_bounds, new_highs, pass_model
from omnipilot.advisor.planner.rates import RateQuery, max_batch
from omnipilot.catalog import Catalog

RELAXABLE = ("gpus:", "budget", "error:", "models")


def unservable_classes(t: Table, catalog: Catalog | None = None) -> list[str]:
    """One sentence per class with no allowed configuration and no permission to go unserved."""
    out: list[str] = []
    cat = catalog or Catalog.load()
    for i, cls in enumerate(t.instance.classes):
        if t.allowed[i].any() or cls.max_unmet >= 1.0:
            continue
        fits = 0
        for cfg in t.configs:
            ms, gs = cat.model(cfg.model), cat.gpu(cfg.gpu)
            if ms is None or gs is None:
                continue
            q = RateQuery(
                ms,
                gs,
                cfg.tp,
                cfg.precision,
                cls.prompt_tokens,
                cls.output_tokens,
                cls.kv_tokens,
                cls.delay_slo_s,
            )
            fits += max_batch(q) >= 1
        if not t.configs:
            why = "no configuration exists (every TP degree exceeds the GPUs per node or available)"
        elif fits == 0:
            why = "memory: no model/GPU/TP/precision holds the weights plus one request's KV cache"
        else:
            why = f"latency: {fits} configuration(s) fit in memory but none meets {cls.delay_slo_s:g} s"
        out.append(f"class {cls.name!r} cannot be served — {why}; relax its SLO or add larger GPUs/models")
    return out


def explain_infeasible(t: Table) -> str:
    """A message naming the binding constraint(s), most violated first."""
    reasons = unservable_classes(t)
    if reasons:
        return "infeasible demand: " + "; ".join(reasons)
    found = binding_constraints(t)
    if found is None:
        return "infeasible demand: the classes' max_unmet shares are too small for any plan"
    return "infeasible demand: binding constraint " + found


def binding_constraints(t: Table) -> str | None:
    """The constraints an elastic LP relaxation must stretch, in words; None if it needs none."""
    lay = build_layout(t, elastic=True)
    relax = [r for r, kind in enumerate(lay.row_kind) if kind.startswith(RELAXABLE)]
    base = lay.n_cols
    weights = []
    for k, r in enumerate(relax):
        lay.rows.append((r, base + k, -1.0))
        weights.append(1.0 / max(abs(lay.row_hi[r]), 1e-9))
    lo, hi, _ = column_bounds(t, lay)
    n = base + len(relax)
    cost = np.concatenate([np.zeros(base), np.array(weights)])
    lo, hi = np.concatenate([lo, np.zeros(len(relax))]), np.concatenate([hi, np.full(len(relax), np.inf)])
    hi[lay.r0 : lay.u0] = np.inf  # availability is what the slack measures, not the column bound
    h = new_highs(30.0, 1e-6)
    pass_model(h, lay, cost, lo, hi, np.zeros(n, dtype=bool))
    h.run()
    slack = np.array(h.getSolution().col_value)[base:] if relax else np.zeros(0)
    found = sorted(
        (
            (slack[k] * weights[k], _words(t, lay.row_kind[r], lay.row_hi[r], slack[k]))
            for k, r in enumerate(relax)
            if slack[k] > 1e-6
        ),
        reverse=True,
    )
    return "; ".join(text for _, text in found) if found else None


def _words(t: Table, kind: str, limit: float, short: float) -> str:
    inst = t.instance
    if kind.startswith("gpus:"):
        pool = inst.gpus[int(kind.split(":")[1])]
        return (
            f"GPU availability of {pool.kind}: about {limit + short:.0f} GPUs needed, "
            f"{pool.available} available (add GPUs of this or another kind, or lower the demand)"
        )
    if kind == "budget":
        return f"budget: about {limit + short:.2f} needed, {limit:.2f} allowed (raise the budget)"
    if kind.startswith("error:"):
        cls = inst.classes[int(kind.split(":")[1])]
        return (
            f"error bound of class {cls.name!r}: the best routed average is about "
            f"{limit + short:.4f} > {limit:.4f} (add a more accurate model or relax error_slo)"
        )
    return f"model cap: {limit + short:.0f} distinct models needed, max_models = {limit:.0f}"
