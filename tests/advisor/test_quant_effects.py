"""Quantization by what it does: the measured table, the kernel and effect of each arm, the feature
columns behind FeatureSpec.quant, and the arm's reasons about how far it is from measured rows."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pytest

from omnipilot.advisor import quant_effects as qe
from omnipilot.advisor.arms import Workload, fit_arm
from omnipilot.advisor.features import QUANT_FEATURES, FeatureSpec, Featurizer
from omnipilot.catalog import Catalog

REPO = Path(__file__).resolve().parents[2]
CAT = Catalog.load()


def _query(precision: str, gpu: str = "H100-80GB", checkpoint: str | None = None) -> dict[str, list[object]]:
    m = CAT.model("Qwen/Qwen3-8B")
    assert m is not None
    row: dict[str, object] = {
        "model": m.name, "family": m.family, "params_b": m.params_b, "active_params_b": None, "gpu": gpu,
        "tp": 1, "precision": precision, "kv_cache_dtype": "auto", "engine": "vllm", "load_regime": "burst",
        "context_len": 8192, "prompt_len": 1024, "output_len": 256, "concurrency": 64, "engine_version": "0.9.2",
    }  # fmt: skip
    if checkpoint is not None:
        row["checkpoint"] = checkpoint
    return {k: [v] for k, v in row.items()}


def test_measured_ratios_match_the_shared_file() -> None:
    root = Path(os.environ.get("OMNIPILOT_SHARED_DATA", REPO.parent / "shared" / "data"))
    path = root / "gpustack-performance-lab" / "gpustack_quantization_reference_qwen3_8b.csv"
    if not path.exists():
        pytest.skip(f"public data not found at {path.parent}")
    with path.open(newline="") as fh:
        raw = list(csv.DictReader(fh))
    printed = {(r["gpu"].split()[0], r["method_label_as_published"]): r["throughput_tok_s"] for r in raw}
    for m in qe.MEASURED:
        key = ("RTX" if m.gpu.startswith("RTX") else m.gpu.split("-")[0], m.label)
        value = printed[key]
        assert (float(value) if value else None) == m.throughput, m
        bf16 = printed[(key[0], "BF16")]
        assert float(bf16) == m.bf16


def test_without_memory_pressure_weight_only_is_slower_than_bf16() -> None:
    """The page's finding: AWQ slower than BF16 on A100 and H100; the VRAM-bound 24 GB card gains."""
    for gpu in ("A100-80GB", "H100-80GB"):
        awq = [m for m in qe.MEASURED if m.gpu == gpu and m.precision == "awq" and m.kernel == "default"]
        assert awq and all(m.ratio is not None and m.ratio < 1.0 for m in awq)
    assert qe.measured_penalty("awq", "default") < 1.0 < qe.measured_penalty("fp8", "fp8")
    assert qe.kernel_efficiency(CAT, "awq", "default") < 1.0
    rtx = [m for m in qe.MEASURED if m.gpu == "RTX4090-24GB"]
    assert rtx and all(m.memory_pressure and (m.ratio or 0) > 1.0 for m in rtx)
    # the pressure is physics, not a label: BF16 KV space on the 24 GB card at the reference cell
    model = CAT.model("Qwen/Qwen3-8B")
    assert model is not None
    work = Workload(concurrency=1000, context=4096, prompt_len=217, output_len=202)
    occ = {}
    for name in ("RTX4090-24GB", "A100-80GB"):
        card = CAT.gpu(name)
        assert card is not None
        occ[name] = fit_arm(model, card, 1, ("bf16", model.name, None), work).kv_occupancy
    assert occ["RTX4090-24GB"] > 5 * occ["A100-80GB"]


def test_gptq_failure_on_h100_is_kept_and_said() -> None:
    failed = [m for m in qe.MEASURED if m.throughput is None]
    assert [(m.gpu, m.precision) for m in failed] == [("H100-80GB", "gptq")]
    assert qe.measured_penalty("gptq", "default") == pytest.approx(8129.27 / 10338.25)  # A100 only
    note = qe.measured_note("gptq", "H100-80GB", hopper=True)
    assert note and "failed on this GPU" in note and "20986" in note
    assert "same architecture" in (qe.measured_note("gptq", "H200-141GB", hopper=True) or "")


