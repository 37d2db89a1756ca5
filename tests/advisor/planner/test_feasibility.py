"""The independent checker catches deliberately broken plans."""

from __future__ import annotations

import numpy as np

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.feasibility import check_plan
from omnipilot.advisor.planner.milp import solve_milp
from omnipilot.advisor.planner.plan import Plan


def _copy(p: Plan) -> Plan:
    return Plan(p.solver, p.replicas.copy(), p.routing.copy(), p.unmet.copy())


def test_good_plan_passes_and_cost_matches(small_table: Table) -> None:
    plan = solve_milp(small_table)
    verdict = check_plan(small_table, plan)
    assert verdict.feasible, verdict.violations
    assert verdict.cost > 0


def test_removed_replica_is_a_capacity_violation(small_table: Table) -> None:
    broken = _copy(solve_milp(small_table))
    c = int(np.argmax(broken.replicas))
    broken.replicas[c] -= 1
    assert any(v.startswith("capacity") for v in check_plan(small_table, broken).violations)


def test_dropped_share_is_a_coverage_violation(small_table: Table) -> None:
    broken = _copy(solve_milp(small_table))
    broken.routing[0] *= 0.5
    assert any(v.startswith("coverage") for v in check_plan(small_table, broken).violations)


def test_route_to_a_slow_configuration_is_a_delay_violation(small_table: Table) -> None:
    broken = _copy(solve_milp(small_table))
    slow = np.nonzero(~small_table.allowed[0])[0]
    assert len(slow), "the instance needs a configuration that misses class 0's bound"
    broken.routing[0] = 0.0
    broken.routing[0, slow[0]] = 1.0
    broken.replicas[slow[0]] += 1
    assert any(v.startswith("delay") for v in check_plan(small_table, broken).violations)


def test_too_many_gpus_is_named(small_table: Table) -> None:
    broken = _copy(solve_milp(small_table))
    c = int(np.argmax(broken.replicas))
    broken.replicas[c] += 100
    assert any(v.startswith("gpus") for v in check_plan(small_table, broken).violations)


def test_error_average_over_the_bound_is_named(small_table: Table) -> None:
    broken = _copy(solve_milp(small_table))
    i = 0
    worst = int(np.argmax(np.where(small_table.allowed[i], small_table.error[i], -1)))
    broken.routing[i] = 0.0
    broken.routing[i, worst] = 1.0
    broken.replicas[worst] += 20
    msgs = check_plan(small_table, broken).violations
    assert any(v.startswith("error") for v in msgs), msgs
