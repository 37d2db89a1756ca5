"""A solution: integer replicas per configuration, routing shares per (class, configuration) and
the unmet share per class, with the solver's own report (cost, bound, runtime)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from omnipilot.advisor.planner.coefficients import Table


class InfeasibleDemand(RuntimeError):
    """No plan meets the constraints; the message names the binding constraint."""


@dataclass
class Plan:
    solver: str
    replicas: np.ndarray  # [C] int
    routing: np.ndarray  # [I, C] shares
    unmet: np.ndarray  # [I]
    runtime_s: float = 0.0
    bound: float | None = None  # a proven lower bound on the optimum (MILP only)
    status: str = "feasible"
    notes: dict[str, float] = field(default_factory=dict)


def objective(table: Table, replicas: np.ndarray, routing: np.ndarray, unmet: np.ndarray) -> float:
    """Rent + delay penalty + unmet penalty + one-off model load cost (the solvers' objective)."""
    used_models = np.unique(table.model_of[replicas > 0])
    return float(
        table.rent @ replicas
        + float(np.sum(table.penalty * routing))
        + table.unmet_cost @ unmet
        + table.load_cost[used_models].sum()
    )


def plan_cost(table: Table, plan: Plan) -> float:
    return objective(table, plan.replicas, plan.routing, plan.unmet)


def gap_pct(cost: float, bound: float | None) -> float | None:
    """How far a cost lies above a proven lower bound, in percent of the bound (conservative)."""
    if bound is None or not np.isfinite(bound):
        return None
    return 100.0 * (cost - bound) / max(abs(bound), 1e-9)
