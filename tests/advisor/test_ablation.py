"""The load-regime check: it must see a regime that matters, and see nothing where none does."""

from __future__ import annotations

import numpy as np
import pandas as pd

from omnipilot.advisor.ablation import load_regime_ablation
from omnipilot.advisor.features import FeatureSpec, Featurizer
from omnipilot.advisor.training import TrainConfig, labelled, select_training_rows
from omnipilot.catalog import Catalog
from tests.advisor.costmodel_synth import synthetic_frame


def _rows(burst_factor: float) -> tuple[Featurizer, pd.DataFrame]:
    """Every cell measured twice, offline and under burst load; burst runs at `burst_factor` of the
    offline throughput (an online client's queueing and scheduling)."""
    base = synthetic_frame(seed=3)
    burst = base.copy()
    burst["load_regime"] = "burst"
    burst["tokens_per_s"] = burst["tokens_per_s"] * burst_factor
    burst["content_hash"] = burst["content_hash"] + "b"
    catalog = Catalog.load()
    config = TrainConfig()
    rows = labelled(select_training_rows(pd.concat([base, burst], ignore_index=True), config, catalog), "tokens_per_s")
    return Featurizer(FeatureSpec.from_catalog(catalog), catalog), rows


def test_a_regime_that_halves_throughput_is_kept_and_helps() -> None:
    feat, rows = _rows(0.5)
    out = load_regime_ablation(feat, rows, TrainConfig(), "tokens_per_s")
    assert out["verdict"] == "keep"
    assert out["with"]["mape"] < out["without"]["mape"] - 0.05, out
    assert set(out["with"]["by_regime"]) == {"burst", "fixed_batch"}


def test_a_regime_that_changes_nothing_is_not_claimed_to_help() -> None:
    feat, rows = _rows(1.0)
    out = load_regime_ablation(feat, rows, TrainConfig(), "tokens_per_s")
    assert abs(out["with"]["mape"] - out["without"]["mape"]) < 0.02, out
    assert np.isfinite(out["with"]["mape"])
