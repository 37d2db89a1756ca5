"""How the placement backtest scores policies: outcomes per cell, paired bootstrap intervals, the
precision decision where it matters, and the confidence bands of held-out predictions.

Every interval is a 95 % percentile bootstrap that resamples cells (seeded); all policies share
the resampled cells, so the difference of two policies has its own interval. `random_arm` draws a
uniformly random arm inside each resample, so its interval carries the pick's own randomness too
(a mean of per-cell expectations has no width where every cell has two arms).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from omnipilot.advisor.baselines import Cell, CellArm, OmniPilot, Policy

BANDS: tuple[tuple[str, float, float], ...] = (
    ("<3B", 0.0, 3.0),
    ("3-9B", 3.0, 9.5),
    ("9-20B", 9.5, 20.0),
    ("20-40B", 20.0, 40.0),
    (">=40B", 40.0, 1e9),
)
CONFIDENCE_BANDS = ("high", "medium", "low")
# a precision sub-cell counts when taking the best arm of the wrong precision costs >= this regret
PRECISION_MATTERS = 0.05
# a confidence band takes part in the ordering check only with this many held-out rows
MIN_BAND_ROWS = 20


def arm_outcomes(cell: Cell) -> tuple[np.ndarray, np.ndarray]:
    """(top-1 hit, normalised regret) of every arm of a cell."""
    u = np.array([a.realized.utility for a in cell.arms])
    best = float(u.max())
    scale = max(abs(best), min(a.realized.compute for a in cell.arms), 1e-9)
    return (u >= best - 1e-9 * scale).astype(float), (best - u) / scale


def bootstrap_ci(values: np.ndarray, n_boot: int, seed: int) -> list[float]:
    if len(values) == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return _ci(means)


def _ci(means: np.ndarray) -> list[float]:
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def policy_outcomes(
    cells: Sequence[Cell], pols: Mapping[str, Policy]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per policy: (hits, regrets) per cell; random_arm as the expectation over a cell's arms."""
    per_cell = [arm_outcomes(c) for c in cells]
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, pol in pols.items():
        picks = [pol(c) for c in cells]
        out[name] = (
            np.array([h[i] for (h, _), i in zip(per_cell, picks, strict=True)]),
            np.array([r[i] for (_, r), i in zip(per_cell, picks, strict=True)]),
        )
    out["random_arm"] = (np.array([h.mean() for h, _ in per_cell]), np.array([r.mean() for _, r in per_cell]))
    return out


