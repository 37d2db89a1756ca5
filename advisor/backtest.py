"""Placement backtest (`omnipilot backtest`): would OmniPilot have launched the best measured arm?

On workload cells with several measured arms (DECISIONS.md §2 cell), every policy of
baselines.py picks one arm. Ground truth is the arm with the best *realized* utility: the
utility of advisor/utility.py computed from the measured tokens/s (and TTFT where measured)
instead of the predicted quantiles. OmniPilot's predictions are out-of-fold under the same
leakage-free GroupKFold by cell that `omnipilot evaluate` uses (conformal.group_kfold over
training.cell_keys), so no cell is scored by a model that trained on it; the envelope is fitted
on the training folds too, so abstention → cheapest-fit fallback happens as it would live.

Reported per policy: top-1 (the chosen arm is a best arm) and mean regret
(U* − U_chosen) / max(|U*|, cheapest compute cost of the cell), with paired bootstrap CIs over
cells (backtest_scoring.py); for the joint (GPU, TP, precision) decision, the precision decision
where it matters, per model-size band, and again with whole families held out (every arm then
low-confidence, so decide()'s fallback is what is scored). Held-out families and GPU kinds also
fill the confidence bands, which must be ordered (low worse than high).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import structlog

from omnipilot.advisor.arms import Workload, fit_arm
from omnipilot.advisor.backtest_scoring import (
    bootstrap_ci,
    confidence_bands,
    gpu_pairing,
    precision_table,
    score,
)
from omnipilot.advisor.baselines import REQUEST, Cell, CellArm, policies
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
__all__ = ["backtest_predictions", "bootstrap_ci", "build_cells", "run_backtest"]
TARGET = "tokens_per_s"
HeldOut = Literal["cell", "family", "gpu", "family_gpu"]
H200 = "H200-141GB"
# below this many cells with H200 beside another kind, the backtest cannot judge choosing an H200
H200_MIN_CELLS = 10


def h200_note(pairing: dict[str, Any]) -> str:
    n, k = pairing["cells"], pairing["cells_beside_another_gpu"]
    where = f" ({'; '.join(pairing['beside'])})" if pairing["beside"] else ""
    judged = (
        "too few to judge choosing an H200 over another kind, so H200 is judged by the paired-ratio check "
        "(H200/H100 on the paired TensorRT-LLM rows: `omnipilot evaluate --json`, key paired_ratio_h200_h100; the report plots it)"
        if k < H200_MIN_CELLS
        else "enough to judge choosing it"
    )
    return (
        f"H200: {n} multi-arm cells measure it (its TP and precision are judged there); {k} of them beside "
        f"another GPU kind{where}: {judged}."
    )


_CONF_RANK = {"high": 0, "medium": 1, "low": 2, "none": 3}


def held_out_folds(
    rows: pd.DataFrame, held_out: HeldOut, n_splits: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """GroupKFold by workload cell; one fold per family / GPU kind (that value never trained on); or
    GroupKFold by (family, GPU kind) pair, where the family and the kind were each measured, but not
    together: the envelope's medium band."""
    if held_out == "cell":
        return list(group_kfold(cell_keys(rows), n_splits))
    if held_out == "family_gpu":
        pairs: list[Hashable] = list(zip(rows["family"].astype(str), rows["gpu"].astype(str), strict=True))
        return list(group_kfold(pairs, n_splits))
    values = rows[held_out].astype(str).to_numpy()
    return [(np.flatnonzero(values != v), np.flatnonzero(values == v)) for v in sorted(set(values))]


