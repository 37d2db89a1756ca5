"""Traces, stress, rolling horizon, reservations and the CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from omnipilot.advisor.planner.adaptive import solve_agh
from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.instance import PlannerInputError
from omnipilot.advisor.planner.milp import solve_milp
from omnipilot.advisor.planner.reservations import reservation_lines, slurm_duration
from omnipilot.advisor.planner.rolling import rolling_policy, static_policy
from omnipilot.advisor.planner.stress import stress_test
from omnipilot.advisor.planner.traces import (
    class_from_trace,
    load_azure_trace,
    synthetic_trace,
    volatile_rates,
    window_rates,
    write_azure_trace,
)
from omnipilot.cli import main

HERE = Path(__file__).parent


def test_azure_trace_round_trip_and_stats(tmp_path: Path) -> None:
    tr = synthetic_trace(hours=2, mean_rate_per_h=3000, seed=1, amplitude=0.0)
    path = tmp_path / "AzureLLMInferenceTrace_conv.csv"
    write_azure_trace(tr, path)
    back = load_azure_trace(path)
    assert len(back.t_s) == len(tr.t_s)
    assert np.array_equal(back.prompt, tr.prompt)
    cls = class_from_trace(back, "conv", delay_slo_s=10)
    assert cls.rate_per_h == pytest.approx(3000, rel=0.1)
    assert cls.prompt_p90 is not None and cls.prompt_p90 > np.median(back.prompt)  # heavy tail
    rates = window_rates(back, 600)
    assert rates.mean() == pytest.approx(3000, rel=0.15)


def test_trace_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("TIMESTAMP,ContextTokens\n2024-05-10 00:00:00,12\n")
    with pytest.raises(PlannerInputError, match="GeneratedTokens"):
        load_azure_trace(path)


def test_stress_violations_grow_with_inflation(synth_table: Table) -> None:
    rows = stress_test(synth_table, solve_milp(synth_table), samples=5)
    assert rows[0].factor == 1.0 and rows[0].violation_pct == pytest.approx(0.0, abs=1e-9)
    viol = [r.violation_pct for r in rows]
    assert viol[-1] > viol[0]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(viol))


def test_rolling_beats_a_static_mean_plan_under_diurnal_demand(small_table: Table) -> None:
    rates = volatile_rates(small_table.rate_s * 3600, n_windows=6, window_h=4.0, sigma=0.05, seed=0)
    static = static_policy(small_table, rates, 4.0, "mean")
    rolling = rolling_policy(small_table, rates, 4.0)
    assert len(rolling.window_costs) == 6
    assert rolling.unmet_pct <= static.unmet_pct + 1e-9
    assert rolling.total < static.total


def test_reservation_lines(small_table: Table) -> None:
    plan = solve_agh(small_table)
    lines = reservation_lines(small_table, plan, users="svc")
    cmds = [ln for ln in lines if ln.startswith("scontrol create reservation")]
    kinds = {small_table.configs[c].gpu for c in np.nonzero(plan.replicas)[0]}
    assert len(cmds) == len(kinds)
    assert all("Duration=1-00:00:00" in c and "Users=svc" in c and "NodeCnt=" in c for c in cmds)
    assert slurm_duration(1.5) == "0-01:30:00"


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["plan", "--demand", str(HERE / "demand_small.toml"), "--roofline", "--solver", "gh", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["feasible"] and out["solver"] == "gh"
    assert sum(f["gpus"] for f in out["fleet"]) == sum(out["gpus_by_kind"].values())
    assert {c["class"] for c in out["classes"]} == {"chat", "code"}


def test_cli_bad_demand_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "d.toml"
    bad.write_text('[[classes]]\nname = "x"\n')
    assert main(["plan", "--demand", str(bad), "--roofline"]) == 1
    assert "classes.0.rate_per_h" in capsys.readouterr().err
