"""The request path's fast parts give the answers of the plain ones: flat tree arrays vs LightGBM's
predict (bundled model and synthetic forests with NaN and zero inputs), the array scoring path vs
`predict`, the vectorised envelope vs the per-row reference, unvalidated construction vs validated.
Timings live in benchmarks/, not here."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from pydantic import ValidationError

from omnipilot.advisor import costmodel
from omnipilot.advisor.arms import Arm, Workload
from omnipilot.advisor.artifact import load_manifest_and_models
from omnipilot.advisor.costmodel import (
    BUNDLED_DIR,
    ArmPrediction,
    ArmQuery,
    CostModel,
    WorkloadAxes,
    query_columns,
)
from omnipilot.advisor.envelope import CATEGORY_AXES, PAIR_AXES, Envelope, _cat, _pair_words
from omnipilot.advisor.features import LOAD_REGIMES, FeatureSpec, Featurizer
from omnipilot.advisor.quantile import QuantileModel
from omnipilot.advisor.tree_arrays import TreeArrays, TreesUnsupported
from omnipilot.advisor.workload import arm_query, cost_model_scorer, query_axes
from omnipilot.catalog import Catalog


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


def _plain(path: Path = BUNDLED_DIR) -> CostModel:
    """The same model predicting through LightGBM's own predict."""
    model = CostModel.load(path)
    for m in model.models.values():
        m.trees = None
    return model


def test_tree_arrays_give_lightgbms_raw_scores_on_the_bundled_model() -> None:
    _, models = load_manifest_and_models(BUNDLED_DIR)
    plain = _plain()
    # every row kind: unknown models and GPU kinds give NaN features
    x = plain.featurizer.transform(plain._columns(query_columns(_random_arms(400)))[0])
    assert np.isnan(x).any()
    for target, qm in models.items():
        assert qm.trees is None  # a QuantileModel keeps LightGBM until asked
        assert qm.use_tree_arrays() is None and qm.trees is not None
        ref = np.column_stack([b.predict(x[:, qm.columns], num_threads=1) for b in qm.boosters])
        got = qm.trees.predict(x)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0.0, err_msg=target)
        for i in (0, 7, 399):  # a row scores the same alone as in a batch (trees added in one order)
            np.testing.assert_array_equal(qm.trees.predict(x[i : i + 1]), got[i : i + 1])


def test_cost_model_answers_as_with_lightgbm() -> None:
    fast, plain = CostModel.load(BUNDLED_DIR), _plain()
    assert all(m.trees is not None for m in fast.models.values())
    arms = _random_arms(400)
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


def test_array_scoring_path_equals_predict() -> None:
    model = CostModel.load(BUNDLED_DIR)
    cat = Catalog.load()
    combos = [
        (g.name, tp, p) for g in cat.gpus for tp in (1, 2, 4, 8) for p in ("bf16", "fp8", "awq", "gptq")
    ]
    combos += [("Nvidia B999", 1, "bf16")]  # a kind the catalog does not describe: no numbers
    for name in ("meta-llama/Meta-Llama-3-8B", "Qwen/Qwen2.5-7B-Instruct", "acme/Unknown-13B"):
        for work in (Workload(concurrency=8, context=2048, prompt_len=1024, output_len=1024),
                     Workload(concurrency=300, context=32768, prompt_len=24576, output_len=8192)):  # fmt: skip
            axes = query_axes(work)
            for targets in (["tokens_per_s", "ttft_p50_s"], None):
                scores = model.score_arms(name, combos, axes, targets)
                preds = model.predict([arm_query(name, g, tp, p, work) for g, tp, p in combos], targets)
                for i, p in enumerate(preds):
                    assert scores.verdicts[i] == (p.confidence, p.reasons, p.target_confidence)
                    for t, v in scores.values.items():
                        q = p.targets.get(t)
                        assert (q is None) == (not np.isfinite(v[i]).all())
                        assert q is None or (q.q10, q.q50, q.q90) == tuple(v[i])
    assert model.score_arms("x", [], WorkloadAxes(1, 2, 1, 1)) == ({}, [])