def test_kernels_and_effects() -> None:
    assert qe.kernel_of("awq", None, True) == "default"  # the arm passes --quantization awq
    assert qe.kernel_of("awq", "Qwen3-8B [AWQ Marlin; ...]", True) == "marlin"
    assert qe.kernel_of("fp8", None, False) == "fp8-marlin"  # W8A16 on cards without FP8 units
    awq, fp8 = qe.effect("awq", "default", True), qe.effect("fp8", "fp8", True)
    assert (awq.activation_bits, awq.weight_only) == (16.0, True)
    assert (fp8.activation_bits, fp8.weight_only) == (8.0, False)
    assert qe.effect("fp8", "fp8-marlin", False).activation_bits == 16.0
    assert qe.effect("gptq", "default", True, "GPTQ (Int8)").bytes_per_weight > 1.5 * awq.bytes_per_weight


def test_notes_say_how_far_an_arm_is_from_measured_rows() -> None:
    assert qe.measured_note("bf16", "H100-80GB", True) is None
    assert qe.measured_note("fp8", "H100-80GB", True) is None  # FP8 has rows of its own
    here = qe.measured_note("awq", "A100-80GB", False)
    assert here and "A100-80GB measured only for Qwen3-8B, vLLM 0.9.2: 0.93× BF16" in here
    away = qe.measured_note("awq", "L40S-48GB", False)
    assert away and "measured only on Qwen3-8B, vLLM 0.9.2 (A100/H100/RTX4090)" in away
    model, gpu = CAT.model("Qwen/Qwen2.5-7B-Instruct"), CAT.gpu("H100-80GB")
    assert model is not None and gpu is not None
    work = Workload(concurrency=16, context=4096, prompt_len=1024, output_len=256)
    fit = fit_arm(model, gpu, 1, ("gptq", "x-GPTQ-Int4", "gptq"), work)
    assert any("gptq failed on this GPU" in r for r in fit.reasons)
    assert not any("measured" in r for r in fit_arm(model, gpu, 1, ("bf16", model.name, None), work).reasons)


def test_quant_columns_behind_the_spec_field_keep_old_layouts() -> None:
    old = FeatureSpec.from_catalog(CAT, quant="none")
    new = FeatureSpec.from_catalog(CAT)
    assert new.quant == "effects"
    assert new.names()[: len(old.names())] == old.names()
    assert new.names()[len(old.names()) :] == list(QUANT_FEATURES)
    # an artifact written before the field existed loads with its own layout
    stored = old.model_dump(mode="json")
    del stored["quant"]
    assert FeatureSpec.model_validate(stored).names() == old.names()


def test_awq_and_gptq_rows_are_told_apart() -> None:
    feat = Featurizer(FeatureSpec.from_catalog(CAT), CAT)
    cols = {k: _query("awq")[k] + _query("gptq")[k] + _query("bf16")[k] for k in _query("awq")}
    x = feat.transform(cols)
    assert x.shape == (3, len(feat.names))
    q = x[:, -len(QUANT_FEATURES) :]
    assert not np.array_equal(q[0], q[1])  # different measured penalties
    assert q[2].tolist() == [2.0, 16.0, 0.0, 0.0]  # bf16: 2 bytes, 16-bit activations, dense, ratio 1
    marlin = feat.transform(_query("awq", checkpoint="Qwen3-8B [AWQ Marlin; weight-only; Marlin]"))
    assert marlin[0, -2] == 1.0 and q[0, -2] == 0.0
    fp8_a100 = feat.transform(_query("fp8", gpu="A100-80GB"))[0, -len(QUANT_FEATURES) :]
    assert fp8_a100[1] == 16.0 and fp8_a100[2] == 1.0 and math.isnan(fp8_a100[3])  # W8A16 Marlin, unmeasured


def test_physics_variant_charges_compute_not_bandwidth() -> None:
    """effects_physics: weight-only kernels compute at their measured share of FLOP/s, so AWQ loses
    where the roofline is compute-bound and keeps its 4-bit bytes where it is memory-bound."""
    plain = Featurizer(FeatureSpec.from_catalog(CAT, quant="effects"), CAT)
    phys = Featurizer(FeatureSpec.from_catalog(CAT, quant="effects_physics"), CAT)
    busy = _query("awq")
    busy["concurrency"] = [1000]
    quiet = _query("awq")
    quiet["concurrency"] = [1]
    assert phys.roofline(busy)[0] < 0.9 * plain.roofline(busy)[0]
    assert phys.roofline(quiet)[0] == pytest.approx(plain.roofline(quiet)[0], rel=0.02)
    assert phys.roofline(_query("bf16"))[0] == plain.roofline(_query("bf16"))[0]
