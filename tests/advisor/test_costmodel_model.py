"""Training, the artifact and the facade on a small synthetic history (fast; no shared data needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnipilot.advisor.artifact import MANIFEST
from omnipilot.advisor.costmodel import ArmQuery, CostModel, ModelLoadError, save, train

from .costmodel_synth import synthetic_frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> Path:
    # hold out one workload cell (length 512, concurrency 8) to test prediction on unseen cells
    held = (frame.prompt_len == 512) & (frame.concurrency == 8)
    manifest, texts = train(frame[~held].reset_index(drop=True), data_sources=["synthetic"])
    path = tmp_path_factory.mktemp("model")
    save(path, manifest, texts)
    return path


@pytest.fixture()
def model(model_dir: Path) -> CostModel:
    return CostModel.load(model_dir)


def _q(**over: object) -> ArmQuery:
    base: dict[str, object] = {
        "model": "meta-llama/Llama-2-7b-hf",
        "gpu": "H100",
        "tp": 1,
        "precision": "bf16",
        "concurrency": 8,
        "context": 1024,
        "prompt_len": 512,
        "output_len": 512,
    }
    base.update(over)
    return ArmQuery.model_validate(base)


def test_manifest_records_provenance_and_excludes_other_engines(
    model: CostModel, frame: pd.DataFrame
) -> None:
    m = model.manifest
    assert m.n_rows == int(
        ((frame.engine == "vllm") & ~((frame.prompt_len == 512) & (frame.concurrency == 8))).sum()
    )
    assert m.version.endswith(m.data_hash[:8])
    assert set(m.targets) == {"tokens_per_s", "requests_per_s"}
    assert "ttft_p50_s" in m.unfitted and "no data" in m.unfitted["ttft_p50_s"]
    assert m.targets["tokens_per_s"].offset != 0.0
    assert "lightgbm" in m.libraries


def test_predicts_unseen_cell_within_tolerance(model: CostModel, frame: pd.DataFrame) -> None:
    held = frame[(frame.prompt_len == 512) & (frame.concurrency == 8) & (frame.engine == "vllm")]
    queries = [_q(model=r.model, gpu=r.gpu, tp=int(r.tp), precision=r.precision) for r in held.itertuples()]
    preds = model.predict(queries, ["tokens_per_s"])
    q50 = np.array([p.targets["tokens_per_s"].q50 for p in preds])
    ape = np.abs(q50 - held.tokens_per_s.to_numpy()) / held.tokens_per_s.to_numpy()
    assert float(np.median(ape)) < 0.15
    for p in preds:
        t = p.targets["tokens_per_s"]
        assert t.q10 <= t.q50 <= t.q90
        assert p.confidence in ("high", "medium")


def test_unfitted_target_is_absent_with_reason(model: CostModel) -> None:
    (p,) = model.predict([_q()], ["tokens_per_s", "ttft_p50_s"])
    assert "ttft_p50_s" not in p.targets
    assert any("ttft_p50_s" in r and "no data" in r for r in p.reasons)


def test_unknown_axes_abstain_without_stopping_the_batch(model: CostModel) -> None:
    queries = [_q(), _q(gpu="B300"), _q(model="acme/NoSuchModel-9B"), _q(precision="awq"), _q(context=32768)]
    preds = model.predict(queries)
    assert len(preds) == 5
    assert preds[0].confidence == "high" and preds[0].targets
    assert all(p.confidence == "low" for p in preds[1:])
    assert any("'B300' is not in the catalog" in r for r in preds[1].reasons)
    assert any("NoSuchModel" in r for r in preds[2].reasons)
    assert any("precision awq not measured" in r for r in preds[3].reasons)
    assert any("context 32768 above the measured" in r for r in preds[4].reasons)


def test_batched_prediction_equals_single(model: CostModel) -> None:
    queries = [_q(concurrency=c, gpu=g) for c in (1, 8, 32) for g in ("A100", "H100")]
    batch = model.predict(queries)
    for q, p in zip(queries, batch, strict=True):
        assert model.predict([q])[0].targets == p.targets


def test_training_is_deterministic(frame: pd.DataFrame) -> None:
    a, _ = train(frame, conformal=False)
    b, _ = train(frame.sample(frac=1.0, random_state=3).reset_index(drop=True), conformal=False)
    assert a.data_hash == b.data_hash  # row order does not change the data hash
    c, _ = train(frame, conformal=False)
    assert a.model_hash == c.model_hash


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "m"
    shutil.copytree(model_dir, dst)
    return dst


def test_corrupt_manifest_fails_clearly(model_dir: Path, tmp_path: Path) -> None:
    d = _copy(model_dir, tmp_path)
    (d / MANIFEST).write_text("{not json")
    with pytest.raises(ModelLoadError, match="not readable JSON"):
        CostModel.load(d)


def test_incompatible_format_version_fails_clearly(model_dir: Path, tmp_path: Path) -> None:
    d = _copy(model_dir, tmp_path)
    raw = json.loads((d / MANIFEST).read_text())
    raw["format_version"] = 99
    (d / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="format_version 99"):
        CostModel.load(d)


def test_tampered_or_missing_model_file_fails_clearly(model_dir: Path, tmp_path: Path) -> None:
    d = _copy(model_dir, tmp_path)
    f = d / "tokens_per_s.q50.txt"
    f.write_text(f.read_text().replace("leaf_value=", "leaf_value=1", 1))
    with pytest.raises(ModelLoadError, match=r"tokens_per_s\.q50\.txt does not match the hash"):
        CostModel.load(d)
    f.unlink()
    with pytest.raises(ModelLoadError, match="not readable"):
        CostModel.load(d)
    with pytest.raises(ModelLoadError, match="no model folder"):
        CostModel.load(tmp_path / "absent")


def test_garbage_model_text_with_matching_hash_fails_clearly(model_dir: Path, tmp_path: Path) -> None:
    d = _copy(model_dir, tmp_path)
    raw = json.loads((d / MANIFEST).read_text())
    (d / "tokens_per_s.q10.txt").write_text("garbage\n")
    import hashlib

    raw["targets"]["tokens_per_s"]["file_sha256"][0] = hashlib.sha256(b"garbage\n").hexdigest()
    (d / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match=r"q10\.txt"):
        CostModel.load(d)
