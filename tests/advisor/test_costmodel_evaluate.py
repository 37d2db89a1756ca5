"""The evaluation report's JSON shape (DECISIONS.md §8) and its honesty checks, on synthetic data."""

from __future__ import annotations

import json

import pytest

from omnipilot.advisor.eval_tables import render
from omnipilot.advisor.evaluate import evaluate
from omnipilot.advisor.model_cli import json_safe
from omnipilot.advisor.training import TrainConfig

from .costmodel_synth import synthetic_frame


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    config = TrainConfig(
        targets=("tokens_per_s", "ttft_p50_s", "cold_start_s", "kv_cache_peak_frac"), n_splits=3
    )
    return evaluate(synthetic_frame(lengths=(128, 1024)), config=config, quick=True)


def test_report_has_the_decisions_shape(report: dict[str, object]) -> None:
    doc = json.loads(json.dumps(json_safe(report)))  # valid JSON: no NaN
    t = doc["targets"]["tokens_per_s"]
    for key in ("mape", "r2_log", "coverage_80", "width_ratio", "abstain_rate"):
        assert key in t
    assert set(t["coverage_80"]) == {"held_out_cell", "random_fold"}
    assert 0.0 <= t["coverage_80"]["held_out_cell"] <= 1.0
    assert doc["targets"]["ttft_p50_s"]["fitted"] is False
    assert t["source"] == "trees" and doc["targets"]["ttft_p50_s"]["source"] == "none"
    for name in ("cold_start_s", "kv_cache_peak_frac"):  # no labelled rows: physics (issue 15)
        entry = doc["targets"][name]
        assert (entry["n_labelled"], entry["source"], entry["confidence"]) == (0, "physics", "low")
    assert t["mape"] < 0.25  # the synthetic law is learnable from the other cells


def test_held_out_families_are_flagged_more_than_held_out_cells(report: dict[str, object]) -> None:
    flags = report["flagging"]
    assert isinstance(flags, dict)
    assert flags["held_out_family_flag_rate"] > flags["held_out_cell_flag_rate"]
    assert flags["held_out_gpu_flag_rate"] > flags["held_out_cell_flag_rate"]


def test_tables_render(report: dict[str, object]) -> None:
    text = render(report)
    for title in ("Table 1", "Table B1", "Table B4", "Table B7", "Fig. 3", "Goal tokens_per_s"):
        assert title in text