def test_the_daemons_uncached_scorer_answers_as_the_cached_one() -> None:
    model = CostModel.load(BUNDLED_DIR)
    spec = Catalog.load().model("meta-llama/Meta-Llama-3-8B")
    assert spec is not None
    arms = [Arm(gpu=g, tp=tp, precision=p, checkpoint=spec.name)
            for g in ("A100-40GB", "H100-80GB", "Nvidia B999") for tp in (1, 2) for p in ("bf16", "fp8")]  # fmt: skip
    work = Workload(concurrency=16, context=2048, prompt_len=1024, output_len=1024)
    cached = cost_model_scorer(model, ["tokens_per_s", "ttft_p50_s"])
    uncached = cost_model_scorer(model, ["tokens_per_s", "ttft_p50_s"], cache_size=0)
    a, b = cached(spec, work, arms), uncached(spec, work, arms)
    assert a == b and a[0].targets and not a[-1].targets
    for p in b:  # built without validation, equal to validated objects
        again = type(p).model_validate(p.model_dump())
        assert again == p and again.model_dump_json() == p.model_dump_json()
    assert cached(spec, work, arms)[0] is a[0] and uncached(spec, work, arms)[0] is not b[0]


def test_unvalidated_predictions_equal_validated_ones() -> None:
    model = CostModel.load(BUNDLED_DIR)
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
    model = CostModel.load(BUNDLED_DIR)
    env = model.manifest.targets["tokens_per_s"].envelope
    cols, _ = model._columns(query_columns(_random_arms(300, seed=11)))
    assert env.check(cols) == _reference_check(env, cols)
    # frame-like columns of mixed types: TP as 1, 1.0, True and numpy ints; families with None/NaN
    mixed = {k: list(v) for k, v in cols.items()}
    mixed["tp"] = [[1, 1.0, True, np.int64(2), 2.0][i % 5] for i in range(len(mixed["tp"]))]
    mixed["family"] = [
        None if i % 7 == 0 else math.nan if i % 11 == 0 else f for i, f in enumerate(mixed["family"])
    ]
    assert env.check(mixed) == _reference_check(env, mixed)
    assert any("TP degree True not measured" in r for _, why in env.check(mixed) for r in why)


