"""Placement backtest (`omnipilot backtest`): would OmniPilot have launched the best measured arm?

On workload cells with several measured arms (DECISIONS.md §2 cell), every policy of
baselines.py picks one arm. Ground truth is the arm with the best *realized* utility: the
utility of advisor/utility.py computed from the measured tokens/s (and TTFT where measured)
instead of the predicted quantiles. OmniPilot's predictions are out-of-fold under the same
leakage-free GroupKFold by cell that `omnipilot evaluate` uses (conformal.group_kfold over
training.cell_keys), so no cell is scored by a model that trained on it; the envelope is fitted
on the training folds too, so abstention → cheapest-fit fallback happens as it would live.

Reported per policy: top-1 (the chosen arm is a best arm) and mean regret
(U* − U_chosen) / max(|U*|, cheapest compute cost of the cell), with percentile bootstrap CIs
over cells; for the joint (GPU, TP, precision) decision, the precision-only decision (cells ×
GPU kind × TP with several precisions measured) and per model-size band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import structlog

from omnipilot.advisor.arms import Workload, fit_arm
from omnipilot.advisor.baselines import Cell, CellArm, Policy, policies
from omnipilot.advisor.conformal import group_kfold
from omnipilot.advisor.envelope import Envelope
from omnipilot.advisor.features import FeatureSpec, Featurizer
from omnipilot.advisor.prior import LaunchPrior
from omnipilot.advisor.quantile import MIN_LABELLED_ROWS, rearrange
from omnipilot.advisor.training import (
    TrainConfig,
    base_kind_for,
    cell_keys,
    labelled,
    out_of_fold,
    select_training_rows,
)
from omnipilot.advisor.utility import ArmInputs, Quantiles, arm_utility
from omnipilot.catalog import Catalog
from omnipilot.config import UtilitySettings

log = structlog.get_logger(__name__)
TARGET = "tokens_per_s"
BANDS: tuple[tuple[str, float, float], ...] = (
    ("<3B", 0.0, 3.0),
    ("3-9B", 3.0, 9.5),
    ("9-20B", 9.5, 20.0),
    ("20-40B", 20.0, 40.0),
    (">=40B", 40.0, 1e9),
)
_CONF_RANK = {"high": 0, "medium": 1, "low": 2, "none": 3}


def backtest_predictions(
    rows: pd.DataFrame, catalog: Catalog, n_splits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: out-of-fold tokens/s quantiles (n, 3), envelope confidence, and the row's fold.
    The quantiles come from the same out-of-fold fits as the conformal calibration (training.py)."""
    featurizer = Featurizer(FeatureSpec.from_catalog(catalog, "offset"), catalog)
    kind = base_kind_for(featurizer, TARGET)
    folds = list(group_kfold(cell_keys(rows), n_splits))
    q = np.exp(rearrange(out_of_fold(featurizer, rows, TARGET, kind, folds)))
    conf = np.array(["none"] * len(rows), dtype=object)
    fold_of = np.full(len(rows), -1)
    for fold, (tr_idx, te_idx) in enumerate(folds):
        fold_of[te_idx] = fold
        if len(tr_idx) < MIN_LABELLED_ROWS or len(te_idx) == 0:
            continue
        tr = rows.iloc[tr_idx].reset_index(drop=True)
        te = rows.iloc[te_idx].reset_index(drop=True)
        conf[te_idx] = [c for c, _ in Envelope.fit(tr).check(te)]
        log.info("backtest.fold", fold=fold, train_rows=len(tr), test_rows=len(te))
    return q, conf, fold_of


