"""The request path's fast parts give the answers of the plain ones: compiled trees vs LightGBM on
the bundled model, the vectorised envelope vs the per-row reference, unvalidated construction vs
validated. Timings live in benchmarks/costmodel.py, not here."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from omnipilot.advisor import compiled
from omnipilot.advisor.catalog import Catalog
from omnipilot.advisor.costmodel import BUNDLED_DIR, ArmPrediction, ArmQuery, CostModel
from omnipilot.advisor.envelope import CATEGORY_AXES, PAIR_AXES, Envelope, _cat, _pair_words
from omnipilot.advisor.features import LOAD_REGIMES

llvm_missing = False
try:
    import llvmlite  # noqa: F401
except ImportError:
    llvm_missing = True
needs_llvm = pytest.mark.skipif(llvm_missing, reason="llvmlite not installed")


def _random_arms(n: int, seed: int = 7) -> list[ArmQuery]:
    rng = np.random.default_rng(seed)
    cat = Catalog.load()
    models = [m.name for m in cat.models] + ["acme/Unknown-13B"]
    gpus = [g.name for g in cat.gpus] + ["Nvidia B999", "a100"]
    arms = []
    for i in range(n):
        if i % 3 == 0:  # inside or near the measured support: high and medium answers
            arms.append(
                ArmQuery(
                    model=str(
                        rng.choice(["meta-llama/Meta-Llama-3-8B", "meta-llama/Llama-3.1-8B", "Qwen/Qwen2-7B"])
                    ),
                    gpu=str(rng.choice(gpus[:-2])),
                    tp=int(rng.choice([1, 2, 4])),
                    precision=str(rng.choice(["bf16", "fp8"])),
                    concurrency=int(rng.choice([8, 16, 64])),
                    context=2048,
                    prompt_len=1024,
                    output_len=1024,
                )
            )
            continue
        prompt = int(rng.choice([16, 128, 1024, 4096, 30000]))
        output = int(rng.choice([1, 64, 512, 2048]))
        arms.append(
            ArmQuery(
                model=str(rng.choice(models)),
                gpu=str(rng.choice(gpus)),
                tp=int(rng.choice([1, 2, 4, 8, 16])),
                precision=("bf16", "fp8", "awq", "gptq")[i % 4],
                concurrency=int(rng.choice([1, 4, 32, 256, 4096])),
                context=prompt + output + int(rng.choice([0, 1000, 100000])),
                prompt_len=prompt,
                output_len=output,
                load_regime=str(rng.choice(LOAD_REGIMES)),
                kv_cache_dtype=str(rng.choice(["auto", "fp8"])),
            )
        )
    return arms


@needs_llvm
def test_compiled_bundled_model_answers_as_lightgbm() -> None:
    plain = CostModel.load(BUNDLED_DIR, compile_trees=False)
    fast = CostModel.load(BUNDLED_DIR, compile_trees=True)
    assert all(m.compiled is not None for m in fast.models.values())
    assert all(m.compiled is None for m in plain.models.values())
    arms = _random_arms(400)
    # the trees themselves, on every row (unknown models and GPU kinds give NaN features)
    x = plain.featurizer.transform(plain._columns(arms)[0])
    for target, model in fast.models.items():
        ref = plain.models[target].predict_raw(x)
        np.testing.assert_allclose(model.predict_raw(x), ref, rtol=1e-12, atol=0.0)
    want, got = plain.predict(arms), fast.predict(arms)
    assert {p.confidence for p in got} == {"high", "medium", "low"}
    for a, b in zip(want, got, strict=True):
        assert (a.confidence, a.reasons, a.target_confidence) == (
            b.confidence,
            b.reasons,
            b.target_confidence,
        )
        assert a.targets.keys() == b.targets.keys()
        for t, q in a.targets.items():
            for k in ("q10", "q50", "q90"):
                assert math.isclose(getattr(b.targets[t], k), getattr(q, k), rel_tol=1e-9, abs_tol=0.0)


def test_unvalidated_predictions_equal_validated_ones() -> None:
    model = CostModel.load(BUNDLED_DIR, compile_trees=False)
    preds = model.predict(_random_arms(40, seed=3))
    for p in preds:
        again = ArmPrediction.model_validate(p.model_dump())
        assert again == p and again.model_dump_json() == p.model_dump_json()
        assert p.model_fields_set == again.model_fields_set
    # answers are shared with the signature cache: a caller cannot reassign their fields
    first = model.predict([preds[0].query])[0]
    with pytest.raises(ValidationError, match="frozen"):
        first.confidence = "low"  # type: ignore[misc]
    assert model.predict([preds[0].query])[0] == first


def _reference_check(env: Envelope, cols: dict[str, list[Any]]) -> list[tuple[str, list[str]]]:
    """The per-row envelope check as it was before vectorising (numeric axes shared)."""
    n = len(cols["model"])
    low: list[list[str]] = [[] for _ in range(n)]
    medium: list[list[str]] = [[] for _ in range(n)]
    env._check_numeric(cols, low)
    for i in range(n):
        row = {key: _cat(cols[key][i]) for key, _ in CATEGORY_AXES}
        for key, words in CATEGORY_AXES:
            if row[key] not in set(env.categories.get(key, [])):
                low[i].append(
                    f"{words} {row[key]} not measured (measured: {', '.join(env.categories.get(key, []))})"
                )
        if low[i]:
            continue
        for a, b in PAIR_AXES:
            if (row[a], row[b]) not in {(x, y) for x, y in env.pairs.get(f"{a}|{b}", [])}:
                medium[i].append(_pair_words(a, b, row))
        if _cat(cols["model"][i]) not in set(env.models):
            medium[i].append(f"model {_cat(cols['model'][i])} not measured (its family is)")
    return [
        ("low", lo) if lo else ("medium", me) if me else ("high", [])
        for lo, me in zip(low, medium, strict=True)
    ]


def test_vectorised_envelope_matches_the_per_row_check() -> None:
    model = CostModel.load(BUNDLED_DIR, compile_trees=False)
    env = model.manifest.targets["tokens_per_s"].envelope
    cols, _ = model._columns(_random_arms(300, seed=11))
    assert env.check(cols) == _reference_check(env, cols)
    # frame-like columns of mixed types: TP as 1, 1.0, True and numpy ints; families with None/NaN
    mixed = {k: list(v) for k, v in cols.items()}
    mixed["tp"] = [[1, 1.0, True, np.int64(2), 2.0][i % 5] for i in range(len(mixed["tp"]))]
    mixed["family"] = [
        None if i % 7 == 0 else math.nan if i % 11 == 0 else f for i, f in enumerate(mixed["family"])
    ]
    assert env.check(mixed) == _reference_check(env, mixed)
    assert any("TP degree True not measured" in r for _, why in env.check(mixed) for r in why)


def _tiny_boosters(seed: int = 0, **params: Any) -> tuple[list[lgb.Booster], np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 4))
    x[rng.random(x.shape) < 0.15] = np.nan
    x[rng.random(x.shape) < 0.15] = 0.0
    y = np.nan_to_num(x[:, 0]) * 2 + np.nan_to_num(x[:, 1] > 0) + rng.normal(scale=0.1, size=400)
    base = {"objective": "regression", "num_leaves": 7, "min_data_in_leaf": 5, "verbosity": -1, "seed": seed}
    ds = lgb.Dataset(x, label=y, params={"verbosity": -1})
    boosters = [lgb.train({**base, **params, "seed": seed + k}, ds, num_boost_round=25) for k in range(3)]
    return boosters, x


@needs_llvm
@pytest.mark.parametrize("params", [{}, {"zero_as_missing": True}, {"use_missing": False}])
def test_compiled_trees_follow_lightgbm_missing_values(tmp_path: Path, params: dict[str, Any]) -> None:
    boosters, x = _tiny_boosters(**params)
    columns = [3, 0, 5, 1]  # the forest reads its features from these columns of a wider matrix
    wide = np.full((len(x) + 4, 6), 7.0)
    wide[: len(x), columns] = x
    wide[len(x) :, columns] = [[1e-40, -0.0, np.nan, -1e-36]] * 4  # tiny values read as 0 by LightGBM
    forest = compiled.compile_forest(boosters, columns, 6, f"tiny-{params}", tmp_path)
    assert forest is not None and not forest.from_cache
    ref = np.column_stack([b.predict(wide[:, columns]) for b in boosters])
    np.testing.assert_allclose(forest.predict(wide), ref, rtol=1e-12, atol=0.0)
    again = compiled.compile_forest(boosters, columns, 6, f"tiny-{params}", tmp_path)
    assert again is not None and again.from_cache
    np.testing.assert_array_equal(again.predict(wide), forest.predict(wide))


@needs_llvm
def test_a_damaged_cache_file_is_recompiled(tmp_path: Path) -> None:
    boosters, x = _tiny_boosters(seed=4)
    first = compiled.compile_forest(boosters, [0, 1, 2, 3], 4, "damaged", tmp_path)
    assert first is not None
    (obj,) = (tmp_path / "compiled-trees").iterdir()
    obj.write_bytes(obj.read_bytes()[:-10])
    second = compiled.compile_forest(boosters, [0, 1, 2, 3], 4, "damaged", tmp_path)
    assert second is not None and not second.from_cache
    np.testing.assert_array_equal(second.predict(x), first.predict(x))


def test_without_llvmlite_the_model_falls_back_to_lightgbm(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ImportError("No module named 'llvmlite'")

    monkeypatch.setattr(compiled, "_init_llvm", missing)
    with capture_logs() as logs:
        model = CostModel.load(BUNDLED_DIR, compile_trees=True)
    assert all(m.compiled is None for m in model.models.values())
    assert any(e["event"] == "compiled_trees_unavailable" and e["log_level"] == "warning" for e in logs)
    arms = _random_arms(20, seed=5)
    assert model.predict(arms) == CostModel.load(BUNDLED_DIR, compile_trees=False).predict(arms)


@needs_llvm
def test_categorical_trees_are_left_to_lightgbm(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.integers(0, 5, 300), rng.normal(size=300)]).astype(float)
    ds = lgb.Dataset(x, label=x[:, 0] * 3 + x[:, 1], categorical_feature=[0], params={"verbosity": -1})
    booster = lgb.train({"objective": "regression", "verbosity": -1, "min_data_per_group": 5}, ds, 10)
    with capture_logs() as logs:
        assert compiled.compile_forest([booster], [0, 1], 2, "categorical", tmp_path) is None
    assert any("categorical" in str(e.get("reason")) for e in logs)
