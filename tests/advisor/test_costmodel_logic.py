"""Pure logic of the cost model: features, roofline, quantile helpers, conformal, envelope."""

from __future__ import annotations

import math

import numpy as np
import pytest

from omnipilot.advisor.conformal import (
    apply_offset,
    conformal_offset,
    conformity_scores,
    coverage,
    group_kfold,
    random_kfold,
)
from omnipilot.advisor.envelope import Envelope
from omnipilot.advisor.features import FeatureSpec, Featurizer, engine_version_number
from omnipilot.advisor.quantile import crossing_rate, rearrange
from omnipilot.catalog import Catalog

from .costmodel_synth import synthetic_frame


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _cols(**over: object) -> dict[str, list[object]]:
    base: dict[str, object] = {
        "model": "meta-llama/Meta-Llama-3-8B",
        "family": "llama3",
        "params_b": 8.03,
        "active_params_b": None,
        "gpu": "H100-80GB",
        "tp": 1,
        "precision": "bf16",
        "kv_cache_dtype": "auto",
        "engine": "vllm",
        "load_regime": "fixed_batch",
        "context_len": 2048,
        "prompt_len": 1024,
        "output_len": 1024,
        "concurrency": 16,
        "engine_version": "0.5.4",
    }
    base.update(over)
    return {k: [v] for k, v in base.items()}


def test_feature_layout_represents_axes_before_data(catalog: Catalog) -> None:
    feat = Featurizer(FeatureSpec.from_catalog(catalog, hardware="numbers"), catalog)
    x = feat.transform(_cols(precision="awq", gpu="H200"))
    names = feat.names
    assert x.shape == (1, len(names))
    row = dict(zip(names, x[0], strict=True))
    assert row["precision=awq"] == 1.0 and row["precision=bf16"] == 0.0
    # in the numbers layout the GPU kind enters by its numbers and software stack, never by a one-hot that could
    # override them (issue 15)
    assert row["stack=cuda"] == 1.0 and row["stack=rocm"] == 0.0
    assert not any(n.startswith("gpu=") for n in names)
    assert row["gpu_memory_gb"] == 141.0
    assert row["effective_bits"] == 4.0
    amd = dict(zip(names, feat.transform(_cols(gpu="MI300X"))[0], strict=True))
    assert amd["stack=rocm"] == 1.0 and amd["stack=cuda"] == 0.0
    # models of the older layout keep their per-kind one-hots, so they still load and score
    old = Featurizer(FeatureSpec.from_catalog(catalog, hardware="identity"), catalog)
    old_row = dict(zip(old.names, old.transform(_cols(gpu="H200"))[0], strict=True))
    assert old_row["gpu=H200-141GB"] == 1.0  # alias resolved to the catalog name


def test_the_physics_layout_places_a_kind_in_the_hardware_order(catalog: Catalog) -> None:
    """The default layout: a flag per kind a GPU is at least as good as (same vendor, every number
    at the arm's precision), so a faster kind carries every flag of a slower one."""
    feat = Featurizer(FeatureSpec.from_catalog(catalog), catalog)
    assert feat.spec.hardware == "physics"
    assert not any(n.startswith("gpu=") for n in feat.names)

    def flags(gpu: str, precision: str = "bf16") -> set[str]:
        row = dict(zip(feat.names, feat.transform(_cols(gpu=gpu, precision=precision))[0], strict=True))
        return {n.split("=", 1)[1] for n, v in row.items() if n.startswith("gpu_at_least=") and v == 1.0}

    h200, h100 = flags("H200"), flags("H100")
    assert h100 < h200 and "H200-141GB" not in h100
    assert {"A100-40GB", "A100-80GB", "H100-80GB", "L40S-48GB", "RTX4090-24GB"} <= h200
    assert not any(k.startswith("MI") for k in h200)  # another vendor is not ordered by numbers
    assert "RTX4090-24GB" in flags("A100-80GB") and "RTX4090-24GB" not in flags("A100-80GB", "fp8")
    # a bf16 arm does not count the FP8 units; an fp8 arm does
    bf16 = dict(zip(feat.names, feat.transform(_cols(gpu="H100"))[0], strict=True))
    fp8 = dict(zip(feat.names, feat.transform(_cols(gpu="H100", precision="fp8"))[0], strict=True))
    assert bf16["fp8_compute"] == 0.0 and fp8["fp8_compute"] == 1.0
    # a measured exception leaves the pair out of the order
    spec = feat.spec.model_copy(update={"order_exceptions": (("H200-141GB", "H100-80GB"),)})
    assert not Featurizer(spec, catalog).at_least("H200-141GB", "H100-80GB")
    assert feat.at_least("H200-141GB", "H100-80GB") and not feat.at_least("H100-80GB", "H200-141GB")


