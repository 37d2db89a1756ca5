"""`omnipilot plan --demand FILE [--solver milp|gh|agh] [--json]`: the fleet for a demand mix."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from omnipilot.advisor.planner.adaptive import solve_agh
from omnipilot.advisor.planner.coefficients import Table, build_table
from omnipilot.advisor.planner.feasibility import check_plan
from omnipilot.advisor.planner.greedy import solve_gh
from omnipilot.advisor.planner.instance import PlannerInputError, load_instance
from omnipilot.advisor.planner.milp import solve_milp
from omnipilot.advisor.planner.plan import InfeasibleDemand, Plan, gap_pct, plan_cost
from omnipilot.advisor.planner.rates import RateProvider, RooflineRates, default_provider
from omnipilot.advisor.planner.reservations import reservation_lines
from omnipilot.progress import progress


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plan", help="plan a fleet (GPU kinds × counts × configurations) for a demand mix"
    )
    p.add_argument(
        "--demand", type=Path, required=True, help="demand file (.toml or .json), see docs/planner.md"
    )
    p.add_argument("--solver", choices=("milp", "gh", "agh"), default="agh")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--time-limit", type=float, default=60.0, help="MILP time limit in seconds")
    p.add_argument("--quantile", choices=("q50", "q10"), help="override the file's quantile (q10 = robust)")
    p.add_argument(
        "--margin",
        type=float,
        help="robustness margin m (e.g. 0.2): plan as if latency, 1/μ and error were (1+m)x worse",
    )
    p.add_argument("--roofline", action="store_true", help="use roofline rates, not the cost model")
    p.add_argument("--reservations", action="store_true", help="print `scontrol create reservation` lines")
    p.add_argument("--users", default="root", help="Users= of the printed reservations")
    p.set_defaults(func=run)


def _solve(table: Table, solver: str, time_limit: float) -> Plan:
    if solver == "milp":
        return solve_milp(table, time_limit_s=time_limit)
    return solve_gh(table) if solver == "gh" else solve_agh(table)


def report(table: Table, plan: Plan, provider: str) -> dict[str, Any]:
    """The plan in JSON-ready form: fleet, routing, cost, predicted SLO attainment, the checker."""
    inst = table.instance
    verdict = check_plan(table, plan)
    fleet = [
        {
            "gpu": cfg.gpu,
            "model": cfg.model,
            "precision": cfg.precision,
            "tp": cfg.tp,
            "replicas": int(plan.replicas[c]),
            "gpus": int(plan.replicas[c]) * cfg.tp,
        }
        for c, cfg in enumerate(table.configs)
        if plan.replicas[c] > 0
    ]
    classes = []
    for i, cls in enumerate(inst.classes):
        routes = [
            {
                "config": table.configs[c].label,
                "share": round(float(plan.routing[i, c]), 4),
                "latency_s": round(float(table.delay[i, c]), 3),
                "error": round(float(table.error[i, c]), 5),
            }
            for c in np.nonzero(plan.routing[i] > 1e-6)[0]
        ]
        classes.append(
            {
                "class": cls.name,
                "routes": routes,
                "unmet": round(float(plan.unmet[i]), 4),
                "slo_attainment": round(1.0 - float(plan.unmet[i]), 4),
                "error_avg": round(float(plan.routing[i] @ table.error[i]), 5),
                "error_slo": cls.error_slo,
                "delay_slo_s": cls.delay_slo_s,
            }
        )
    cost = plan_cost(table, plan)
    return {
        "solver": plan.solver,
        "status": plan.status,
        "runtime_s": round(plan.runtime_s, 4),
        "cost": round(cost, 4),
        "bound": plan.bound,
        "gap_pct": gap_pct(cost, plan.bound),
        "horizon_h": inst.horizon_h,
        "margin": inst.margin,
        "rates": provider,
        "rate_sources": table.sources,
        "fleet": fleet,
        "gpus_by_kind": _by_kind(table, plan),
        "classes": classes,
        "feasible": verdict.feasible,
        "violations": verdict.violations,
    }


def _by_kind(table: Table, plan: Plan) -> dict[str, int]:
    out: dict[str, int] = {}
    for c, cfg in enumerate(table.configs):
        if plan.replicas[c] > 0:
            out[cfg.gpu] = out.get(cfg.gpu, 0) + int(plan.replicas[c]) * cfg.tp
    return out


def _print_text(rep: dict[str, Any]) -> None:
    print(f"plan ({rep['solver']}, {rep['status']}, {rep['runtime_s']:.3f} s, rates: {rep['rates']})")
    print(
        f"cost over {rep['horizon_h']:g} h: {rep['cost']:.2f}"
        + (f"  (gap {rep['gap_pct']:.2f} %)" if rep["gap_pct"] is not None else "")
    )
    print("fleet:")
    for f in rep["fleet"]:
        print(
            f"  {f['replicas']:>3} x {f['model']} {f['precision']} TP{f['tp']} on {f['gpu']}"
            f"  ({f['gpus']} GPUs)"
        )
    print("GPUs by kind: " + ", ".join(f"{k} {v}" for k, v in rep["gpus_by_kind"].items()))
    print("routing:")
    for c in rep["classes"]:
        print(
            f"  {c['class']}: SLO attainment {c['slo_attainment']:.1%},"
            f" error {c['error_avg']:.4f} (bound {c['error_slo']})"
        )
        for r in c["routes"]:
            print(
                f"    {r['share']:.1%} -> {r['config']}"
                f"  latency {r['latency_s']:.2f} s (bound {c['delay_slo_s']:g} s)"
            )
    print(
        "independent check: "
        + ("feasible" if rep["feasible"] else "VIOLATIONS: " + "; ".join(rep["violations"]))
    )


def run(args: argparse.Namespace) -> int:
    if not structlog.is_configured():  # logs to stderr: stdout carries the plan (and --json)
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    try:
        inst = load_instance(args.demand)
        if args.quantile:
            inst = inst.model_copy(update={"quantile": args.quantile})
        if args.margin is not None:
            if not 0.0 <= args.margin <= 1.0:
                raise PlannerInputError(f"--margin {args.margin}: use a value between 0 and 1 (e.g. 0.2)")
            inst = inst.model_copy(update={"margin": args.margin})
        provider: RateProvider = RooflineRates() if args.roofline else default_provider(inst.quantile)
        with progress("plan", args.json):
            table = build_table(inst, provider)
            plan = _solve(table, args.solver, args.time_limit)
    except (PlannerInputError, InfeasibleDemand) as exc:
        if args.json:
            print(json.dumps({"error": str(exc)}))
        else:
            print(f"omnipilot plan: {exc}", file=sys.stderr)
        return 1
    rep = report(table, plan, provider.name)
    if args.reservations:
        rep["reservations"] = reservation_lines(table, plan, args.users)
    if args.json:
        print(json.dumps(rep))
    else:
        _print_text(rep)
        for line in rep.get("reservations", []):
            print(line)
    return 0 if rep["feasible"] else 1
