"""MILP optimality (checked by enumeration), heuristic feasibility, infeasibility messages."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from omnipilot.advisor.planner.adaptive import solve_agh
from omnipilot.advisor.planner.coefficients import Table, build_table
from omnipilot.advisor.planner.feasibility import check_plan
from omnipilot.advisor.planner.greedy import solve_gh
from omnipilot.advisor.planner.instance import GpuPool, Instance, ModelOption, RequestClass
from omnipilot.advisor.planner.milp import route_fixed_fleet, solve_milp
from omnipilot.advisor.planner.plan import InfeasibleDemand, plan_cost
from omnipilot.advisor.planner.rates import RooflineRates


def tiny_instance(**over: object) -> Instance:
    base: dict[str, object] = dict(
        classes=[
            RequestClass(
                name="chat",
                rate_per_h=30000,
                prompt_tokens=1000,
                output_tokens=200,
                delay_slo_s=12,
                error_slo=0.05,
                delay_penalty=1e-5,
            ),
            RequestClass(
                name="code",
                rate_per_h=15000,
                prompt_tokens=2000,
                output_tokens=30,
                delay_slo_s=4,
                error_slo=0.045,
            ),
        ],
        models=[
            ModelOption(name="meta-llama/Llama-3.1-8B", error=0.06),
            ModelOption(name="Qwen/Qwen2.5-32B", error=0.035),
        ],
        gpus=[GpuPool(kind="A100-80GB", available=4), GpuPool(kind="H100-80GB", available=2)],
        tp_degrees=[1, 2],
    )
    base.update(over)
    return Instance.model_validate(base)


def enumerate_optimum(t: Table) -> float:
    """Brute force: every replica vector within the pools, routing by the LP; the cheapest."""
    caps = [range(int(t.available[t.gpu_of[c]] // t.tp[c]) + 1) for c in range(t.n_configs)]
    best = math.inf
    for reps in itertools.product(*caps):
        r = np.array(reps)
        if any(t.tp[t.gpu_of == g] @ r[t.gpu_of == g] > t.available[g] for g in range(len(t.available))):
            continue
        plan = route_fixed_fleet(t, r)
        if np.all(plan.unmet <= t.max_unmet + 1e-9) and check_plan(t, plan).feasible:
            best = min(best, plan_cost(t, plan))
    return best


def test_milp_finds_the_enumerated_optimum() -> None:
    t = build_table(tiny_instance(), RooflineRates())
    assert 0 < t.allowed.sum() and t.n_configs <= 8  # small enough to enumerate
    opt = enumerate_optimum(t)
    plan = solve_milp(t, time_limit_s=30)
    assert plan.status == "optimal"
    assert plan_cost(t, plan) == pytest.approx(opt, rel=1e-6)
    assert plan.bound is not None and plan.bound <= opt * (1 + 1e-6)
    assert check_plan(t, plan).feasible


@pytest.mark.parametrize("solver", [solve_gh, solve_agh])
def test_heuristics_are_feasible_and_not_below_the_optimum(synth_table: Table, solver: object) -> None:
    plan = solver(synth_table)  # type: ignore[operator]
    verdict = check_plan(synth_table, plan)
    assert verdict.feasible, verdict.violations
    exact = solve_milp(synth_table, time_limit_s=30)
    assert plan_cost(synth_table, plan) >= (exact.bound or 0) * (1 - 1e-6)


def test_agh_is_no_worse_than_gh(synth_table: Table) -> None:
    assert (
        plan_cost(synth_table, solve_agh(synth_table)) <= plan_cost(synth_table, solve_gh(synth_table)) + 1e-6
    )


def test_too_much_demand_names_gpu_availability() -> None:
    inst = tiny_instance(gpus=[GpuPool(kind="A100-80GB", available=1)])
    classes = [c.model_copy(update={"rate_per_h": c.rate_per_h * 50}) for c in inst.classes]
    t = build_table(inst.model_copy(update={"classes": classes}), RooflineRates())
    for solve in (solve_milp, solve_gh, solve_agh):
        with pytest.raises(InfeasibleDemand, match=r"GPU availability of A100-80GB"):
            solve(t)


def test_tight_budget_names_the_budget() -> None:
    t = build_table(tiny_instance(budget=5.0), RooflineRates())
    with pytest.raises(InfeasibleDemand, match="budget"):
        solve_milp(t)


def test_unreachable_error_bound_names_the_class() -> None:
    inst = tiny_instance()
    classes = [inst.classes[0].model_copy(update={"error_slo": 0.01}), inst.classes[1]]
    t = build_table(inst.model_copy(update={"classes": classes}), RooflineRates())
    with pytest.raises(InfeasibleDemand, match="error bound of class 'chat'"):
        solve_agh(t)


def test_latency_nobody_meets_is_named() -> None:
    inst = tiny_instance()
    classes = [inst.classes[0].model_copy(update={"delay_slo_s": 0.05}), inst.classes[1]]
    t = build_table(inst.model_copy(update={"classes": classes}), RooflineRates())
    with pytest.raises(InfeasibleDemand, match=r"class 'chat' cannot be served .* latency"):
        solve_milp(t)
