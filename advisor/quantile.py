"""Quantile gradient boosting per target: LightGBM with quantile loss at q0.1/q0.5/q0.9, log space.

Targets span orders of magnitude and errors are multiplicative, so every model works on
log(target). An optional per-row log-space base (the roofline estimate) is passed as LightGBM's
`init_score`, so the trees learn a correction to the physics rather than the whole surface;
prediction adds the same base back. Training is deterministic: fixed seeds, `deterministic=true`,
one thread, no bagging or feature sampling, so the same rows give byte-identical model text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import lightgbm as lgb
import numpy as np

from omnipilot.advisor.tree_arrays import TreeArrays, TreesUnsupported

QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
MIN_LABELLED_ROWS = 15

# Fixed up front (not tuned inside folds). Small leaves because cells are small (tens of rows).
LGB_PARAMS: dict[str, object] = {
    "objective": "quantile",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 6,
    "min_data_in_leaf": 5,
    "min_sum_hessian_in_leaf": 1e-3,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "seed": 20260704,
    "verbosity": -1,
}
NUM_ROUNDS = 300
# "basic" keeps every split's children ordered; "intermediate" is less conservative, same guarantee.
MONOTONE_METHOD = "intermediate"


class QuantileModel:
    """The three boosters of one target, fitted on a fixed subset of the feature columns."""

    def __init__(self, boosters: Sequence[lgb.Booster], columns: Sequence[int] | np.ndarray) -> None:
        if len(boosters) != len(QUANTILES):
            raise ValueError(f"expected {len(QUANTILES)} boosters, got {len(boosters)}")
        self.boosters = list(boosters)
        self.columns = np.asarray(columns, dtype=np.intp)
        # The same boosters as flat arrays (advisor/tree_arrays.py), set by `use_tree_arrays`;
        # None = LightGBM's own predict.
        self.trees: TreeArrays | None = None
        # (least, most) log(measured ÷ base) of the rows it was fitted on, where a fit in memory
        # knows them (training.fit_quantiles); a loaded model reads them from its feature spec
        self.efficiency: tuple[float, float] | None = None

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y_log: np.ndarray,
        columns: Sequence[int],
        base: np.ndarray | None = None,
        feature_names: Sequence[str] | None = None,
        monotone: Sequence[int] | None = None,
    ) -> QuantileModel:
        """Fit q0.1/q0.5/q0.9 on log targets; `base` (log space) is the per-row starting point."""
        if len(y_log) < MIN_LABELLED_ROWS:
            raise ValueError(f"{len(y_log)} labelled rows; a target needs at least {MIN_LABELLED_ROWS}")
        cols = np.asarray(columns, dtype=np.intp)
        xs = x[:, cols]
        names = [feature_names[int(i)] for i in cols] if feature_names is not None else None
        boosters = []
        for alpha in QUANTILES:
            params: dict[str, object] = {**LGB_PARAMS, "alpha": alpha}
            if monotone is not None and any(monotone):
                # LightGBM refuses monotone constraints with its quantile objective (it renews leaf
                # values after each tree, which could break the order): the same pinball loss as a
                # custom objective keeps the constrained leaves as they are.
                params["objective"] = _pinball(alpha)
                params["monotone_constraints"] = list(monotone)
                params["monotone_constraints_method"] = MONOTONE_METHOD
            ds = lgb.Dataset(
                xs,
                label=y_log,
                init_score=base,
                feature_name=_safe_names(names) if names else "auto",
                params={"max_bin": LGB_PARAMS["max_bin"], "verbosity": -1},
                free_raw_data=True,
            )
            boosters.append(lgb.train(params, ds, num_boost_round=NUM_ROUNDS))
        return cls(boosters, cols)

    def use_tree_arrays(self) -> str | None:
        """Predict with flat tree arrays from now on (same raw scores, no per-call overhead); the
        reason when these boosters cannot be represented, and then LightGBM keeps predicting."""
        try:
            self.trees = TreeArrays([b.model_to_string() for b in self.boosters], self.columns)
        except TreesUnsupported as exc:
            return str(exc)
        return None

    def predict_raw(self, x: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """(n, 3) log-space quantiles as the boosters give them (may cross)."""
        if self.trees is not None:
            out = self.trees.predict(x)
        else:
            xs = x[:, self.columns]
            out = np.column_stack([b.predict(xs, num_threads=1) for b in self.boosters])
        if base is not None:
            out = out + base[:, None]
        return np.asarray(out, dtype=float)

    def model_texts(self) -> list[str]:
        return [b.model_to_string() for b in self.boosters]


def _pinball(alpha: float) -> Callable[[np.ndarray, lgb.Dataset], tuple[np.ndarray, np.ndarray]]:
    """Gradient and (unit) hessian of the pinball loss at quantile `alpha`, for LightGBM."""

    def objective(pred: np.ndarray, data: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(data.get_label(), dtype=float)
        grad = np.where(pred >= y, 1.0 - alpha, -alpha)
        return grad, np.ones_like(grad)

    return objective


def rearrange(q: np.ndarray) -> np.ndarray:
    """Monotone rearrangement: sort each row's quantiles (Chernozhukov et al.), never worse in loss."""
    return np.sort(q, axis=1)


def crossing_rate(q: np.ndarray) -> float:
    """Fraction of rows where q10 > q50 or q50 > q90 before rearrangement."""
    if len(q) == 0:
        return 0.0
    crossed = (q[:, 0] > q[:, 1]) | (q[:, 1] > q[:, 2])
    return float(np.mean(crossed))


def _safe_names(names: Sequence[str]) -> list[str]:
    # LightGBM rejects some JSON-special characters in feature names.
    return [n.replace("=", "__").replace(".", "_").replace("-", "_").replace("/", "_") for n in names]