def _arm(
    group: pd.DataFrame,
    catalog: Catalog,
    rates: Mapping[str, float],
    settings: UtilitySettings,
    prior: LaunchPrior,
    runtime_h: float,
) -> CellArm | None:
    r = group.iloc[0]
    model, gpu = catalog.model(str(r["model"])), catalog.gpu(str(r["gpu"]))
    if model is None or gpu is None or not np.isfinite(group["q50"]).all():
        return None
    prompt, output = int(r["prompt_len"]), int(r["output_len"])
    kv_bits = 8.0 if str(r.get("kv_cache_dtype", "auto")).startswith("fp8") else 16.0
    work = Workload(
        concurrency=int(r["concurrency"]),
        context=prompt + output,
        prompt_len=prompt,
        output_len=output,
        kv_bits=kv_bits,
    )
    tp, prec = int(r["tp"]), str(r["precision"])
    fit = fit_arm(model, gpu, tp, (prec, model.name, None), work)
    rate = rates.get(gpu.name, gpu.cost_per_gpu_hour)
    real_tok = float(np.exp(np.log(group[TARGET].astype(float)).mean()))
    pred = Quantiles(**{c: float(np.exp(np.log(group[c]).mean())) for c in ("q10", "q50", "q90")})
    ttft = pd.to_numeric(group["ttft_p50_s"], errors="coerce").dropna() if "ttft_p50_s" in group else None
    p_ok = prior.success(gpu.name, tp)
    real_ttft = Quantiles(q10=float(ttft.mean()), q50=float(ttft.mean()), q90=float(ttft.mean())) if ttft is not None and len(ttft) else None
    inputs = ArmInputs(
        gpu=gpu.name, tp=tp, cost_per_gpu_hour=rate, kv_occupancy=fit.kv_occupancy, p_success=p_ok,
        tokens_per_s=pred,
    )  # fmt: skip
    predicted = arm_utility(inputs, settings, runtime_h)
    # the same arm judged on what was measured instead of predicted
    measured = replace(inputs, tokens_per_s=Quantiles(q10=real_tok, q50=real_tok, q90=real_tok), ttft_s=real_ttft)
    realized = arm_utility(measured, settings, runtime_h)
    confidence = max(group["confidence"].astype(str), key=lambda c: _CONF_RANK.get(c, 3))
    return CellArm(
        gpu=gpu.name,
        tp=tp,
        precision=prec,
        rate=rate,
        fit=fit,
        bf16_tflops=gpu.bf16_tflops,
        mem_bw_gbs=gpu.mem_bw_gbs,
        fp8_capable=gpu.fp8_tflops > 0,
        tokens_real=real_tok,
        tokens_pred=pred.q50,
        confidence=confidence,
        realized=realized,
        predicted=predicted,
    )


def build_cells(
    rows: pd.DataFrame,
    catalog: Catalog,
    rates: Mapping[str, float],
    settings: UtilitySettings,
    prior: LaunchPrior,
    runtime_h: float,
) -> list[Cell]:
    """Every cell with its measured arms (rows of one arm averaged in log space)."""
    rows = rows.assign(cell=pd.Series(cell_keys(rows), index=rows.index, dtype=object))
    cells: list[Cell] = []
    for key, g in rows.groupby("cell", sort=True):
        assert isinstance(key, tuple)
        r = g.iloc[0]
        spec = catalog.model(str(r["model"]))
        cell = Cell(
            key=tuple(str(k) for k in key),
            model=str(r["model"]),
            family=str(spec.family if spec else r["family"]),
            params_b=float(spec.params_b if spec else r["params_b"]),
            concurrency=int(r["concurrency"]),
            prompt_len=int(r["prompt_len"]),
            output_len=int(r["output_len"]),
            regime=f"{r['engine']}/{r['load_regime']}",
            fold=int(g["fold"].iloc[0]),
        )
        for _, arm_rows in g.groupby(["gpu", "tp", "precision"], sort=True):
            arm = _arm(arm_rows, catalog, rates, settings, prior, runtime_h)
            if arm is not None:
                cell.arms.append(arm)
        if cell.arms:
            cells.append(cell)
    return cells


def precision_cells(cells: Sequence[Cell]) -> list[Cell]:
    """Sub-cells (cell × GPU kind × TP) where several precisions were measured."""
    out: list[Cell] = []
    for c in cells:
        groups: dict[tuple[str, int], list[CellArm]] = {}
        for a in c.arms:
            groups.setdefault((a.gpu, a.tp), []).append(a)
        for (gpu, tp), arms in sorted(groups.items()):
            if len({a.precision for a in arms}) > 1:
                out.append(Cell(**{**c.__dict__, "key": (*c.key, gpu, str(tp)), "arms": arms}))
    return out


def _outcome(cell: Cell, choice: int) -> tuple[float, float]:
    """(top-1 hit, normalised regret) of one choice."""
    u = [a.realized.utility for a in cell.arms]
    best = max(u)
    scale = max(abs(best), min(a.realized.compute for a in cell.arms), 1e-9)
    hit = 1.0 if u[choice] >= best - 1e-9 * scale else 0.0
    return hit, (best - u[choice]) / scale


def _random_outcome(cell: Cell) -> tuple[float, float]:
    """Expected top-1 and regret of a uniformly random arm."""
    res = [_outcome(cell, i) for i in range(len(cell.arms))]
    return float(np.mean([h for h, _ in res])), float(np.mean([r for _, r in res]))


