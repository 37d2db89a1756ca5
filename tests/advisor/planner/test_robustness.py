"""The fleet search's exact routing, and the robustness margin (planning and stress)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from omnipilot.advisor.planner.adaptive import solve_agh
from omnipilot.advisor.planner.coefficients import Table, build_table
from omnipilot.advisor.planner.feasibility import check_plan
from omnipilot.advisor.planner.fleet_search import FleetRouter
from omnipilot.advisor.planner.milp import route_fixed_fleet, solve_milp
from omnipilot.advisor.planner.plan import Plan, plan_cost
from omnipilot.advisor.planner.rates import RooflineRates
from omnipilot.advisor.planner.stress import stress_test
from omnipilot.cli import main

HERE = Path(__file__).parent


def test_fleet_router_matches_the_full_routing_lp(synth_table: Table) -> None:
    fleet = solve_milp(synth_table, time_limit_s=30).replicas
    routed = FleetRouter(synth_table, synth_table.allowed).route(fleet)
    assert routed is not None
    reference = route_fixed_fleet(synth_table, fleet)  # the LP over every configuration
    assert routed.cost == pytest.approx(plan_cost(synth_table, reference), rel=1e-6)
    plan = Plan("fleet", routed.replicas, routed.routing, routed.unmet)
    assert check_plan(synth_table, plan).feasible


def test_fleet_router_rejects_a_fleet_too_small(synth_table: Table) -> None:
    fleet = solve_milp(synth_table, time_limit_s=30).replicas.copy()
    fleet[int(np.argmax(fleet))] = 0
    fleet[fleet > 0] = 1
    router = FleetRouter(synth_table, synth_table.allowed)
    assert router.route(np.zeros_like(fleet)) is None
    out = router.route(fleet)
    assert out is None or check_plan(synth_table, Plan("x", out.replicas, out.routing, out.unmet)).feasible


def test_fleet_search_never_raises_the_cost(synth_table: Table) -> None:
    from omnipilot.advisor.planner.greedy import solve_gh

    router = FleetRouter(synth_table, synth_table.allowed)
    start = router.route(solve_gh(synth_table).replicas)
    assert start is not None
    better = router.improve(start, deadline=float("inf"))
    assert better.cost <= start.cost + 1e-9
    plan = Plan("fleet", better.replicas, better.routing, better.unmet)
    verdict = check_plan(synth_table, plan)
    assert verdict.feasible, verdict.violations
    assert verdict.cost == pytest.approx(better.cost, rel=1e-6)


def test_margin_tightens_error_latency_and_capacity(synth_table: Table) -> None:
    inst = synth_table.instance.model_copy(update={"margin": 0.25})
    t = build_table(inst, RooflineRates())
    assert np.allclose(t.error_slo, synth_table.error_bound / 1.25)
    assert np.allclose(t.error_bound, synth_table.error_bound)
    assert np.all(t.delay[t.allowed] <= (t.delay_bound / 1.25)[np.nonzero(t.allowed)[0]] + 1e-9)
    assert t.allowed.sum() <= synth_table.allowed.sum()
    both = t.allowed & synth_table.allowed
    assert np.all(t.load[both] >= synth_table.load[both] * 1.25 - 1e-12)


def test_margin_buys_robustness_at_a_price(synth_table: Table) -> None:
    inst = synth_table.instance.model_copy(update={"margin": 0.3})
    robust_t = build_table(inst, RooflineRates())
    plain, robust = solve_agh(synth_table), solve_agh(robust_t)
    assert check_plan(robust_t, robust).feasible
    assert plan_cost(robust_t, robust) >= plan_cost(synth_table, plain) - 1e-6  # tighter, dearer
    at = (1.0, 1.2)
    v_plain = [r.violation_pct for r in stress_test(synth_table, plain, factors=at, samples=5)]
    v_robust = [r.violation_pct for r in stress_test(robust_t, robust, factors=at, samples=5)]
    assert v_robust[1] <= v_plain[1]
    assert v_robust[1] == pytest.approx(0.0, abs=1e-9)  # 1.2 < 1.3: inside the margin


def test_cli_margin(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["plan", "--demand", str(HERE / "demand_small.toml"), "--roofline", "--solver", "gh", "--json"]
    assert main(args) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*args, "--margin", "0.2"]) == 0
    robust = json.loads(capsys.readouterr().out)
    assert robust["margin"] == 0.2 and plain["margin"] == 0.0
    assert robust["cost"] >= plain["cost"]
    for c in robust["classes"]:
        assert c["error_avg"] <= c["error_slo"] / 1.2 + 1e-5  # the report rounds to 5 digits
    assert main([*args, "--margin", "3"]) == 1
    assert "--margin 3.0: use a value between 0 and 1" in json.loads(capsys.readouterr().out)["error"]
