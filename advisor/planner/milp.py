"""The exact planner: a MILP over enumerated configurations (planner_spec.md §4, formulation B),
solved by HiGHS through `highspy`, time-limited, reporting its proven bound and gap.

Columns: x[i,c] ∈ [0,1] routing shares (allowed pairs only), r[c] ∈ ℤ≥0 replicas, u[i] ∈ [0, ū_i]
unmet shares, m[j] ∈ {0,1} model deployed. Rows: coverage, replica capacity, routed-average error,
GPU availability per kind, budget, model linking, and the cap on distinct models.
"""

from __future__ import annotations

import time

import numpy as np
import structlog

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.diagnose import explain_infeasible
from omnipilot.advisor.planner.milp_model import (
    build_layout,
    column_bounds,
    new_highs,
    objective_vector,
    pass_model,
)
from omnipilot.advisor.planner.plan import InfeasibleDemand, Plan

log = structlog.get_logger(__name__)
def solve_milp(t: Table, time_limit_s: float = 60.0, gap: float = 1e-4, threads: int = 1) -> Plan:
    """Solve to proven optimality (within `gap`) or until the time limit; raises InfeasibleDemand."""
    start = time.perf_counter()
    lay = build_layout(t)
    h = new_highs(time_limit_s, gap, threads)
    lo, hi, integer = column_bounds(t, lay)
    pass_model(h, lay, objective_vector(t, lay), lo, hi, integer)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    runtime = time.perf_counter() - start
    if info.primal_solution_status != 2:  # 2 = kSolutionStatusFeasible
        if "nfeasible" in status:
            raise InfeasibleDemand(explain_infeasible(t))
        raise InfeasibleDemand(f"MILP found no plan within {time_limit_s:.0f} s (HiGHS status: {status})")
    col = np.array(h.getSolution().col_value)
    ii, cc = lay.pairs
    routing = np.zeros((t.n_classes, t.n_configs))
    routing[ii, cc] = np.clip(col[: lay.n_x], 0.0, 1.0)
    replicas = np.rint(col[lay.r0 : lay.u0]).astype(int)
    unmet = np.clip(col[lay.u0 : lay.m0], 0.0, None)
    bound = float(info.mip_dual_bound)
    log.info(
        "planner.milp",
        status=status,
        objective=info.objective_function_value,
        bound=bound,
        gap=info.mip_gap,
        runtime_s=round(runtime, 3),
        columns=lay.n_cols,
        rows=len(lay.row_lo),
    )
    return Plan(
        "milp",
        replicas,
        routing,
        unmet,
        runtime_s=runtime,
        bound=bound,
        status="optimal" if status == "Optimal" else f"time limit ({status})",
        notes={"mip_gap": float(info.mip_gap), "nodes": float(info.mip_node_count)},
    )


def route_fixed_fleet(t: Table, replicas: np.ndarray) -> Plan:
    """Routing only (an LP): the fleet is frozen, demand it cannot carry goes unmet and pays the
    class's unmet penalty (the bound on unmet shares is lifted so the LP is always feasible)."""
    start = time.perf_counter()
    lay = build_layout(t, with_budget=False)
    h = new_highs(30.0, 1e-6)
    lo, hi, _ = column_bounds(t, lay)
    lo[lay.r0 : lay.u0] = hi[lay.r0 : lay.u0] = replicas
    hi[lay.u0 : lay.m0] = 1.0
    lo[lay.m0 :] = 0.0
    hi[lay.m0 :] = 1.0
    pass_model(h, lay, objective_vector(t, lay), lo, hi, np.zeros(lay.n_cols, dtype=bool))
    h.run()
    col = np.array(h.getSolution().col_value)
    ii, cc = lay.pairs
    routing = np.zeros((t.n_classes, t.n_configs))
    routing[ii, cc] = np.clip(col[: lay.n_x], 0.0, 1.0)
    unmet = np.clip(col[lay.u0 : lay.m0], 0.0, 1.0)
    return Plan("route", replicas.copy(), routing, unmet, runtime_s=time.perf_counter() - start)