def backtest_predictions(
    rows: pd.DataFrame, catalog: Catalog, n_splits: int, held_out: HeldOut = "cell"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: out-of-fold tokens/s quantiles (n, 3), envelope confidence, and the row's fold.
    The quantiles come from training's out-of-fold fits (training.out_of_fold); the envelope is
    fitted on each fold's training rows, as it would be live."""
    featurizer = Featurizer(FeatureSpec.from_catalog(catalog, "offset"), catalog)
    kind = base_kind_for(featurizer, TARGET)
    folds = held_out_folds(rows, held_out, n_splits)
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
        log.info("backtest.fold", held_out=held_out, fold=fold, train_rows=len(tr), test_rows=len(te))
    return q, conf, fold_of


def arm_workload(r: pd.Series) -> Workload:
    """The workload a measured row ran: its concurrency, prompt and output, KV dtype."""
    prompt, output = int(r["prompt_len"]), int(r["output_len"])
    kv_bits = 8.0 if str(r.get("kv_cache_dtype", "auto")).startswith("fp8") else 16.0
    return Workload(
        concurrency=int(r["concurrency"]),
        context=prompt + output,
        prompt_len=prompt,
        output_len=output,
        kv_bits=kv_bits,
    )


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
    work = arm_workload(r)
    tp, prec = int(r["tp"]), str(r["precision"])
    fit = fit_arm(model, gpu, tp, (prec, model.name, None), work)
    rate = rates.get(gpu.name, gpu.cost_per_gpu_hour)
    real_tok = float(np.exp(np.log(group[TARGET].astype(float)).mean()))
    pred = Quantiles(**{c: float(np.exp(np.log(group[c]).mean())) for c in ("q10", "q50", "q90")})
    ttft = pd.to_numeric(group["ttft_p50_s"], errors="coerce").dropna() if "ttft_p50_s" in group else None
    p_ok = prior.success(gpu.name, tp)
    real_ttft = (
        Quantiles(q10=float(ttft.mean()), q50=float(ttft.mean()), q90=float(ttft.mean()))
        if ttft is not None and len(ttft)
        else None
    )
    inputs = ArmInputs(
        gpu=gpu.name, tp=tp, cost_per_gpu_hour=rate, kv_occupancy=fit.kv_occupancy, p_success=p_ok,
        tokens_per_s=pred,
    )  # fmt: skip
    predicted = arm_utility(inputs, settings, runtime_h)
    # the same arm judged on what was measured instead of predicted
    measured = replace(
        inputs, tokens_per_s=Quantiles(q10=real_tok, q50=real_tok, q90=real_tok), ttft_s=real_ttft
    )
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
        pred_q=pred,
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
            spec=spec,
        )
        for _, arm_rows in g.groupby(["gpu", "tp", "precision"], sort=True):
            arm = _arm(arm_rows, catalog, rates, settings, prior, runtime_h)
            if arm is not None:
                cell.arms.append(arm)
                cell.workload = cell.workload or arm_workload(arm_rows.iloc[0])
        if cell.arms:
            cells.append(cell)
    return cells


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
    held_outs: Sequence[HeldOut] = ("cell", "family", "gpu", "family_gpu"),
) -> dict[str, Any]:
    """The whole backtest as a JSON-ready dict; `policies` is the joint decision (DECISIONS.md §8)."""
    catalog = catalog or Catalog.load()
    rows = labelled(select_training_rows(frame, TrainConfig(engines=tuple(engines)), catalog), TARGET)
    if len(set(cell_keys(rows))) < n_splits:
        raise ValueError(
            f"{len(set(cell_keys(rows)))} workload cells cannot fill {n_splits} folds: "
            "use a larger history or fewer folds (--folds)"
        )
    prior = prior or LaunchPrior([])
    y = np.log(rows[TARGET].to_numpy(dtype=float))
    regimes = []
    decided: dict[str, dict[str, Any]] = {}
    for held_out in held_outs:
        q, conf, fold_of = backtest_predictions(rows, catalog, n_splits, held_out)
        regimes.append((held_out, y, np.log(q), conf))
        if held_out in ("gpu", "family_gpu"):
            # a cell's arms on other GPU kinds were measured and trained on: not a placement test
            continue
        with_q = rows.assign(q10=q[:, 0], q50=q[:, 1], q90=q[:, 2], confidence=conf, fold=fold_of)
        cells = build_cells(with_q, catalog, rates or {}, settings, prior, runtime_h)
        multi = [c for c in cells if len(c.arms) > 1]
        pols = policies(cells, settings, prior, runtime_h)
        decided[held_out] = {"cells": cells, "joint": score(multi, pols, n_boot, seed)}
        if held_out == "cell":
            decided[held_out]["precision"] = precision_table(cells, pols, n_boot, seed)
    base = decided["cell"]
    joint, cells = base["joint"], base["cells"]
    om = joint["policies"]["omnipilot"]
    others = {k: v for k, v in joint["policies"].items() if not k.startswith("omnipilot")}
    h200 = gpu_pairing(cells, H200)
    return {
        "rows": len(rows),
        "cells_total": len(cells),
        "n_splits": n_splits,
        "runtime_h": runtime_h,
        "value_per_token": settings.value_per_token,
        "ground_truth": "best realized utility (measured tokens/s)",
        "regret_unit": "(U* - U_chosen) / max(|U*|, cheapest compute cost of the cell)",
        "request_stand_in": f"the {REQUEST.__name__} baseline's arm (a public cell records no request)",
        "cells": joint["cells"],
        "policies": joint["policies"],
        "by_band": joint["by_band"],
        "decisions": {
            "joint": joint,
            "precision": base["precision"],
            **({"held_out_family": decided["family"]["joint"]} if "family" in decided else {}),
        },
        "confidence_bands": confidence_bands(regimes),
        "h200": {**h200, "note": h200_note(h200)},
        "goal": {
            "top1_target": 0.9,
            "top1_met": bool(om["top1"] is not None and om["top1"] >= 0.9),
            "regret_below_every_baseline": bool(
                om["regret"] is not None
                and all(om["regret"] < v["regret"] for v in others.values() if v["regret"] is not None)
            ),
            # the paired bootstrap: omnipilot's regret is below each baseline's on 95 % of resamples
            "regret_below_every_baseline_ci": bool(
                others
                and all(v.get("regret_diff_ci") and v["regret_diff_ci"][1] < 0 for v in others.values())
            ),
        },
    }