def score(
    cells: Sequence[Cell],
    pols: Mapping[str, Policy],
    n_boot: int,
    seed: int,
    outcomes: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """{"cells", "policies": {name: {top1, regret, *_ci, regret_diff_ci}}, "by_band", "by_confidence"}."""
    res = outcomes if outcomes is not None else policy_outcomes(cells, pols)
    out: dict[str, Any] = {"cells": len(cells), "policies": {}, "by_band": {}, "by_confidence": {}}
    n = len(cells)
    if n == 0:
        out["policies"] = {k: _empty() for k in res}
        return out
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    pick = rng.random((n_boot, n))
    boots: dict[str, tuple[np.ndarray, np.ndarray]] = {
        k: (h[idx].mean(axis=1), r[idx].mean(axis=1)) for k, (h, r) in res.items() if k != "random_arm"
    }
    boots["random_arm"] = _random_boot(cells, idx, pick)
    om = boots.get("omnipilot")
    for name, (h, r) in res.items():
        bh, br = boots[name]
        m: dict[str, Any] = {
            "top1": float(h.mean()),
            "regret": float(r.mean()),
            "top1_ci": _ci(bh),
            "regret_ci": _ci(br),
            "max_regret": float(r.max()),
        }
        if om is not None and name != "omnipilot":
            # paired: omnipilot's regret minus this policy's, on the same resampled cells
            m["regret_diff_ci"] = _ci(om[1] - br)
        out["policies"][name] = m
    omni = pols.get("omnipilot")
    if isinstance(omni, OmniPilot):
        out["policies"]["omnipilot"] |= fallback_rates(cells, omni)
        chosen_conf = [c.arms[omni(c)].confidence for c in cells]
        for band in (*CONFIDENCE_BANDS, "none"):
            mask = np.array([x == band for x in chosen_conf])
            if mask.any():
                h, r = res["omnipilot"]
                out["by_confidence"][band] = {"cells": int(mask.sum()), "top1": float(h[mask].mean()),
                                              "regret": float(r[mask].mean())}  # fmt: skip
    for band, lo, hi in BANDS:
        mask = np.array([lo <= c.params_b < hi for c in cells], dtype=bool)
        if mask.any():
            out["by_band"][band] = {
                "cells": int(mask.sum()),
                "policies": {k: {"top1": float(h[mask].mean()), "regret": float(r[mask].mean())} for k, (h, r) in res.items()},
            }  # fmt: skip
    return out


def _empty() -> dict[str, Any]:
    return {"top1": None, "regret": None, "top1_ci": None, "regret_ci": None}


def _random_boot(cells: Sequence[Cell], idx: np.ndarray, pick: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap means of a policy that picks a uniformly random arm in each resampled cell."""
    width = max(len(c.arms) for c in cells)
    hits = np.zeros((len(cells), width))
    regs = np.zeros((len(cells), width))
    n_arms = np.array([len(c.arms) for c in cells])
    for i, c in enumerate(cells):
        h, r = arm_outcomes(c)
        hits[i, : len(h)], regs[i, : len(r)] = h, r
    arm = np.minimum((pick * n_arms[idx]).astype(int), n_arms[idx] - 1)
    return hits[idx, arm].mean(axis=1), regs[idx, arm].mean(axis=1)


def fallback_rates(cells: Sequence[Cell], omni: OmniPilot) -> dict[str, float]:
    """How often decide()'s fallback fired, and how often it kept the stand-in request."""
    fell = kept = 0
    for c in cells:
        d, chosen, asked = omni.decision(c)
        if d.abstained:
            fell += 1
            kept += int(asked is not None and chosen == asked)
    n = len(cells)
    return {"fallback_rate": fell / n, "kept_request_rate": kept / n}


# --- the precision decision -----------------------------------------------------------------------


def precision_cells(cells: Sequence[Cell]) -> list[Cell]:
    """Sub-cells (cell × GPU kind) where several precisions were measured; TP stays free, since a
    quantized arm usually runs on fewer GPUs: "which precision on this GPU kind" as a site decides it."""
    out: list[Cell] = []
    for c in cells:
        groups: dict[str, list[CellArm]] = {}
        for a in c.arms:
            groups.setdefault(a.gpu, []).append(a)
        for gpu, arms in sorted(groups.items()):
            if len({a.precision for a in arms}) > 1:
                out.append(Cell(**{**c.__dict__, "key": (*c.key, gpu), "arms": arms}))
    return out


def precision_gap(cell: Cell) -> float:
    """Regret of the best arm of the worst precision: what a wrong precision choice costs here."""
    _, regrets = arm_outcomes(cell)
    best_by_prec: dict[str, float] = {}
    for a, r in zip(cell.arms, regrets, strict=True):
        best_by_prec[a.precision] = min(best_by_prec.get(a.precision, np.inf), float(r))
    return max(best_by_prec.values())


def precision_table(
    cells: Sequence[Cell], pols: Mapping[str, Policy], n_boot: int, seed: int
) -> dict[str, Any]:
    """Every policy on the precision sub-cells where the choice matters, and how many of them tell
    policies apart (some policy right and another wrong): a table of cells every policy gets right,
    or wrong, cannot fail anyone."""
    subs = precision_cells(cells)
    matters = [c for c in subs if precision_gap(c) >= PRECISION_MATTERS]
    res = policy_outcomes(matters, pols)
    out = score(matters, pols, n_boot, seed, res)
    named = [k for k in res if k != "random_arm"]
    hits = np.array([res[k][0] for k in named]) if matters else np.zeros((len(named), 0))
    split = (hits.max(axis=0) > hits.min(axis=0)) if matters else np.zeros(0, dtype=bool)
    best = Counter(c.arms[c.best_realized()].precision for c in matters)
    om = res.get("omnipilot")
    out |= {
        "candidates": len(subs),
        "matters_threshold": PRECISION_MATTERS,
        "discriminating": int(split.sum()),
        "discriminating_frac": float(split.mean()) if len(split) else float("nan"),
        "best_precision": dict(sorted(best.items())),
        "separated_from_omnipilot": {
            k: int(np.sum(res[k][0] != om[0])) for k in named if om is not None and k != "omnipilot"
        },
        "models": sorted({c.model for c in matters}),
    }
    return out


# --- confidence bands -----------------------------------------------------------------------------


def confidence_bands(regimes: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Held-out prediction error by the envelope's confidence, pooled over the held-out regimes
    (name, y_log, raw log quantiles (n, 3), confidence): held-out cells mostly land in high, held-out
    families and GPU kinds in low, which is what fills the bands. Ordered means each populated
    band's MAPE is at least the previous (more confident) one's."""
    names = [n for n, *_ in regimes]
    y = np.concatenate([r[1] for r in regimes])
    q = np.concatenate([r[2] for r in regimes])
    conf = np.concatenate([r[3] for r in regimes]).astype(str)
    regime = np.concatenate([[n] * len(r[1]) for n, *r in regimes])
    ok = np.isfinite(q).all(axis=1)
    bands: dict[str, Any] = {}
    for band in CONFIDENCE_BANDS:
        m = ok & (conf == band)
        qq, yy = np.sort(q[m], axis=1), y[m]
        bands[band] = {
            "n": int(m.sum()),
            "by_held_out": {n: int(np.sum(m & (regime == n))) for n in names},
            "mape": float(np.mean(np.abs(np.exp(qq[:, 1] - yy) - 1))) if m.any() else float("nan"),
            "coverage_80_raw": float(np.mean((qq[:, 0] <= yy) & (yy <= qq[:, 2])))
            if m.any()
            else float("nan"),
        }
    populated = [b for b in CONFIDENCE_BANDS if bands[b]["n"] >= MIN_BAND_ROWS]
    mapes = [bands[b]["mape"] for b in populated]
    ordered = len(populated) >= 2 and all(a <= b for a, b in pairwise(mapes))
    return {
        "bands": bands,
        "held_out": names,
        "populated": populated,
        "ordered": bool(ordered),
        "low_worse_than_high": bool(
            bands["low"]["n"] >= MIN_BAND_ROWS
            and bands["high"]["n"] >= MIN_BAND_ROWS
            and bands["low"]["mape"] > bands["high"]["mape"]
        ),
        "unpredicted_rows": int((~ok).sum()),
    }


# --- H200 -------------------------------------------------------------------------------------------


def gpu_pairing(cells: Sequence[Cell], gpu: str) -> dict[str, Any]:
    """How many multi-arm cells measure `gpu` (there its TP and precision are judged), and how many
    beside another GPU kind (the only cells in which choosing that kind at all is judged)."""
    with_gpu = [c for c in cells if len(c.arms) > 1 and any(a.gpu == gpu for a in c.arms)]
    beside = [c for c in with_gpu if len({a.gpu for a in c.arms}) > 1]
    return {
        "gpu": gpu,
        "cells": len(with_gpu),
        "cells_beside_another_gpu": len(beside),
        "beside": [f"{c.model} ({', '.join(sorted({a.gpu for a in c.arms}))})" for c in beside],
    }
