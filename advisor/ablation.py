"""Does a feature earn its place? Held-out-cell error with and without it, on the same folds.

Issue 14 keeps the load regime (offline fixed batches, online burst, constant rate) as a feature
"excluded only if evaluate shows it hurts": this is that check. Both fits see the same grouped folds,
so the difference is the feature's, not the split's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from omnipilot.advisor.conformal import group_kfold
from omnipilot.advisor.features import Featurizer
from omnipilot.advisor.training import TrainConfig, base_kind_for, cell_keys, out_of_fold

# Held-out-cell MAPE may rise by this much without the feature counting as a help (fold noise).
NOISE = 0.002


def _ape(pred_log: np.ndarray, y_log: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(np.exp(pred_log - y_log) - 1.0))


def load_regime_ablation(
    featurizer: Featurizer, rows: pd.DataFrame, config: TrainConfig, target: str
) -> dict[str, Any]:
    """MAPE of `target` on held-out cells with the load-regime columns and without, overall and by
    regime, and the verdict: "keep" unless leaving the feature out is better by more than NOISE."""
    without = Featurizer(featurizer.spec.model_copy(update={"load_regimes": ()}), featurizer.catalog)
    folds = group_kfold(cell_keys(rows), config.n_splits)
    y = np.log(rows[target].to_numpy(dtype=float))
    regimes = rows["load_regime"].astype(str).to_numpy()
    out: dict[str, Any] = {}
    for name, feat in (("with", featurizer), ("without", without)):
        pred = out_of_fold(feat, rows, target, base_kind_for(feat, target), folds)[:, 1]
        ok = np.isfinite(pred)
        ape = _ape(pred[ok], y[ok])
        out[name] = {
            "mape": float(ape.mean()) if ape.size else float("nan"),
            "by_regime": {
                r: {"n": int((regimes[ok] == r).sum()), "mape": float(ape[regimes[ok] == r].mean())}
                for r in sorted(set(regimes[ok]))
            },
        }
    hurts = out["without"]["mape"] < out["with"]["mape"] - NOISE
    out["verdict"] = "drop: the load regime hurts held-out cells" if hurts else "keep"
    return out