def test_unknown_family_and_gpu_give_no_onehot_and_nan_numbers(catalog: Catalog) -> None:
    feat = Featurizer(FeatureSpec.from_catalog(catalog), catalog)
    row = dict(zip(feat.names, feat.transform(_cols(family="newfam", gpu="XPU-9"))[0], strict=True))
    assert sum(v for k, v in row.items() if k.startswith(("family=", "gpu="))) == 0.0
    assert math.isnan(row["gpu_memory_gb"])


def test_kv_pressure_grows_with_concurrency_and_roofline_with_bandwidth(catalog: Catalog) -> None:
    feat = Featurizer(FeatureSpec.from_catalog(catalog, hardware="numbers"), catalog)
    i = feat.names.index("log_kv_gb_per_gpu")
    low = feat.transform(_cols(concurrency=4))[0, i]
    high = feat.transform(_cols(concurrency=64))[0, i]
    assert high - low == pytest.approx(math.log(16), rel=1e-6)
    h100 = feat.roofline(_cols(gpu="H100-80GB"))[0]
    h200 = feat.roofline(_cols(gpu="H200-141GB"))[0]
    a100 = feat.roofline(_cols(gpu="A100-40GB"))[0]
    assert a100 < h100 < h200
    awq = feat.roofline(_cols(precision="awq", concurrency=1))[0]
    assert awq > feat.roofline(_cols(concurrency=1))[0] * 2  # 4-bit decode reads ~1/3.5 the bytes


def test_engine_version_number() -> None:
    assert engine_version_number("0.9.2") == pytest.approx(9.2)
    assert engine_version_number("v0.11.0") == pytest.approx(11.0)
    assert math.isnan(engine_version_number(None))


def test_rearrangement_and_crossing_rate() -> None:
    q = np.array([[1.0, 0.5, 2.0], [0.1, 0.2, 0.3], [3.0, 2.0, 1.0]])
    assert crossing_rate(q) == pytest.approx(2 / 3)
    r = rearrange(q)
    assert crossing_rate(r) == 0.0
    assert np.array_equal(r[2], [1.0, 2.0, 3.0])


def test_group_kfold_never_splits_a_group_and_is_deterministic() -> None:
    groups = [f"g{i % 13}" for i in range(200)]
    folds = group_kfold(groups, 5)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, group_kfold(groups, 5), strict=True))
    seen: set[int] = set()
    for train, test in folds:
        assert not {groups[i] for i in train} & {groups[i] for i in test}
        seen |= set(test.tolist())
    assert seen == set(range(200))
    with pytest.raises(ValueError, match="groups"):
        group_kfold(["a", "b"], 5)


def test_random_kfold_partitions_rows() -> None:
    folds = random_kfold(23, 5, seed=1)
    tests = np.sort(np.concatenate([t for _, t in folds]))
    assert np.array_equal(tests, np.arange(23))


def test_conformal_offset_reaches_nominal_coverage_on_fresh_data() -> None:
    rng = np.random.default_rng(0)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.normal(0, 1, n)
        q = np.column_stack([np.full(n, -0.5), np.zeros(n), np.full(n, 0.5)])  # too narrow a band
        return q, y

    q, y = draw(2000)
    off = conformal_offset(conformity_scores(q, y))
    assert coverage(q, y) < 0.5
    q2, y2 = draw(4000)
    assert coverage(apply_offset(q2, off), y2) == pytest.approx(0.8, abs=0.03)


def test_negative_offset_never_crosses_the_median() -> None:
    q = np.array([[0.0, 1.0, 2.0]])
    out = apply_offset(q, -5.0)
    assert out[0, 0] == out[0, 1] == out[0, 2] == 1.0


def test_envelope_flags_each_axis_with_words() -> None:
    frame = synthetic_frame()
    env = Envelope.fit(frame[frame.engine == "vllm"])
    env = Envelope.model_validate_json(env.model_dump_json())  # survives the manifest round trip
    ok = env.check(
        _cols(
            model="meta-llama/Llama-2-7b-hf",
            family="llama2",
            gpu="H100-80GB",
            context_len=None,
            prompt_len=512,
            output_len=512,
            concurrency=8,
            tp=2,
        )
    )
    assert ok == [("high", [])]
    label, why = env.check(_cols(context_len=32768))[0]
    assert label == "low" and "context 32768 above the measured 2048" in why
    label, why = env.check(_cols(precision="awq"))[0]
    assert label == "low" and any("precision awq not measured" in w for w in why)
    label, why = env.check(_cols(gpu="H200-141GB"))[0]
    assert label == "low" and any("GPU kind H200-141GB" in w for w in why)
    label, why = env.check(_cols(gpu="A100-40GB", precision="fp8"))[0]
    assert (label, why) == ("medium", ["fp8 on A100-40GB not measured"])
    label, why = env.check(_cols(model="meta-llama/Llama-3.1-8B"))[0]
    assert label == "medium" and any("not measured (its family is)" in w for w in why)
