"""Conformalized quantile regression (CQR, Romano et al. 2019) with grouped cross-conformal offsets.

The offset is a per-target additive log-space widening of [q10, q90], sized as the conformal
quantile of out-of-fold conformity scores max(q10 - y, y - q90). Which folds produce those scores
matters: with random folds a test row's workload cell is also in training, so residuals are
optimistic and the offset too small for an unseen cell. Grouping folds by workload cell
(DECISIONS.md §2) sizes it for the case the advisor faces. Both are computed; the held-out-cell
one is stored with the model.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np

NOMINAL_COVERAGE = 0.8

Fold = tuple[np.ndarray, np.ndarray]


def group_kfold(groups: Sequence[Hashable], n_splits: int) -> list[Fold]:
    """Folds where no group is split: largest groups first, each to the currently lightest fold.

    Deterministic (ties broken by the group's first appearance), like scikit-learn's GroupKFold.
    """
    keys, inverse = _factorize(groups)
    if len(keys) < n_splits:
        raise ValueError(f"{len(keys)} groups cannot fill {n_splits} folds; use fewer folds or more data")
    sizes = np.bincount(inverse, minlength=len(keys))
    order = sorted(range(len(keys)), key=lambda g: (-sizes[g], g))
    load = np.zeros(n_splits, dtype=int)
    fold_of_group = np.empty(len(keys), dtype=int)
    for g in order:
        f = int(np.argmin(load))
        fold_of_group[g] = f
        load[f] += sizes[g]
    fold_of_row: np.ndarray = fold_of_group[inverse]
    return [(np.flatnonzero(fold_of_row != f), np.flatnonzero(fold_of_row == f)) for f in range(n_splits)]


def random_kfold(n: int, n_splits: int, seed: int) -> list[Fold]:
    """Plain shuffled K-fold (rows of one cell land on both sides: the optimistic baseline)."""
    if n < n_splits:
        raise ValueError(f"{n} rows cannot fill {n_splits} folds")
    perm = np.random.default_rng(seed).permutation(n)
    fold_of_row = np.empty(n, dtype=int)
    fold_of_row[perm] = np.arange(n) % n_splits
    return [(np.flatnonzero(fold_of_row != f), np.flatnonzero(fold_of_row == f)) for f in range(n_splits)]


def conformity_scores(q: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CQR scores on log-space (n, 3) quantiles: how far y lies outside [q10, q90] (negative inside)."""
    return np.asarray(np.maximum(q[:, 0] - y, y - q[:, 2]), dtype=float)


def conformal_offset(scores: np.ndarray, coverage: float = NOMINAL_COVERAGE) -> float:
    """The finite-sample conformal quantile: level ceil((n+1)·coverage)/n of the scores."""
    s = np.asarray(scores, dtype=float)
    s = s[np.isfinite(s)]
    if len(s) == 0:
        return 0.0
    level = min(1.0, math.ceil((len(s) + 1) * coverage) / len(s))
    return float(np.quantile(s, level, method="higher"))


def apply_offset(q: np.ndarray, offset: float | np.ndarray) -> np.ndarray:
    """Widen (or narrow, for a negative offset) [q10, q90] by `offset` in log space; q50 stays.

    A negative offset never pushes an outer quantile past the median.
    """
    out = q.copy()
    out[:, 0] = np.minimum(q[:, 0] - offset, q[:, 1])
    out[:, 2] = np.maximum(q[:, 2] + offset, q[:, 1])
    return out


def coverage(q: np.ndarray, y: np.ndarray) -> float:
    """Fraction of y inside [q10, q90]."""
    if len(y) == 0:
        return math.nan
    return float(np.mean((y >= q[:, 0]) & (y <= q[:, 2])))


def _factorize(groups: Sequence[Hashable]) -> tuple[list[Hashable], np.ndarray]:
    index: dict[Hashable, int] = {}
    inverse = np.empty(len(groups), dtype=int)
    for i, g in enumerate(groups):
        inverse[i] = index.setdefault(g, len(index))
    return list(index), inverse
