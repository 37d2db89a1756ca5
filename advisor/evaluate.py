"""Leakage-free evaluation of the cost model (`omnipilot evaluate`), the paper's tables on our data.

Every number comes from predicting workload cells the model did not train on (GroupKFold by cell,
DECISIONS.md §2). Conformal offsets are sized *inside* each outer training fold (a nested grouped
cross-conformal split, paper App. C.3), so the coverage reported is measured on cells disjoint
from those that sized the offset: the held-out-cell offset from inner grouped folds, the
random-fold offset from inner shuffled folds. The envelope is fitted on the outer training fold
too, so abstention is judged as it would be at prediction time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import structlog

from omnipilot.advisor.ablation import load_regime_ablation
from omnipilot.advisor.conformal import (
    apply_offset,
    conformal_offset,
    conformity_scores,
    coverage,
    group_kfold,
    random_kfold,
)
from omnipilot.advisor.envelope import Envelope
from omnipilot.advisor.features import FeatureSpec, Featurizer, HardwareMode, RooflineMode
from omnipilot.advisor.paired_ratio import check_layout
from omnipilot.advisor.physics_targets import PHYSICS_TARGETS, physics_report
from omnipilot.advisor.quantile import MIN_LABELLED_ROWS, crossing_rate, rearrange
from omnipilot.advisor.training import (
    TrainConfig,
    base_kind_for,
    cell_keys,
    fit_quantiles,
    labelled,
    out_of_fold,
    physics_spec,
    predict_rows,
    select_training_rows,
)
from omnipilot.catalog import Catalog

log = structlog.get_logger(__name__)
PRIMARY = "tokens_per_s"


class Oof:
    """Out-of-fold results of one target under outer GroupKFold."""

    def __init__(self, n: int) -> None:
        self.raw = np.full((n, 3), np.nan)
        self.off_cell = np.full(n, np.nan)
        self.off_random = np.full(n, np.nan)
        self.confidence = np.array(["none"] * n, dtype=object)

    @property
    def ok(self) -> np.ndarray:
        return np.asarray(np.isfinite(self.raw).all(axis=1))


def nested_cv(featurizer: Featurizer, rows: pd.DataFrame, target: str, config: TrainConfig) -> Oof:
    kind = base_kind_for(featurizer, target)
    res = Oof(len(rows))
    for fold, (tr_idx, te_idx) in enumerate(group_kfold(cell_keys(rows), config.n_splits)):
        tr = rows.iloc[tr_idx].reset_index(drop=True)
        te = rows.iloc[te_idx].reset_index(drop=True)
        if len(tr) < MIN_LABELLED_ROWS:
            continue
        model, shift, fill = fit_quantiles(featurizer, tr, target, kind)
        res.raw[te_idx] = predict_rows(featurizer, model, kind, shift, fill, te)
        y_tr = np.log(tr[target].to_numpy(dtype=float))
        if len(set(cell_keys(tr))) >= config.n_splits:
            inner_cell = out_of_fold(
                featurizer, tr, target, kind, group_kfold(cell_keys(tr), config.n_splits)
            )
            inner_rand = out_of_fold(
                featurizer,
                tr,
                target,
                kind,
                random_kfold(len(tr), config.n_splits, config.random_fold_seed + fold),
            )
            res.off_cell[te_idx] = conformal_offset(conformity_scores(rearrange(inner_cell), y_tr))
            res.off_random[te_idx] = conformal_offset(conformity_scores(rearrange(inner_rand), y_tr))
        res.confidence[te_idx] = [c for c, _ in Envelope.fit(tr).check(te)]
    return res


def _mape(pred_log: np.ndarray, y_log: np.ndarray) -> float:
    if len(y_log) == 0:
        return float("nan")
    return float(np.mean(np.abs(np.exp(pred_log) - np.exp(y_log)) / np.exp(y_log)))


def _r2(pred: np.ndarray, y: np.ndarray) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot if ss_tot > 0 else float("nan")


def _rel_width(q: np.ndarray) -> float:
    """Mean (q90 - q10) / q50 in target units."""
    return float(np.mean((np.exp(q[:, 2]) - np.exp(q[:, 0])) / np.exp(q[:, 1]))) if len(q) else float("nan")


def target_metrics(oof: Oof, y: np.ndarray) -> dict[str, Any]:
    """The DECISIONS.md §8 block for one target, on in-envelope (not low) held-out-cell rows."""
    ok = oof.ok & np.isfinite(oof.off_cell)
    q = rearrange(oof.raw[ok])
    yy, conf = y[ok], oof.confidence[ok]
    q_cell = apply_offset(q, oof.off_cell[ok])
    q_rand = apply_offset(q, oof.off_random[ok])
    inside = conf != "low"
    w_cell, w_rand = _rel_width(q_cell[inside]), _rel_width(q_rand[inside])
    bands = {}
    for band in ("high", "medium", "low"):
        m = conf == band
        bands[band] = {
            "n": int(m.sum()),
            "mape": _mape(q[m, 1], yy[m]),
            "coverage_80": coverage(q_cell[m], yy[m]),
            "width": _rel_width(q_cell[m]),
        }
    return {
        "n_rows": len(y),
        "n_predicted": int(ok.sum()),
        "mape": _mape(q[inside, 1], yy[inside]),
        "mape_all": _mape(q[:, 1], yy),
        "median_ape": float(np.median(np.abs(np.exp(q[inside, 1] - yy[inside]) - 1)))
        if inside.any()
        else float("nan"),
        "r2_log": _r2(q[inside, 1], yy[inside]),
        "coverage_80": {
            "held_out_cell": coverage(q_cell[inside], yy[inside]),
            "random_fold": coverage(q_rand[inside], yy[inside]),
        },
        "width_ratio": w_cell / w_rand if w_rand > 0 else float("nan"),
        "interval_width": {"held_out_cell": w_cell, "random_fold": w_rand},
        "abstain_rate": float(np.mean(conf == "low")) if len(conf) else float("nan"),
        "flag_rate": float(np.mean(conf != "high")) if len(conf) else float("nan"),
        "crossing_rate": crossing_rate(oof.raw[ok]),
        "offsets": {
            "held_out_cell": float(np.nanmean(oof.off_cell)),
            "random_fold": float(np.nanmean(oof.off_random)),
        },
        "confidence_bands": bands,
    }


def leave_one_out(
    featurizer: Featurizer, rows: pd.DataFrame, axis: str, target: str = PRIMARY
) -> dict[str, Any]:
    """Hold out each family (or GPU kind) in turn: error and how often its rows are flagged."""
    kind = base_kind_for(featurizer, target)
    out: dict[str, Any] = {}
    for value in sorted(rows[axis].dropna().astype(str).unique()):
        test = rows[axis].astype(str) == value
        tr, te = rows[~test].reset_index(drop=True), rows[test].reset_index(drop=True)
        if len(tr) < MIN_LABELLED_ROWS:
            continue
        model, shift, fill = fit_quantiles(featurizer, tr, target, kind)
        q = rearrange(predict_rows(featurizer, model, kind, shift, fill, te))
        conf = np.array([c for c, _ in Envelope.fit(tr).check(te)])
        y = np.log(te[target].to_numpy(dtype=float))
        out[value] = {
            "n": len(te),
            "mape": _mape(q[:, 1], y),
            "flag_rate": float(np.mean(conf != "high")),
            "abstain_rate": float(np.mean(conf == "low")),
        }
    return out


def learning_curve(
    featurizer: Featurizer,
    rows: pd.DataFrame,
    config: TrainConfig,
    sizes: Sequence[int],
    seeds: int,
    target: str = PRIMARY,
) -> list[dict[str, Any]]:
    """Training rows subsampled, scored on held-out cells (Fig. 3): mean over seeds and folds."""
    kind = base_kind_for(featurizer, target)
    folds = group_kfold(cell_keys(rows), config.n_splits)
    curve = []
    for size in sizes:
        r2s, apes = [], []
        for seed in range(seeds):
            rng = np.random.default_rng(1000 + seed)
            for tr_idx, te_idx in folds:
                if size > len(tr_idx):
                    continue
                tr = rows.iloc[np.sort(rng.choice(tr_idx, size=size, replace=False))].reset_index(drop=True)
                te = rows.iloc[te_idx].reset_index(drop=True)
                model, shift, fill = fit_quantiles(featurizer, tr, target, kind)
                pred = predict_rows(featurizer, model, kind, shift, fill, te)[:, 1]
                y = np.log(te[target].to_numpy(dtype=float))
                r2s.append(_r2(pred, y))
                apes.append(float(np.median(np.abs(np.exp(pred - y) - 1))))
        if r2s:
            curve.append(
                {
                    "rows": size,
                    "r2_log": float(np.mean(r2s)),
                    "median_ape": float(np.mean(apes)),
                    "fits": len(r2s),
                }
            )
    return curve


def roofline_ablation(
    catalog: Catalog, rows: pd.DataFrame, config: TrainConfig, target: str = PRIMARY
) -> dict[str, dict[str, float]]:
    """Held-out-cell error of the primary target with the physics as offset, as feature, and without."""
    out: dict[str, dict[str, float]] = {}
    modes: tuple[RooflineMode, ...] = ("none", "feature", "offset")
    for mode in modes:
        feat = physics_spec(Featurizer(FeatureSpec.from_catalog(catalog, mode), catalog), rows)
        kind = base_kind_for(feat, target)
        folds = group_kfold(cell_keys(rows), config.n_splits)
        oof = out_of_fold(feat, rows, target, kind, folds)
        y = np.log(rows[target].to_numpy(dtype=float))
        entry = {"mape": _mape(oof[:, 1], y), "r2_log": _r2(oof[:, 1], y)}
        # leave-one-GPU-kind-out is where the physics should help most
        for gpu, res in leave_one_out(feat, rows, "gpu", target).items():
            entry[f"leave_out_gpu_mape[{gpu}]"] = res["mape"]
        out[mode] = entry
    return out


def hardware_ablation(
    catalog: Catalog, frame: pd.DataFrame, rows: pd.DataFrame, config: TrainConfig, target: str = PRIMARY
) -> dict[str, dict[str, Any]]:
    """Held-out-cell and leave-one-GPU-out error of the primary target per hardware layout (issue 15:
    with and without the physics), and each layout's H200 ÷ H100 ratio on the paired rows."""
    out: dict[str, dict[str, Any]] = {}
    layouts: tuple[HardwareMode, ...] = ("identity", "numbers", "physics")
    for hardware in layouts:
        feat = physics_spec(Featurizer(FeatureSpec.from_catalog(catalog, "offset", hardware), catalog), rows)
        kind = base_kind_for(feat, target)
        oof = rearrange(out_of_fold(feat, rows, target, kind, group_kfold(cell_keys(rows), config.n_splits)))
        y = np.log(rows[target].to_numpy(dtype=float))
        ratio = check_layout(frame, catalog, config, hardware)
        out[hardware] = {
            "mape": _mape(oof[:, 1], y),
            "r2_log": _r2(oof[:, 1], y),
            "leave_one_gpu_out_mape": {g: r["mape"] for g, r in leave_one_out(feat, rows, "gpu", target).items()},
            "h200_h100_ratio": {k: v for k, v in ratio.items() if k != "by_arm"},
        }
    return out