def _forest(seed: int = 0, n_boosters: int = 3, **params: Any) -> tuple[list[lgb.Booster], np.ndarray]:
    """Small boosters on inputs with NaN and exact zeros, split on by both."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 4))
    x[rng.random(x.shape) < 0.15] = np.nan
    x[rng.random(x.shape) < 0.15] = 0.0
    y = (
        np.nan_to_num(x[:, 0]) * 2
        + np.nan_to_num(x[:, 1] > 0)
        + np.isnan(x[:, 2])
        + rng.normal(scale=0.1, size=400)
    )
    base = {"objective": "regression", "num_leaves": 7, "min_data_in_leaf": 5, "verbosity": -1}
    ds = lgb.Dataset(x, label=y, params={"verbosity": -1})
    boosters = [
        lgb.train({**base, **params, "seed": seed + k}, ds, num_boost_round=20 + 5 * k)
        for k in range(n_boosters)
    ]
    return boosters, x


@pytest.mark.parametrize("params", [{}, {"zero_as_missing": True}, {"use_missing": False}])
def test_tree_arrays_follow_lightgbm_on_missing_and_zero_inputs(params: dict[str, Any]) -> None:
    boosters, x = _forest(**params)
    kinds = {s for b in boosters for s in b.model_to_string().split("\n") if s.startswith("decision_type=")}
    assert kinds  # the forest has splits (their missing types vary with the parameters)
    columns = [3, 0, 5, 1]  # the forest reads its features from these columns of a wider matrix
    wide = np.full((len(x) + 5, 6), 7.0)
    wide[: len(x), columns] = x
    # values LightGBM reads as 0.0, signed zero, NaN, infinities
    wide[len(x) :, columns] = [[1e-40, -0.0, np.nan, -1e-36], [np.inf, -np.inf, 0.0, np.nan],
                               [-1e-36, np.nan, 1e-40, -0.0], [0.0, 0.0, 0.0, 0.0], [np.nan] * 4]  # fmt: skip
    trees = TreeArrays([b.model_to_string() for b in boosters], columns)
    ref = np.column_stack([b.predict(wide[:, columns], num_threads=1) for b in boosters])
    before = wide.copy()
    np.testing.assert_allclose(trees.predict(wide), ref, rtol=1e-12, atol=0.0)
    np.testing.assert_array_equal(wide, before)  # the caller's matrix is left alone
    # batches larger than one pass give the same rows
    many = np.vstack([wide] * 3)
    np.testing.assert_allclose(trees.predict(many), np.vstack([ref] * 3), rtol=1e-12, atol=0.0)


def test_missing_types_are_all_exercised() -> None:
    """The parametrised forests above do cover LightGBM's three missing types (else that test proves less)."""
    seen = set()
    for params in ({}, {"zero_as_missing": True}, {"use_missing": False}):
        boosters, _ = _forest(**params)
        for b in boosters:
            for line in b.model_to_string().split("\n"):
                if line.startswith("decision_type="):
                    seen |= {(int(d) >> 2) & 3 for d in line.split("=")[1].split()}
    assert seen == {0, 1, 2}


def test_single_leaf_trees_and_uneven_boosters() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 2))
    flat = lgb.train({"objective": "regression", "verbosity": -1}, lgb.Dataset(x, label=np.ones(60)), 3)
    deep, _ = _forest(seed=5, n_boosters=1)
    xs = np.column_stack([x, x])
    trees = TreeArrays([flat.model_to_string(), deep[0].model_to_string()], [0, 1, 2, 3])
    want = np.column_stack([flat.predict(x), deep[0].predict(xs)])
    np.testing.assert_allclose(trees.predict(xs), want, rtol=1e-12, atol=0.0)
    assert trees.n_out == 2 and trees.n_trees == flat.num_trees() + deep[0].num_trees()


def test_categorical_and_linear_trees_are_left_to_lightgbm() -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.integers(0, 5, 300), rng.normal(size=300)]).astype(float)
    y = x[:, 0] * 3 + x[:, 1]
    ds = lgb.Dataset(x, label=y, categorical_feature=[0], params={"verbosity": -1})
    categorical = lgb.train({"objective": "regression", "verbosity": -1, "min_data_per_group": 5}, ds, 10)
    linear = lgb.train({"objective": "regression", "verbosity": -1, "linear_tree": True},
                       lgb.Dataset(x, label=y, params={"verbosity": -1}), 10)  # fmt: skip
    with pytest.raises(TreesUnsupported, match="categorical"):
        TreeArrays([categorical.model_to_string()], [0, 1])
    with pytest.raises(TreesUnsupported, match="linear"):
        TreeArrays([linear.model_to_string()], [0, 1])
    qm = QuantileModel([categorical] * 3, [0, 1])
    assert qm.use_tree_arrays() == "categorical splits" and qm.trees is None
    np.testing.assert_array_equal(qm.predict_raw(x)[:, 0], categorical.predict(x))


