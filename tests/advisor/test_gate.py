"""The regression gate and the versioned model store on small synthetic histories (< 60 s).

Models here fit one target with 4 grouped folds so that each gate (2 sides x 4 folds x (1 + 4
inner) fits) stays a few seconds on two shared cores; the logic is the same as with 5 folds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnipilot.advisor import model_versions, retrain_cli
from omnipilot.advisor.costmodel import CostModel, save, train
from omnipilot.advisor.evaluate import nested_cv
from omnipilot.advisor.features import FeatureSpec, Featurizer
from omnipilot.advisor.gate import Side, Thresholds, gate_candidate, load_side, run_gate, side_cv
from omnipilot.advisor.model_versions import CURRENT, PromotionError, previous_of, promote, rollback
from omnipilot.advisor.training import TrainConfig, cell_keys, labelled, select_training_rows
from omnipilot.catalog import Catalog
from omnipilot.cli import main
from omnipilot.collectors.rows import HistoryRow, Provenance, Stack, Targets
from omnipilot.collectors.store import HistoryStore, rows_frame

from .costmodel_synth import synthetic_frame

CONFIG = TrainConfig(targets=("tokens_per_s",), n_splits=4)
TH = Thresholds(targets=("tokens_per_s",))


def _rows(frame: pd.DataFrame, source: str) -> list[HistoryRow]:
    """Synthetic frame rows as real history rows (so content hashes are the store's own)."""
    out = []
    for r in frame.itertuples(index=False):
        out.append(
            HistoryRow(
                kind="inference_run",
                model=r.model,
                checkpoint=r.checkpoint,
                family=r.family,
                params_b=r.params_b,
                gpu=r.gpu,
                gpu_memory_gb=r.gpu_memory_gb,
                tp=int(r.tp),
                precision=r.precision,
                engine="vllm",
                load_regime="fixed_batch",
                prompt_len=int(r.prompt_len),
                output_len=int(r.output_len),
                concurrency=int(r.concurrency),
                targets=Targets(tokens_per_s=float(r.tokens_per_s), requests_per_s=float(r.requests_per_s)),
                stack=Stack(engine="vllm", engine_version="0.5.4"),
                provenance=Provenance(source=source),
            ).with_hash()
        )
    return out


def _h200(base: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Rows of a GPU kind the base never saw: H100 rows scaled by the bandwidth ratio, own noise."""
    rng = np.random.default_rng(seed)
    h = base[base.gpu == "H100-80GB"].copy()
    h["gpu"], h["gpu_memory_gb"] = "H200-141GB", 141.0
    factor = 4800.0 / 3350.0 * np.exp(rng.normal(0, 0.04, len(h)))
    h["tokens_per_s"] *= factor
    h["requests_per_s"] *= factor
    return h


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    raw = synthetic_frame(0)
    return rows_frame(_rows(raw[raw.engine == "vllm"], "synthetic-seed"))


@pytest.fixture(scope="module")
def h200(base: pd.DataFrame) -> pd.DataFrame:
    return rows_frame(_rows(_h200(base), "synthetic-site"))


def _fit(frame: pd.DataFrame, path: Path, catalog: Catalog) -> Path:
    manifest, texts = train(frame, catalog=catalog, config=CONFIG, conformal=False)
    save(path, manifest, texts)
    return path


@pytest.fixture(scope="module")
def incumbent(tmp_path_factory: pytest.TempPathFactory, base: pd.DataFrame, catalog: Catalog) -> Side:
    path = _fit(base, tmp_path_factory.mktemp("incumbent"), catalog)
    return load_side(path, select_training_rows(base, CONFIG, catalog), catalog)


def test_side_cv_is_evaluate_nested_cv_when_trained_on_the_eval_rows(
    base: pd.DataFrame, catalog: Catalog
) -> None:
    small = labelled(base[base.prompt_len == 128].reset_index(drop=True), "tokens_per_s")
    feat = Featurizer(FeatureSpec.from_catalog(catalog, "offset"), catalog)
    ref = nested_cv(feat, small, "tokens_per_s", CONFIG.model_copy(update={"n_splits": 3}))
    from omnipilot.advisor.conformal import group_kfold

    cells = cell_keys(small)
    got = side_cv(feat, small, cells, group_kfold(cells, 3), small, "tokens_per_s", 3)
    assert np.isfinite(got.raw).all()
    np.testing.assert_array_equal(got.raw, ref.raw)
    np.testing.assert_array_equal(got.off_cell, ref.off_cell)
    assert list(got.confidence) == list(ref.confidence)


def test_new_gpu_kind_passes_and_widens_the_envelope(
    tmp_path: Path, base: pd.DataFrame, h200: pd.DataFrame, incumbent: Side, catalog: Catalog
) -> None:
    combined = pd.concat([base, h200], ignore_index=True)
    rows = select_training_rows(combined, CONFIG, catalog)
    cand = _fit(combined, tmp_path / "cand", catalog)
    report = gate_candidate(cand, rows, incumbent, rows, TH, catalog)
    assert report.verdict == "promote", report.reasons
    assert report.envelope is not None and report.envelope.gained == {"gpu": ["H200-141GB"]}
    assert not report.envelope.lost
    res = report.targets["tokens_per_s"]
    assert res.incumbent is not None and res.candidate is not None
    # the incumbent abstains on the new kind's held-out rows; the candidate answers them
    assert res.gained_rows == len(h200)
    assert res.candidate.abstain_rate == 0.0 < (res.incumbent.abstain_rate or 0.0)
    assert res.candidate_mape_gained is not None and res.candidate_mape_gained < 0.25
    assert res.mape_delta_pp is not None and res.mape_delta_pp <= TH.max_mape_regression_pp
    # the new kind's rows lie outside the current model's envelope: nothing to cross-check them on
    assert res.new_rows is not None and res.new_rows.rows == len(h200) and res.new_rows.in_envelope == 0


def test_corrupted_targets_are_rejected_naming_the_target(
    tmp_path: Path, base: pd.DataFrame, h200: pd.DataFrame, incumbent: Side, catalog: Catalog
) -> None:
    clean = select_training_rows(pd.concat([base, h200], ignore_index=True), CONFIG, catalog)
    bad = clean.copy()
    bad["tokens_per_s"] *= np.exp(np.random.default_rng(5).normal(0, 0.5, len(bad)))
    cand = _fit(bad, tmp_path / "bad", catalog)
    report = gate_candidate(cand, bad, incumbent, clean, TH, catalog)
    assert report.verdict == "reject"
    assert any(r.startswith("tokens_per_s: held-out-cell MAPE regressed") for r in report.reasons)
    res = report.targets["tokens_per_s"]
    assert not res.passed and res.mape_delta_pp is not None and res.mape_delta_pp > 5.0


def test_site_rows_from_a_broken_collector_are_rejected_on_the_current_models_rows(
    tmp_path: Path, base: pd.DataFrame, incumbent: Side, catalog: Catalog
) -> None:
    # new cells (concurrency 16) whose tokens/s are 4x too high: predicting them well must not
    # buy a promotion that makes the measured seed cells worse
    site = base[base.concurrency == 8].copy()
    site["concurrency"] = 16
    site["tokens_per_s"] *= 8.0
    site["requests_per_s"] *= 8.0
    combined = pd.concat([base, rows_frame(_rows(site, "broken"))], ignore_index=True)
    rows = select_training_rows(combined, CONFIG, catalog)
    report = gate_candidate(_fit(combined, tmp_path / "c", catalog), rows, incumbent, rows, TH, catalog)
    assert report.verdict == "reject"
    assert any("own rows regressed" in r for r in report.reasons), report.reasons
    # scored directly by the current model (it never saw them), the new rows are about 4x off
    check = report.targets["tokens_per_s"].new_rows
    assert check is not None and check.in_envelope > 0 and check.median_ratio is not None
    # nearly every broken row lies outside the 80 % interval (one cell of 54 has an interval wide
    # enough to hold a 4x error under the physics-first model: its batch is thin)
    assert 3.0 < check.median_ratio < 6.0 and check.outside_interval >= 0.95
    assert any("new rows disagree with the current model" in r for r in report.reasons)


def test_fewer_rows_and_a_lost_target_are_rejected_without_evaluation(
    incumbent: Side, catalog: Catalog
) -> None:
    fewer = incumbent.manifest.model_copy(update={"n_rows": incumbent.manifest.n_rows - 1, "model_hash": "x"})
    no_target = fewer.model_copy(update={"targets": {}, "unfitted": {"tokens_per_s": "not predicted"}})
    report = run_gate(Side(no_target, incumbent.rows, "c"), incumbent, incumbent.rows, TH, catalog)
    assert report.verdict == "reject"
    assert any("fewer than the current model's" in r for r in report.reasons)
    assert any(r.startswith("tokens_per_s: the current model predicts it") for r in report.reasons)


def test_promotion_is_atomic_and_rollback_restores_the_previous_version(
    tmp_path: Path, base: pd.DataFrame, h200: pd.DataFrame, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    v1 = promote(models, _fit(base, model_versions.new_staging(models), catalog), "v1", catalog)
    combined = pd.concat([base, h200], ignore_index=True)
    v2 = promote(models, _fit(combined, model_versions.new_staging(models), catalog), "v2", catalog)
    assert os.readlink(models / CURRENT) == "v2" and previous_of(models) == v1
    assert CostModel.load(models / CURRENT).manifest.n_rows == len(combined)
    assert not [p.name for p in models.iterdir() if p.name.startswith((".staging-", ".current"))]

    # a crash at the link swap leaves the old version serving, whole
    staged = _fit(base.iloc[:-3], model_versions.new_staging(models), catalog)
    real_replace = os.replace

    def failing_replace(src: object, dst: object) -> None:
        if str(dst).endswith(CURRENT):
            raise OSError("simulated crash")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(model_versions.os, "replace", failing_replace)
    with pytest.raises(OSError):
        promote(models, staged, "v3", catalog)
    monkeypatch.undo()
    assert os.readlink(models / CURRENT) == "v2"
    assert CostModel.load(models / CURRENT).version == CostModel.load(v2).version

    assert previous_of(models) == v1
    assert rollback(models, catalog) == ("v2", "v1")
    assert CostModel.load(models / CURRENT).manifest.n_rows == CostModel.load(v1).manifest.n_rows == len(base)
    with pytest.raises(PromotionError, match="nothing to roll back to"):
        rollback(models, catalog)  # v1 replaced nothing
    assert os.readlink(models / CURRENT) == "v1"


def test_a_candidate_that_fails_to_load_is_never_promoted(
    tmp_path: Path, base: pd.DataFrame, incumbent: Side, catalog: Catalog
) -> None:
    models = tmp_path / "models"
    promote(models, _fit(base, model_versions.new_staging(models), catalog), "v1", catalog)
    staged = _fit(base, model_versions.new_staging(models), catalog)
    model_file = next(staged.glob("tokens_per_s.q50.txt"))
    model_file.write_text(model_file.read_text().replace("Tree=0", "Tree=X", 1))
    report = gate_candidate(staged, incumbent.rows, incumbent, incumbent.rows, TH, catalog)
    assert report.verdict == "reject" and "does not load" in report.reasons[0]
    with pytest.raises(PromotionError, match="does not load"):
        promote(models, staged, "v2", catalog)
    assert os.readlink(models / CURRENT) == "v1" and not (models / "v2").exists()


def test_retrain_command_promotes_keeps_and_rejects(
    tmp_path: Path,
    base: pd.DataFrame,
    h200: pd.DataFrame,
    incumbent: Side,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed, site = tmp_path / "seed.jsonl", tmp_path / "site.jsonl"
    HistoryStore(seed).append(_rows(base, "synthetic-seed"))
    HistoryStore(site).append(_rows(h200, "synthetic-site"))
    cfg = tmp_path / "omnipilot.toml"
    cfg.write_text(f'[daemon]\nstate_dir = "{tmp_path}"\n[gate]\ntargets = ["tokens_per_s"]\n')
    monkeypatch.setattr(retrain_cli, "BUNDLED_DIR", Path(incumbent.path))  # the "bundled" model
    common = ["retrain", "--config", str(cfg), "--seed-history", str(seed)]

    assert main([*common, "--site-history", str(tmp_path / "missing.jsonl")]) == 1
    assert "missing.jsonl not found" in capsys.readouterr().err
    assert main([*common, "--site-history", str(site), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "promote" and doc["promoted"]
    assert doc["history"]["site_rows"] == len(h200) and doc["envelope"]["gained"] == {"gpu": ["H200-141GB"]}
    assert "seed history (data hash matches" in doc["incumbent"]["rows_from"]
    models = tmp_path / "models"
    first = os.readlink(models / CURRENT)

    assert main([*common, "--site-history", str(site)]) == 0  # same data: unchanged
    assert "UNCHANGED" in capsys.readouterr().out
    assert main(common) == 3  # the site history left out: fewer rows than the current model
    assert "fewer than the current model's" in capsys.readouterr().out
    assert os.readlink(models / CURRENT) == first
    assert main([*common, "--rollback"]) == 1  # the first promotion replaced no version
    ledger = [json.loads(line) for line in (models / "ledger.jsonl").read_text().splitlines()]
    assert [e["action"] for e in ledger] == ["promoted", "unchanged", "rejected"]