def bootstrap_ci(values: np.ndarray, n_boot: int, seed: int) -> list[float]:
    if len(values) == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def score(cells: Sequence[Cell], pols: Mapping[str, Policy], n_boot: int, seed: int) -> dict[str, Any]:
    """{"cells": N, "policies": {name: {top1, regret, top1_ci, regret_ci, ...}}, "by_band": {...}}."""
    hits: dict[str, np.ndarray] = {}
    regrets: dict[str, np.ndarray] = {}
    fell_back = np.zeros(len(cells))
    for name, pol in pols.items():
        res = [_outcome(c, pol(c)) for c in cells]
        hits[name], regrets[name] = np.array([h for h, _ in res]), np.array([r for _, r in res])
    rnd = [_random_outcome(c) for c in cells]
    hits["random_arm"], regrets["random_arm"] = np.array([h for h, _ in rnd]), np.array([r for _, r in rnd])
    for i, c in enumerate(cells):
        top = max(c.arms, key=lambda a: (not a.predicted.slo_excluded, a.predicted.utility))
        fell_back[i] = top.confidence == "low"
    out: dict[str, Any] = {"cells": len(cells), "policies": {}, "by_band": {}}
    for name in hits:
        out["policies"][name] = _summary(hits[name], regrets[name], n_boot, seed)
    out["policies"]["omnipilot"]["fallback_rate"] = float(fell_back.mean()) if len(cells) else float("nan")
    for band, lo, hi in BANDS:
        m = np.array([lo <= c.params_b < hi for c in cells], dtype=bool)
        if m.any():
            out["by_band"][band] = {
                "cells": int(m.sum()),
                "policies": {
                    n: {"top1": float(hits[n][m].mean()), "regret": float(regrets[n][m].mean())} for n in hits
                },
            }
    return out


def _summary(h: np.ndarray, r: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    if len(h) == 0:
        return {"top1": None, "regret": None, "top1_ci": None, "regret_ci": None}
    return {
        "top1": float(h.mean()),
        "regret": float(r.mean()),
        "top1_ci": bootstrap_ci(h, n_boot, seed),
        "regret_ci": bootstrap_ci(r, n_boot, seed + 1),
        "max_regret": float(r.max()),
    }


def run_backtest(
    frame: pd.DataFrame,
    settings: UtilitySettings,
    *,
    catalog: Catalog | None = None,
    rates: Mapping[str, float] | None = None,
    prior: LaunchPrior | None = None,
    n_splits: int = 5,
    runtime_h: float = 1.0,
    n_boot: int = 1000,
    seed: int = 20260704,
    engines: Sequence[str] = ("vllm",),
) -> dict[str, Any]:
    """The whole backtest as a JSON-ready dict; `policies` is the joint decision (DECISIONS.md §8)."""
    catalog = catalog or Catalog.load()
    rows = labelled(select_training_rows(frame, TrainConfig(engines=tuple(engines)), catalog), TARGET)
    if len(set(cell_keys(rows))) < n_splits:
        raise ValueError(
            f"{len(set(cell_keys(rows)))} workload cells cannot fill {n_splits} folds: "
            "use a larger history or fewer folds (--folds)"
        )
    q, conf, fold_of = backtest_predictions(rows, catalog, n_splits)
    rows = rows.assign(q10=q[:, 0], q50=q[:, 1], q90=q[:, 2], confidence=conf, fold=fold_of)
    cells = build_cells(rows, catalog, rates or {}, settings, prior or LaunchPrior([]), runtime_h)
    multi = [c for c in cells if len(c.arms) > 1]
    pols = policies(cells)
    joint = score(multi, pols, n_boot, seed)
    precision = score(precision_cells(cells), pols, n_boot, seed)
    om = joint["policies"]["omnipilot"]
    baselines = [v["regret"] for k, v in joint["policies"].items() if not k.startswith("omnipilot")]
    return {
        "rows": len(rows),
        "cells_total": len(cells),
        "n_splits": n_splits,
        "runtime_h": runtime_h,
        "value_per_token": settings.value_per_token,
        "ground_truth": "best realized utility (measured tokens/s)",
        "regret_unit": "(U* - U_chosen) / max(|U*|, cheapest compute cost of the cell)",
        "cells": joint["cells"],
        "policies": joint["policies"],
        "by_band": joint["by_band"],
        "decisions": {"joint": joint, "precision": precision},
        "goal": {
            "top1_target": 0.9,
            "top1_met": bool(om["top1"] is not None and om["top1"] >= 0.9),
            "regret_below_every_baseline": bool(
                om["regret"] is not None and all(om["regret"] < b for b in baselines if b is not None)
            ),
        },
    }