class _Recorder:
    """Stands in for a module's structlog logger: a configured, cached logger ignores capture_logs."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, event: str, **kw: Any) -> None:
        self.events.append(("warning", event, kw))

    def debug(self, event: str, **kw: Any) -> None:
        self.events.append(("debug", event, kw))


def test_a_model_the_arrays_cannot_hold_serves_through_lightgbm(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: QuantileModel) -> str:
        return "categorical splits"

    rec = _Recorder()
    monkeypatch.setattr(QuantileModel, "use_tree_arrays", refuse)
    monkeypatch.setattr(costmodel, "log", rec)
    model = CostModel.load(BUNDLED_DIR)
    assert all(m.trees is None for m in model.models.values())
    warned = [
        kw for level, event, kw in rec.events if event == "tree_arrays_unsupported" and level == "warning"
    ]
    assert sorted(kw["target"] for kw in warned) == sorted(model.models)
    assert all(kw["fallback"] == "lightgbm" and kw["reason"] == "categorical splits" for kw in warned)
    monkeypatch.undo()
    arms = _random_arms(20, seed=5)
    assert model.predict(arms) == CostModel.load(BUNDLED_DIR).predict(arms)


def _random_requests(count: int, seed: int) -> list[tuple[str, list[tuple[str, int, str]], WorkloadAxes]]:
    """Requests as the daemon scores them: one model, an arm list (often without the slower kinds
    the physics order compares to, sometimes with kinds or a model the catalog lacks), one workload."""
    rng = np.random.default_rng(seed)
    cat = Catalog.load()
    models = ["meta-llama/Meta-Llama-3-8B", "Qwen/Qwen2.5-7B-Instruct", *(m.name for m in cat.models[:6])]
    gpus = [g.name for g in cat.gpus]
    out = []
    for k in range(count):
        model = "acme/Unknown-13B" if k % 11 == 5 else str(rng.choice(models))
        kinds = [str(g) for g in rng.choice(gpus, size=int(rng.integers(1, 4)), replace=False)]
        if k % 7 == 3:
            kinds.append("Nvidia B999")
        arms = [
            (g, int(tp), str(p))
            for g in kinds
            for tp in rng.choice([1, 2, 4, 8], size=int(rng.integers(1, 3)), replace=False)
            for p in rng.choice(["bf16", "fp8", "awq", "gptq"], size=int(rng.integers(1, 5)), replace=False)
        ]
        prompt = int(rng.choice([16, 300, 1024, 4096, 30000]))
        output = int(rng.choice([1, 64, 512, 2048]))
        axes = WorkloadAxes(
            concurrency=int(rng.choice([1, 4, 16, 64, 256, 4096])),
            context=prompt + output,
            prompt_len=prompt,
            output_len=output,
            load_regime=str(rng.choice(LOAD_REGIMES)),
            kv_cache_dtype=str(rng.choice(["auto", "fp8"])),
        )
        out.append((model, arms, axes))
    return out


def test_memoised_order_layout_scores_as_the_reference_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """score_arms' fast path (order layout memoised per arm list, the slower arms appended to the
    batch, 32-bit tree walk) against the un-memoised path (`_score` finding and predicting the
    slower arms itself, `ordered_raw`) and against LightGBM's own predict, on every target."""
    monkeypatch.setattr(costmodel, "LAYOUT_CACHE_SIZE", 8)
    fast, plain = CostModel.load(BUNDLED_DIR), _plain()
    requests = _random_requests(60, seed=11)
    # each arm list twice with different workloads: the second finds its layout memoised
    # (half of them under the same engine, load regime and KV dtype: their matrix is memoised too)
    requests += [
        (m, arms, ref[2]._replace(load_regime=axes.load_regime, kv_cache_dtype=axes.kv_cache_dtype))
        if k % 2
        else (m, arms, ref[2])
        for k, ((m, arms, axes), ref) in enumerate(
            zip(requests[:30], _random_requests(30, seed=12), strict=True)
        )
    ]
    reused: list[int] = []
    new_workload = fast.featurizer.transform_workload

    def spy(cols: Any, same_arms: np.ndarray) -> np.ndarray:
        reused.append(len(same_arms))
        out: np.ndarray = new_workload(cols, same_arms)
        return out

    monkeypatch.setattr(fast.featurizer, "transform_workload", spy)
    appended = 0
    for model, arms, axes in requests:
        for targets in (None, ["tokens_per_s", "ttft_p50_s"]):
            got = fast.score_arms(model, arms, axes, targets)
            _, extra = fast._layouts[(model, tuple(arms))]
            appended += len(extra)
            fields = costmodel._arm_fields(model, arms, axes)
            want = fast._score(fields, targets)  # un-memoised, the order's arms predicted apart
            ref = plain._score(fields, targets)  # the same through LightGBM's Booster.predict
            assert got.verdicts == want.verdicts == ref.verdicts
            assert got.values.keys() == want.values.keys() == ref.values.keys()
            for t, v in got.values.items():
                np.testing.assert_array_equal(v, want.values[t], err_msg=t)
                np.testing.assert_allclose(v, ref.values[t], rtol=1e-12, atol=0.0, err_msg=t)
        # predict appends the slower arms as score_arms does, without the memo
        preds = fast.predict([ArmQuery(model=model, gpu=g, tp=tp, precision=p, concurrency=axes.concurrency,
                                       context=axes.context, prompt_len=axes.prompt_len,
                                       output_len=axes.output_len, load_regime=axes.load_regime,
                                       kv_cache_dtype=axes.kv_cache_dtype) for g, tp, p in arms])  # fmt: skip
        for i, pred in enumerate(preds):
            for t, v in want.values.items():
                q = pred.targets.get(t)
                assert (q is None) == (not np.isfinite(v[i]).all())
                assert q is None or (q.q10, q.q50, q.q90) == tuple(v[i])
    assert appended > 0  # the slower kinds were missing from many batches, and were predicted
    assert len(reused) > 30  # and many matrices came from the same arms' memoised one
    assert len(fast._layouts) <= 8  # bounded