def evaluate(
    frame: pd.DataFrame,
    *,
    catalog: Catalog | None = None,
    config: TrainConfig | None = None,
    roofline: RooflineMode = "offset",
    quick: bool = False,
    hardware: HardwareMode = "physics",
) -> dict[str, Any]:
    """The whole evaluation as a JSON-ready dict (DECISIONS.md §8 shape under "targets")."""
    catalog = catalog or Catalog.load()
    config = config or TrainConfig()
    rows = select_training_rows(frame, config, catalog)
    featurizer = physics_spec(Featurizer(FeatureSpec.from_catalog(catalog, roofline, hardware), catalog), rows)
    report: dict[str, Any] = {
        "rows": len(rows),
        "roofline": roofline,
        "hardware": hardware,
        "n_splits": config.n_splits,
        "targets": {},
    }
    for target in config.targets:
        lab = labelled(rows, target) if target in rows.columns else rows.iloc[0:0]
        if len(lab) < MIN_LABELLED_ROWS or len(set(cell_keys(lab))) < config.n_splits:
            report["targets"][target] = {
                "n_rows": len(lab),
                "n_labelled": len(lab),
                "source": "none",
                "fitted": False,
                "reason": "not predicted (no data): too few labelled rows or cells",
            }
            if target in PHYSICS_TARGETS:  # a decision target answered by physics until rows train it
                report["targets"][target].update(physics_report(catalog, lab, target))
            continue
        oof = nested_cv(featurizer, lab, target, config)
        report["targets"][target] = {
            "fitted": True,
            "n_labelled": len(lab),
            "source": "trees",
            **target_metrics(oof, np.log(lab[target].to_numpy(dtype=float))),
        }
        log.info("evaluate.target", target=target, mape=report["targets"][target]["mape"])
    prim = labelled(rows, PRIMARY)
    report["leave_one_family_out"] = leave_one_out(featurizer, prim, "family")
    report["leave_one_gpu_out"] = leave_one_out(featurizer, prim, "gpu")
    sizes = [s for s in (25, 50, 100, 200, 400, 800, 1600) if s < len(prim) * 0.8]
    report["learning_curve"] = learning_curve(
        featurizer, prim, config, sizes[:4] if quick else sizes, 2 if quick else 3
    )
    if not quick:
        report["roofline_ablation"] = roofline_ablation(catalog, prim, config)
        report["load_regime_ablation"] = load_regime_ablation(featurizer, prim, config, PRIMARY)
        report["hardware_ablation"] = hardware_ablation(catalog, frame, prim, config)
    # H200 has no public vLLM cell beside another kind: its ratio to H100 is judged on the paired
    # TensorRT-LLM rows instead (advisor/paired_ratio.py)
    report["paired_ratio_h200_h100"] = check_layout(frame, catalog, config, hardware)
    report["flagging"] = _flagging_summary(report)
    return report


def _flagging_summary(report: dict[str, Any]) -> dict[str, float]:
    """Held-out families / GPU kinds flagged (not high) vs in-envelope held-out cells."""
    prim = report["targets"].get(PRIMARY, {})
    base = prim.get("flag_rate", float("nan"))

    def mean_rate(block: dict[str, Any]) -> float:
        n = sum(v["n"] for v in block.values())
        return sum(v["flag_rate"] * v["n"] for v in block.values()) / n if n else float("nan")

    return {
        "held_out_cell_flag_rate": base,
        "held_out_family_flag_rate": mean_rate(report["leave_one_family_out"]),
        "held_out_gpu_flag_rate": mean_rate(report["leave_one_gpu_out"]),
    }
