"""Revealed-preference calibration: the value found reproduces the anchors, the impossible is reported."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from omnipilot.advisor.arms import Arm, Workload
from omnipilot.advisor.calibrate import CalibrationError, calibrate
from omnipilot.advisor.decide import Prediction, Scorer
from omnipilot.advisor.decision_cli import parse_anchor
from omnipilot.advisor.utility import Quantiles
from omnipilot.catalog import Catalog, ModelSpec
from omnipilot.config import AnchorEntry, Settings

BW = {"A100-40GB": 1555.0, "H100-80GB": 3350.0, "H200-141GB": 4800.0}


def physics_scorer() -> Scorer:
    """Throughput grows with bandwidth and (sub-linearly) with TP; 4-bit arms are slower here."""

    def score(spec: ModelSpec, work: Workload, arms: Sequence[Arm]) -> list[Prediction]:
        out = []
        for a in arms:
            tok = (
                400.0
                * BW[a.gpu]
                / 1555.0
                * a.tp**0.7
                * (8.0 / spec.params_b)
                * (0.6 if a.precision in ("awq", "gptq") else 1.0)
            )
            out.append(
                Prediction(
                    targets={"tokens_per_s": Quantiles(q10=tok * 0.9, q50=tok, q90=tok * 1.1)},
                    confidence="high",
                )
            )
        return out

    return score


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def anchor(gpu: str, tp: int) -> AnchorEntry:
    return AnchorEntry(
        model="Qwen/Qwen2.5-7B", gpu=gpu, tp=tp, precision="bf16", concurrency=16, context=4096
    )


def test_cheap_anchor_is_reproduced_at_low_values_only(catalog: Catalog) -> None:
    r = calibrate([anchor("A100-40GB", 1)], Settings(), catalog, physics_scorer(), points=61)
    assert r["matched"] == 1 and len(r["intervals"]) == 1
    lo, hi = r["intervals"][0]
    assert lo == pytest.approx(1e-9) and hi < 1e-4, "a high enough value must buy a faster arm"
    assert lo <= r["value_per_token"] <= hi and r["per_anchor"][0]["matched"]


def test_fast_anchor_needs_a_high_value(catalog: Catalog) -> None:
    cheap = calibrate([anchor("A100-40GB", 1)], Settings(), catalog, physics_scorer(), points=61)
    fast = calibrate([anchor("H200-141GB", 4)], Settings(), catalog, physics_scorer(), points=61)
    assert fast["matched"] == 1
    assert fast["value_per_token"] > cheap["value_per_token"]
    assert fast["intervals"][0][0] >= cheap["intervals"][0][1]


def test_contradicting_anchors_are_reported_not_hidden(catalog: Catalog) -> None:
    # the same workload cannot go to A100 x1 and to H200 x4 at one value
    r = calibrate(
        [anchor("A100-40GB", 1), anchor("H200-141GB", 4)], Settings(), catalog, physics_scorer(), points=61
    )
    assert r["matched"] == 1 and r["anchors"] == 2
    assert sum(a["matched"] for a in r["per_anchor"]) == 1


def test_bad_anchors_name_the_problem(catalog: Catalog) -> None:
    with pytest.raises(CalibrationError, match=r"not in etc/models\.toml"):
        calibrate([AnchorEntry(model="nope/none", gpu="A100", tp=1)], Settings(), catalog, physics_scorer())
    with pytest.raises(CalibrationError, match="no anchors"):
        calibrate([], Settings(), catalog, physics_scorer())
    a = parse_anchor("Qwen/Qwen2.5-32B=A100-40GBx2:bf16")
    assert (a.model, a.gpu, a.tp, a.precision) == ("Qwen/Qwen2.5-32B", "A100-40GB", 2, "bf16")
    with pytest.raises(ValueError, match=r"MODEL=GPUxTP"):
        parse_anchor("Qwen/Qwen2.5-7B-on-A100")
