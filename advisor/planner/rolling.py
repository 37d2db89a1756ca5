"""Rolling horizon vs a static plan on a demand trace (per-window class rates).

Static: one plan for the whole horizon (on the mean or the peak rates), fleet frozen; in each
window only the routing adapts (an LP) and demand beyond the fleet goes unmet at its penalty.
Rolling: every window AGH re-plans for that window's rates, seeded with the fleet carried over
from the previous window; each replica added pays `reload_h` hours of rent for loading weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from omnipilot.advisor.planner.adaptive import solve_agh
from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.milp import route_fixed_fleet
from omnipilot.advisor.planner.plan import Plan, plan_cost


@dataclass(frozen=True)
class RollingResult:
    policy: str
    window_costs: list[float]
    unmet_pct: float  # share of requests left unserved over the horizon
    reconfigurations: int  # replicas added after the first window

    @property
    def total(self) -> float:
        return float(sum(self.window_costs))

    @property
    def std(self) -> float:
        return float(np.std(self.window_costs))

    @property
    def peak(self) -> float:
        return float(max(self.window_costs))


def retarget(t: Table, rates_per_h: np.ndarray, horizon_h: float) -> Table:
    """The same coefficients for other arrival rates and another horizon (μ, delay and error do
    not depend on the rate, so the provider is not asked again)."""
    classes = [
        c.model_copy(update={"rate_per_h": float(max(r, 1e-6))})
        for c, r in zip(t.instance.classes, rates_per_h, strict=True)
    ]
    inst = t.instance.model_copy(update={"classes": classes, "horizon_h": horizon_h})
    return dataclasses.replace(t, instance=inst, rent=t.rent / t.instance.horizon_h * horizon_h)


def _unmet_requests(t: Table, plan: Plan) -> tuple[float, float]:
    lam = t.rate_s
    return float(lam @ plan.unmet), float(lam.sum())


def static_policy(
    t: Table,
    rates: np.ndarray,
    window_h: float,
    basis: str = "mean",
    solver: Callable[[Table], Plan] = solve_agh,
) -> RollingResult:
    """Plan once on the mean (or peak) rates of the whole trace; route per window."""
    plan_rates = rates.mean(axis=0) if basis == "mean" else rates.max(axis=0)
    fleet = solver(retarget(t, plan_rates, window_h * len(rates))).replicas
    costs, unmet, total = [], 0.0, 0.0
    for w in range(len(rates)):
        tw = retarget(t, rates[w], window_h)
        plan = route_fixed_fleet(tw, fleet)
        costs.append(plan_cost(tw, plan))
        u, n = _unmet_requests(tw, plan)
        unmet, total = unmet + u, total + n
    return RollingResult(f"static-{basis}", costs, 100 * unmet / total, 0)


def rolling_policy(
    t: Table, rates: np.ndarray, window_h: float, reload_h: float = 1.0 / 6.0, seed: int = 0
) -> RollingResult:
    """Re-plan every window with AGH from the carried fleet; a fresh seed per window so AGH's
    random starts keep exploring (why AGH gains from re-planning and GH does not)."""
    costs, unmet, total, added = [], 0.0, 0.0, 0
    fleet: np.ndarray | None = None
    for w in range(len(rates)):
        tw = retarget(t, rates[w], window_h)
        plan = solve_agh(tw, seed=seed + w, start=fleet, time_budget_s=1.0)
        grow = np.maximum(plan.replicas - (fleet if fleet is not None else 0), 0)
        reload = float(tw.rent @ grow) / window_h * reload_h if fleet is not None else 0.0
        added += int(grow.sum()) if fleet is not None else 0
        costs.append(plan_cost(tw, plan) + reload)
        u, n = _unmet_requests(tw, plan)
        unmet, total = unmet + u, total + n
        fleet = plan.replicas
    return RollingResult("rolling-agh", costs, 100 * unmet / total, added)