def test_order_layout_raises_the_faster_kind_as_ordered_raw_does() -> None:
    """The order step itself: an arm list of one fast kind gets the same lift from the slower kinds
    it lacks (appended) as from the same kinds present in the batch."""
    model = CostModel.load(BUNDLED_DIR)
    axes = WorkloadAxes(concurrency=64, context=3072, prompt_len=2048, output_len=1024)
    name = "meta-llama/Llama-3.1-8B"
    alone = model.score_arms(name, [("H200-141GB", 1, "bf16")], axes)
    every = [(g.name, 1, "bf16") for g in Catalog.load().gpus]
    beside = model.score_arms(name, every, axes)
    at = every.index(("H200-141GB", 1, "bf16"))
    assert model._layouts[(name, (("H200-141GB", 1, "bf16"),))][1]  # slower kinds were appended
    for t, v in alone.values.items():
        np.testing.assert_array_equal(v[0], beside.values[t][at], err_msg=t)


@pytest.mark.parametrize(
    ("hardware", "roofline"), [("physics", "offset"), ("identity", "feature"), ("numbers", "none")]
)
def test_a_new_workloads_matrix_from_the_same_arms_is_transforms(hardware: str, roofline: str) -> None:
    """Featurizer.transform_workload (the daemon's memo of the arm columns) gives transform's matrix."""
    cat = Catalog.load()
    featurizer = Featurizer(FeatureSpec.from_catalog(cat, roofline, hardware), cat)
    model = CostModel.load(BUNDLED_DIR)
    for (name, arms, axes), (_, _, other) in zip(
        _random_requests(20, seed=3), _random_requests(20, seed=4), strict=True
    ):
        other = other._replace(load_regime=axes.load_regime, kv_cache_dtype=axes.kv_cache_dtype)
        first = featurizer.transform(model._columns(costmodel._arm_fields(name, arms, axes))[0])
        cols = model._columns(costmodel._arm_fields(name, arms, other))[0]
        np.testing.assert_array_equal(featurizer.transform_workload(cols, first), featurizer.transform(cols))
