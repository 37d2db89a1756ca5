"""Fleet planner benchmark: GH, AGH and the MILP on instances of growing size, an out-of-sample
stress test and a rolling-horizon comparison. Prints what it measured; the LAST line is one JSON
object with `agh_gap_pct` and `agh_speedup` on the largest instance the MILP solved within its
time limit (proven optimal, or stopped at the limit with a plan and a bound; the gap is always
measured against the MILP's best bound). Goal: gap ≤ 2 % at ≥ 100×, reported as reached or not.

    .venv/bin/python benchmarks/planner.py [--time-limit 60] [--roofline] [--sizes 4x4x3,8x8x5,...]
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np
import structlog

from omnipilot.advisor.planner.adaptive import solve_agh
from omnipilot.advisor.planner.coefficients import Table, build_table
from omnipilot.advisor.planner.feasibility import check_plan
from omnipilot.advisor.planner.greedy import solve_gh
from omnipilot.advisor.planner.milp import solve_milp
from omnipilot.advisor.planner.plan import InfeasibleDemand, Plan, gap_pct, plan_cost
from omnipilot.advisor.planner.rates import RateProvider, RooflineRates, default_provider
from omnipilot.advisor.planner.rolling import rolling_policy, static_policy
from omnipilot.advisor.planner.stress import FACTORS, stress_test
from omnipilot.advisor.planner.traces import make_instance, volatile_rates

SIZES = "4x4x3,8x8x5,12x12x8,16x16x10,20x20x10,24x24x10"
STRESS_SIZE = "8x8x5"  # the margin sweep rebuilds its table per margin: kept small
MARGINS = (0.0, 0.1, 0.2, 0.3, 0.5)


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "n/a" if v is None else format(v, spec)


def run_size(t: Table, time_limit: float) -> dict[str, object]:
    plans: dict[str, Plan] = {"gh": solve_gh(t), "agh": solve_agh(t)}
    plans["milp"] = solve_milp(t, time_limit_s=time_limit)
    bound = plans["milp"].bound
    row: dict[str, object] = {"milp_status": plans["milp"].status}
    for name, p in plans.items():
        verdict = check_plan(t, p)
        cost = plan_cost(t, p)
        row[name] = {
            "cost": cost,
            "gap_pct": gap_pct(cost, bound),
            "runtime_s": p.runtime_s,
            "feasible": verdict.feasible,
            "violations": verdict.violations[:3],
        }
        print(
            f"  {name:5s} cost {cost:10.2f}  gap vs bound {_fmt(gap_pct(cost, bound)):>7} %"
            f"  runtime {p.runtime_s:8.3f} s  feasible(checker) {verdict.feasible}"
        )
    speed = plans["milp"].runtime_s / max(plans["agh"].runtime_s, 1e-9)
    row["agh_speedup"] = speed
    print(f"  MILP {plans['milp'].status}, bound {_fmt(bound)}; AGH/MILP speed ratio {speed:.1f}x")
    row["plans"] = plans
    return row


def stress_section(t: Table, provider: RateProvider, time_limit: float) -> None:
    """SLO violations vs planning margin for AGH and the MILP, φ = 1.0 … 1.5 (same draws)."""
    print(
        "\n== out-of-sample stress on "
        f"{STRESS_SIZE}: latency, 1/μ and error × U(1, φ) per pair, 20 draws; "
        "violating requests in % (of which accuracy), plan cost at φ=1 =="
    )
    print("  solver margin  plan cost  " + "  ".join(f"φ={f:.1f}".rjust(13) for f in FACTORS))
    for m in MARGINS:
        tm = t if m == 0.0 else build_table(t.instance.model_copy(update={"margin": m}), provider)
        for name, solve in (("agh", solve_agh), ("milp", lambda x: solve_milp(x, time_limit_s=time_limit))):
            try:
                plan = solve(tm)
            except InfeasibleDemand as exc:
                print(f"  {name:5s}  {m:5.2f}  infeasible: {str(exc)[:80]}")
                continue
            rows = stress_test(tm, plan)
            cells = "  ".join(f"{r.violation_pct:5.1f} ({r.accuracy_violation_pct:4.1f})" for r in rows)
            print(f"  {name:5s}  {m:5.2f}  {plan_cost(tm, plan):9.1f}  {cells}")


def rolling_section(t: Table) -> None:
    print("\n== rolling horizon (24 × 1 h windows, diurnal ±50 %, σ=0.05 random walk) ==")
    rates = volatile_rates(t.rate_s * 3600.0, n_windows=24, window_h=1.0, sigma=0.05, seed=7)
    for res in (
        static_policy(t, rates, 1.0, "mean"),
        static_policy(t, rates, 1.0, "peak"),
        rolling_policy(t, rates, 1.0),
    ):
        print(
            f"  {res.policy:12s} total {res.total:9.2f}  per-window std {res.std:7.2f}  peak {res.peak:8.2f}"
            f"  unmet {res.unmet_pct:5.2f} %  replicas added {res.reconfigurations}"
        )


def _solved(row: dict[str, object]) -> bool:
    """The MILP returned a plan with a bound: proven optimal or stopped at its time limit."""
    milp = row["milp"]
    return milp["gap_pct"] is not None and bool(milp["feasible"])  # type: ignore[index]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--sizes", default=SIZES, help="classes x models x gpu kinds, comma separated")
    ap.add_argument("--roofline", action="store_true", help="roofline rates instead of the cost model")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    provider: RateProvider = RooflineRates() if args.roofline else default_provider()
    print(f"rates: {provider.name}; MILP: HiGHS, 1 thread, limit {args.time_limit:g} s, rel. gap 1e-4")
    started = time.perf_counter()
    solved: list[tuple[str, Table, dict[str, object]]] = []
    tables: dict[str, Table] = {}
    all_feasible = True
    for size in args.sizes.split(","):
        n_i, n_j, n_g = (int(v) for v in size.split("x"))
        t0 = time.perf_counter()
        t = tables[size] = build_table(make_instance(n_i, n_j, n_g, seed=args.seed), provider)
        print(
            f"\n== {size}: {t.n_configs} configurations, {int(t.allowed.sum())} allowed pairs "
            f"(table {time.perf_counter() - t0:.1f} s, sources {t.sources}) =="
        )
        row = run_size(t, args.time_limit)
        all_feasible &= all(row[k]["feasible"] for k in ("gh", "agh", "milp"))  # type: ignore[index]
        if _solved(row):
            solved.append((size, t, row))
    if STRESS_SIZE in tables:
        stress_section(tables[STRESS_SIZE], provider, args.time_limit)
    if solved:
        rolling_section(solved[0][1])
    print(f"\nwhole run {time.perf_counter() - started:.0f} s")
    if not solved:
        print(
            json.dumps(
                {
                    "agh_gap_pct": None,
                    "agh_speedup": None,
                    "goal_met": False,
                    "note": "the MILP solved no instance",
                }
            )
        )
        return
    size, t, row = solved[-1]
    plans: dict[str, Plan] = row["plans"]  # type: ignore[assignment]
    agh = row["agh"]
    gap, speed = agh["gap_pct"], row["agh_speedup"]  # type: ignore[index]
    print(
        json.dumps(
            {
                "instance": size,
                "agh_gap_pct": round(float(gap), 3),
                "agh_speedup": round(float(speed), 1),  # type: ignore[arg-type]
                "milp_status": row["milp_status"],
                "milp_gap_pct": round(100 * plans["milp"].notes.get("mip_gap", 0.0), 3),
                "milp_runtime_s": round(plans["milp"].runtime_s, 3),
                "agh_runtime_s": round(plans["agh"].runtime_s, 4),
                "gh_gap_pct": round(float(row["gh"]["gap_pct"]), 3),  # type: ignore[index]
                "all_feasible": bool(all_feasible),
                "goal_met": bool(float(gap) <= 2.0 and float(speed) >= 100.0),  # type: ignore[arg-type]
                "rates": provider.name,
            }
        )
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
