"""The placement backtest on a small synthetic history: shape, ground truth, leakage, CIs, the
precision table, decide()'s fallback, and (one check on the seed history) ordered confidence bands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnipilot.advisor.backtest import backtest_predictions, bootstrap_ci, build_cells, run_backtest
from omnipilot.advisor.backtest_scoring import arm_outcomes, confidence_bands, score
from omnipilot.advisor.baselines import REQUEST, Cell, OmniPilot, cheapest_fit, h100_fp8_recipe, policies
from omnipilot.advisor.decision_cli import format_backtest
from omnipilot.advisor.prior import LaunchPrior
from omnipilot.advisor.training import TrainConfig, cell_keys, labelled, select_training_rows
from omnipilot.catalog import Catalog
from omnipilot.config import UtilitySettings
from tests.advisor.costmodel_synth import synthetic_frame

POLICIES = {
    "omnipilot",
    "omnipilot_bf16_only",
    "cheapest_fit",
    "size_threshold_tp",
    "h100_fp8_recipe",
    "throughput_max",
    "nearest_neighbor",
    "random_arm",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="module")
def report(catalog: Catalog) -> dict[str, Any]:
    rep: dict[str, Any] = run_backtest(synthetic_frame(), UtilitySettings(), catalog=catalog, n_boot=200)
    return rep


def test_report_has_every_policy_with_cis(report: dict[str, Any]) -> None:
    assert set(report["policies"]) == POLICIES
    assert report["cells"] == 36  # 4 models x 3 concurrencies x 3 lengths, each with several arms
    for name, m in report["policies"].items():
        assert 0.0 <= m["top1"] <= 1.0 and m["regret"] >= 0.0, name
        lo, hi = m["top1_ci"]
        assert lo <= m["top1"] + 1e-12 and m["top1"] <= hi + 1e-12, name
        rlo, rhi = m["regret_ci"]
        assert rlo <= m["regret"] + 1e-12 and m["regret"] <= rhi + 1e-12, name
    # llama3 on H100 has bf16 and fp8 (TP 1 and 2): one precision sub-cell per 3 concurrencies x 3 lengths
    assert report["decisions"]["precision"]["candidates"] == 9
    assert set(report["by_band"]) == {"3-9B"}
    text = format_backtest(report)
    assert "omnipilot" in text and "H200: 0 multi-arm cells" in text and "paired-ratio" in text


def test_every_interval_has_width_where_the_outcomes_vary(report: dict[str, Any]) -> None:
    for block in ("joint", "precision"):
        pols = report["decisions"][block]["policies"]
        lo, hi = pols["random_arm"]["top1_ci"]
        assert hi - lo > 0.01, (block, lo, hi)  # the random pick itself is resampled
        for name, m in pols.items():
            if name != "omnipilot":
                assert len(m["regret_diff_ci"]) == 2, name


def test_precision_table_tells_bf16_only_policies_from_omnipilot(report: dict[str, Any]) -> None:
    p = report["decisions"]["precision"]
    assert 0 < p["cells"] <= p["candidates"]
    assert p["best_precision"] == {"fp8": p["cells"]}  # fp8 reads half the bytes in this data
    # a policy that can only pick bf16 misses every such cell; omnipilot must not
    assert p["policies"]["omnipilot_bf16_only"]["top1"] == 0.0
    assert p["policies"]["omnipilot"]["top1"] > 0.5
    assert (
        p["separated_from_omnipilot"]["omnipilot_bf16_only"]
        >= p["policies"]["omnipilot"]["top1"] * p["cells"] - 1e-9
    )
    assert p["discriminating"] >= p["separated_from_omnipilot"]["omnipilot_bf16_only"]


def test_model_beats_random_and_ranks_better_than_model_free_rules(report: dict[str, Any]) -> None:
    p = report["policies"]
    assert p["omnipilot"]["top1"] > p["random_arm"]["top1"] + 0.3
    assert p["omnipilot"]["regret"] < p["random_arm"]["regret"]
    assert p["omnipilot"]["regret"] <= min(p[n]["regret"] for n in ("size_threshold_tp", "throughput_max"))


def test_ground_truth_is_realized_utility(catalog: Catalog) -> None:
    frame = synthetic_frame()
    # value ~0: the best realized arm is the one that costs least, which is known without a model;
    # cheapest-fit differs only where it skips a KV-saturated cheapest arm
    cheap = run_backtest(
        frame, UtilitySettings(value_per_token=1e-15), catalog=catalog, n_boot=20, held_outs=("cell",)
    )
    assert cheap["policies"]["omnipilot"]["top1"] == 1.0
    assert cheap["policies"]["omnipilot"]["regret"] == pytest.approx(0.0, abs=1e-9)
    assert cheap["policies"]["cheapest_fit"]["top1"] >= 0.9
    # value huge: throughput decides, and the cheapest arm is rarely the best any more
    rich = run_backtest(
        frame, UtilitySettings(value_per_token=1e-3), catalog=catalog, n_boot=20, held_outs=("cell",)
    )
    assert rich["policies"]["cheapest_fit"]["top1"] < 0.5
    assert rich["policies"]["cheapest_fit"]["regret"] > 0.1


def test_predictions_are_out_of_fold_by_cell(catalog: Catalog) -> None:
    rows = labelled(select_training_rows(synthetic_frame(), TrainConfig(), catalog), "tokens_per_s")
    q, conf, fold = backtest_predictions(rows, catalog, 5)
    cells = cell_keys(rows)
    for key in set(cells):
        folds = {int(f) for c, f in zip(cells, fold, strict=True) if c == key}
        assert len(folds) == 1, "a cell is split across folds"
    # leakage check: changing one cell's measurements must not change that cell's own predictions
    target = cells[0]
    mask = np.array([c == target for c in cells])
    bumped = rows.copy()
    bumped.loc[mask, "tokens_per_s"] *= 10.0
    q2, _, _ = backtest_predictions(bumped, catalog, 5)
    np.testing.assert_allclose(q2[mask], q[mask])
    assert not np.allclose(q2[~mask], q[~mask]), "the other folds did train on the changed rows"
    assert set(conf) <= {"high", "medium", "low"}


def test_bootstrap_ci_is_seeded_and_brackets_the_mean() -> None:
    values = np.array([0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    a, b = bootstrap_ci(values, 500, 7), bootstrap_ci(values, 500, 7)
    assert a == b
    assert a[0] < values.mean() < a[1]
    assert bootstrap_ci(np.ones(5), 100, 1) == [1.0, 1.0]


def _measured_cells(catalog: Catalog, confidence: str) -> list[Cell]:
    """Cells whose 'predictions' are the measurements, with one confidence everywhere: no model fitted."""
    rows = labelled(select_training_rows(synthetic_frame(), TrainConfig(), catalog), "tokens_per_s")
    t = rows["tokens_per_s"]
    rows = rows.assign(q10=t * 0.9, q50=t, q90=t * 1.1, confidence=confidence, fold=0)
    return [
        c for c in build_cells(rows, catalog, {}, UtilitySettings(), LaunchPrior([]), 1.0) if len(c.arms) > 1
    ]


def test_omnipilot_follows_decides_fallback(catalog: Catalog) -> None:
    low = _measured_cells(catalog, "low")
    kept = switched = 0
    # a request for the fastest kind, which the cheapest fit never reaches 80 % of here (the shipped
    # stand-in request is mostly the cheapest fit itself on this data); a laxer slowdown reaches the
    # other branch of the rule
    for slowdown in (0.8, 0.3):
        settings = UtilitySettings(fallback_max_slowdown=slowdown)
        omni = OmniPilot(settings, LaunchPrior([]), 1.0, h100_fp8_recipe)
        for cell in low:
            d, chosen, asked = omni.decision(cell)
            assert d.abstained and asked == h100_fp8_recipe(cell)
            cheap, req = cheapest_fit(cell), asked
            ratio = cell.arms[cheap].tokens_pred / cell.arms[req].tokens_pred
            better = cell.arms[cheap].predicted.utility > cell.arms[req].predicted.utility
            want = cheap if (cheap == req or (ratio >= slowdown and better)) else req
            assert chosen == want, (cell.key, ratio, better)
            kept += chosen == req and cheap != req
            switched += chosen == cheap and cheap != req
    assert kept and switched, (kept, switched)  # both branches of the rule are reached
    settings = UtilitySettings()
    omni = OmniPilot(settings, LaunchPrior([]), 1.0, h100_fp8_recipe)
    # the stand-in request of the backtest: the size rule's arm, kept or switched by the same rule
    shipped = OmniPilot(settings, LaunchPrior([]), 1.0, REQUEST)
    assert all(shipped(c) in (REQUEST(c), cheapest_fit(c)) for c in low)
    # high confidence: no fallback, the best predicted utility (= best realized here) is chosen
    high = _measured_cells(catalog, "high")
    pols = policies(high, settings, LaunchPrior([]), 1.0)
    res = score(high, pols, 50, 1)
    assert res["policies"]["omnipilot"]["fallback_rate"] == 0.0
    assert res["policies"]["omnipilot"]["top1"] == 1.0
    assert all(arm_outcomes(c)[0][pols["omnipilot"](c)] == 1.0 for c in high)


def test_score_is_seeded_and_paired(catalog: Catalog) -> None:
    cells = _measured_cells(catalog, "high")
    pols = policies(cells, UtilitySettings(), LaunchPrior([]), 1.0)
    a, b, c = score(cells, pols, 200, 3), score(cells, pols, 200, 3), score(cells, pols, 200, 4)
    assert a == b and a != c
    # omnipilot is right everywhere here, so it beats the size rule on every resample
    assert a["policies"]["size_threshold_tp"]["regret_diff_ci"][1] < 0


def test_confidence_bands_are_ordered_on_toy_rows() -> None:
    y = np.zeros(60)
    q = np.tile([-1.0, 0.0, 1.0], (60, 1))
    q[:, 1] = np.r_[np.full(20, 0.05), np.full(20, 0.2), np.full(20, 0.6)]
    conf = np.array(["high"] * 20 + ["medium"] * 20 + ["low"] * 20, dtype=object)
    ok = confidence_bands([("cell", y, q, conf)])
    assert ok["ordered"] and ok["low_worse_than_high"] and ok["populated"] == ["high", "medium", "low"]
    q[:, 1] = q[::-1, 1]  # the confident rows now err most
    bad = confidence_bands([("cell", y, q, conf)])
    assert not bad["ordered"] and not bad["low_worse_than_high"]


def test_confidence_bands_on_the_seed_history_are_populated_and_ordered(tmp_path: Path) -> None:
    """The one check on the bundled model's own training rows (its TrainConfig): held-out cells,
    families, GPU kinds and family x GPU pairs fill all three bands, and low errs more than high."""
    from omnipilot.collectors.seed import build_seed, default_data_dir
    from omnipilot.collectors.store import load_frame

    try:
        data = default_data_dir()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    build_seed(data, tmp_path / "history.jsonl")
    cat = Catalog.load()
    rows = labelled(
        select_training_rows(load_frame(tmp_path / "history.jsonl"), TrainConfig(), cat), "tokens_per_s"
    )
    y = np.log(rows["tokens_per_s"].to_numpy(dtype=float))
    regimes = []
    for held_out in ("cell", "family", "gpu", "family_gpu"):
        q, conf, _ = backtest_predictions(rows, cat, 5, held_out)
        regimes.append((held_out, y, np.log(q), conf))
    bands = confidence_bands(regimes)
    assert bands["populated"] == ["high", "medium", "low"], bands["bands"]
    assert bands["ordered"], bands["bands"]
    assert bands["low_worse_than_high"]
