"""Fitting the cost model: which rows train it, the per-target fits and their conformal offsets.

The training set by default is every vLLM inference row of every source and GPU kind (engine and
load regime are features and envelope axes); rows of other engines stay in the history and are
excluded by configuration, with a count logged, never mixed silently (DECISIONS.md §2). Rows
whose precision is not one of the four arms (int8, w4a16, nvfp4, …) and pipeline-parallel runs
(outside the single-node scope) are excluded the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import structlog
from pydantic import BaseModel, ConfigDict, Field

from omnipilot.advisor.conformal import conformal_offset, conformity_scores, group_kfold, random_kfold
from omnipilot.advisor.envelope import Envelope
from omnipilot.advisor.features import HARDWARE_DIRECTIONS, Columns, Featurizer
from omnipilot.advisor.quantile import MIN_LABELLED_ROWS, QuantileModel, crossing_rate, rearrange
from omnipilot.catalog import PRECISIONS, SHIPPED_PRECISIONS, Catalog
from omnipilot.collectors.rows import TARGETS

log = structlog.get_logger(__name__)

BaseKind = Literal["none", "roofline_tokens", "roofline_requests", "prefill_ttft"]

# Per-target feature exclusions, fixed a priori (paper, Table B5 note), never selected inside folds.
# Cold start happens before any request: the load axes cannot cause it and would only add noise.
EXCLUSIONS: dict[str, tuple[str, ...]] = {
    "cold_start_s": ("log_concurrency", "log_prompt_len", "log_output_len", "log_kv_pressure", "log_context"),
}
# Throughput targets start from the roofline (log space) when FeatureSpec.roofline == "offset".
BASES: dict[str, BaseKind] = {"tokens_per_s": "roofline_tokens", "requests_per_s": "roofline_requests"}
# Models whose GPU enters by its numbers only (FeatureSpec.hardware == "numbers") also start TTFT
# from the prefill physics, and constrain each target to move with the hardware as physics says:
# +1 = a faster GPU never lowers it (throughput), -1 = never raises it (latency).
NUMBERS_BASES: dict[str, BaseKind] = {**BASES, "ttft_p50_s": "prefill_ttft"}
TARGET_DIRECTIONS: dict[str, int] = {"tokens_per_s": 1, "requests_per_s": 1, "ttft_p50_s": -1}
# Beyond the hardware: a longer prompt (or context) never shortens the time to the first token.
EXTRA_MONOTONE: dict[str, dict[str, int]] = {"ttft_p50_s": {"log_prompt_len": 1, "log_context": 1}}


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engines: tuple[str, ...] = ("vllm",)
    targets: tuple[str, ...] = TARGETS
    n_splits: int = Field(default=5, ge=2)
    random_fold_seed: int = 20260704


def select_training_rows(frame: pd.DataFrame, config: TrainConfig, catalog: Catalog) -> pd.DataFrame:
    """The rows the model trains on; what is left out and why is logged with counts.

    Rows of a model or GPU kind the catalogs do not describe have no size or hardware numbers to
    learn from: they stay in the history and train nothing until the catalog names them.
    """
    frame = as_shipped_precision(frame, catalog)
    keep = frame["kind"].eq("inference_run")
    known_model = frame["model"].map(lambda m: catalog.model(str(m)) is not None).astype(bool)
    known_gpu = frame["gpu"].map(lambda g: catalog.gpu(str(g)) is not None).astype(bool)
    reasons = {
        "not an inference run": ~keep,
        f"engine not in {list(config.engines)}": ~frame["engine"].isin(config.engines),
        "precision not an arm (bf16/fp8/awq/gptq) nor a model's as-shipped one": ~frame["precision"].isin(
            (*PRECISIONS, *SHIPPED_PRECISIONS)
        ),
        "pipeline parallel (multi-node scope)": frame["pp"].fillna(1).astype(float) > 1,
        "model not in etc/models.toml": ~known_model,
        "GPU kind not in etc/gpus.toml": ~known_gpu,
    }
    for why, mask in reasons.items():
        if int(mask.sum()):
            log.info("train.excluded_rows", reason=why, rows=int(mask.sum()))
        keep &= ~mask
    return frame.loc[keep].reset_index(drop=True)


def as_shipped_precision(frame: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Rows recorded as precision `other` of a model released in one non-arm precision only
    (gpt-oss: MXFP4) ran as shipped: they take that precision, so they train its as-shipped arm."""
    shipped = frame["model"].map(lambda m: getattr(catalog.model(str(m)), "shipped", None))
    relabel = frame["precision"].eq("other") & shipped.isin(SHIPPED_PRECISIONS)
    if not bool(relabel.any()):
        return frame
    log.info("train.as_shipped_rows", rows=int(relabel.sum()))
    out = frame.copy()
    out.loc[relabel, "precision"] = shipped[relabel]
    return out


def cell_keys(frame: pd.DataFrame) -> list[Hashable]:
    """Workload cell per row (DECISIONS.md §2): base model, engine, load regime, lengths, concurrency."""
    cols = ["model", "engine", "load_regime", "prompt_len", "output_len", "concurrency"]
    return [tuple(r) for r in frame[cols].astype(str).itertuples(index=False, name=None)]


def data_hash(frame: pd.DataFrame) -> str:
    """Order-independent hash of the training rows (their content hashes cover axes, targets, stack)."""
    blob = "\n".join(sorted(str(h) for h in frame["content_hash"]))
    return hashlib.sha256(blob.encode()).hexdigest()


class TargetFit(BaseModel):
    """One fitted target: boosters plus everything stored beside them."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: QuantileModel
    n_rows: int
    base: BaseKind
    base_shift: float
    base_fill: float
    offset: float
    offset_random_fold: float
    envelope: Envelope
    crossing_rate: float
    metrics: dict[str, float] = {}


class Base:
    """The per-row log-space starting point of a target (the roofline, centred on the data)."""

    def __init__(self, kind: BaseKind, featurizer: Featurizer) -> None:
        self.kind = kind
        self.featurizer = featurizer

    def raw(self, cols: Columns) -> np.ndarray | None:
        if self.kind == "none":
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.kind == "prefill_ttft":
                return np.asarray(np.log(self.featurizer.prefill(cols)), dtype=float)
            est = np.log(self.featurizer.roofline(cols))
            if self.kind == "roofline_requests":
                tokens = np.asarray(cols["prompt_len"], dtype=float) + np.asarray(
                    cols["output_len"], dtype=float
                )
                est = est - np.log(tokens)
        return np.asarray(est, dtype=float)

    def values(self, cols: Columns, shift: float, fill: float) -> np.ndarray | None:
        """Raw base + shift; where the roofline is unknown (model or GPU not in the catalog) the
        training rows' median roofline stands in (such rows are out of the envelope anyway)."""
        raw = self.raw(cols)
        if raw is None:
            return None
        return np.where(np.isfinite(raw), raw, fill) + shift


def labelled(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    y = pd.to_numeric(frame[target], errors="coerce")
    return frame.loc[y.notna() & (y > 0)].reset_index(drop=True)


def target_columns(names: Sequence[str], target: str) -> list[int]:
    skip = set(EXCLUSIONS.get(target, ()))
    return [i for i, n in enumerate(names) if n not in skip]


def monotone_constraints(featurizer: Featurizer, target: str, columns: Sequence[int]) -> list[int] | None:
    """LightGBM monotone_constraints for these columns (None: unconstrained, the older layout)."""
    sign = TARGET_DIRECTIONS.get(target)
    if featurizer.spec.hardware != "numbers" or sign is None:
        return None
    extra = EXTRA_MONOTONE.get(target, {})
    names = featurizer.names
    return [sign * HARDWARE_DIRECTIONS.get(names[i], 0) or extra.get(names[i], 0) for i in columns]


def fit_quantiles(
    featurizer: Featurizer, rows: pd.DataFrame, target: str, base_kind: BaseKind
) -> tuple[QuantileModel, float, float]:
    """Boosters for one target on these rows, and the base shift and fill they were fitted with."""
    x = featurizer.transform(rows)
    y = np.log(rows[target].to_numpy(dtype=float))
    base = Base(base_kind, featurizer)
    raw = base.raw(rows)
    shift = fill = 0.0
    if raw is not None and np.isfinite(raw).any():
        shift = float(np.nanmedian(y - raw))
        fill = float(np.nanmedian(raw))
    columns = target_columns(featurizer.names, target)
    model = QuantileModel.fit(
        x,
        y,
        columns,
        base.values(rows, shift, fill),
        featurizer.names,
        monotone=monotone_constraints(featurizer, target, columns),
    )
    return model, shift, fill


def predict_rows(
    featurizer: Featurizer, model: QuantileModel, base_kind: BaseKind, shift: float, fill: float, rows: Any
) -> np.ndarray:
    """Raw (unsorted, unconformalised) log-space quantiles for rows."""
    return model.predict_raw(
        featurizer.transform(rows), Base(base_kind, featurizer).values(rows, shift, fill)
    )


def out_of_fold(
    featurizer: Featurizer,
    rows: pd.DataFrame,
    target: str,
    base_kind: BaseKind,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Out-of-fold raw log quantiles for every row (NaN where a fold had too few rows to fit)."""
    out = np.full((len(rows), 3), np.nan)
    for train_idx, test_idx in folds:
        if len(train_idx) < MIN_LABELLED_ROWS or len(test_idx) == 0:
            continue
        tr = rows.iloc[train_idx].reset_index(drop=True)
        te = rows.iloc[test_idx].reset_index(drop=True)
        model, shift, fill = fit_quantiles(featurizer, tr, target, base_kind)
        out[test_idx] = predict_rows(featurizer, model, base_kind, shift, fill, te)
    return out


def base_kind_for(featurizer: Featurizer, target: str) -> BaseKind:
    if featurizer.spec.roofline != "offset":
        return "none"
    bases = NUMBERS_BASES if featurizer.spec.hardware == "numbers" else BASES
    return bases.get(target, "none")


def fit_target(
    featurizer: Featurizer, rows: pd.DataFrame, target: str, config: TrainConfig, *, conformal: bool = True
) -> TargetFit:
    """The full fit of one target: boosters, held-out-cell and random-fold offsets, envelope."""
    kind = base_kind_for(featurizer, target)
    model, shift, fill = fit_quantiles(featurizer, rows, target, kind)
    y = np.log(rows[target].to_numpy(dtype=float))
    offset = offset_random = 0.0
    cross = crossing_rate(predict_rows(featurizer, model, kind, shift, fill, rows))
    metrics: dict[str, float] = {}
    n_cells = len(set(cell_keys(rows)))
    if conformal and n_cells >= config.n_splits:
        grouped = out_of_fold(featurizer, rows, target, kind, group_kfold(cell_keys(rows), config.n_splits))
        randomf = out_of_fold(
            featurizer, rows, target, kind, random_kfold(len(rows), config.n_splits, config.random_fold_seed)
        )
        cross = crossing_rate(grouped[np.isfinite(grouped).all(axis=1)])
        offset = conformal_offset(conformity_scores(rearrange(grouped), y))
        offset_random = conformal_offset(conformity_scores(rearrange(randomf), y))
        metrics = point_metrics(rearrange(grouped), y)
    return TargetFit(
        model=model,
        n_rows=len(rows),
        base=kind,
        base_shift=shift,
        base_fill=fill,
        offset=offset,
        offset_random_fold=offset_random,
        envelope=Envelope.fit(rows),
        crossing_rate=cross,
        metrics=metrics,
    )


def fit_all(
    featurizer: Featurizer, frame: pd.DataFrame, config: TrainConfig, *, conformal: bool = True
) -> tuple[dict[str, TargetFit], dict[str, str]]:
    """Every target with enough labelled rows; the others with the reason they were not fitted."""
    fits: dict[str, TargetFit] = {}
    unfitted: dict[str, str] = {}
    for target in config.targets:
        rows = labelled(frame, target) if target in frame.columns else frame.iloc[0:0]
        if len(rows) < MIN_LABELLED_ROWS:
            unfitted[target] = (
                f"not predicted (no data): {len(rows)} labelled rows, {MIN_LABELLED_ROWS} needed"
            )
            log.info("train.target_skipped", target=target, rows=len(rows))
            continue
        fits[target] = fit_target(featurizer, rows, target, config, conformal=conformal)
        log.info("train.target_fitted", target=target, rows=len(rows), offset=round(fits[target].offset, 4))
    return fits, unfitted


def point_metrics(q_log: np.ndarray, y_log: np.ndarray) -> dict[str, float]:
    """MAPE of the median and R² in log space over the rows that have a prediction."""
    ok = np.isfinite(q_log).all(axis=1)
    if not ok.any():
        return {}
    pred, y = q_log[ok, 1], y_log[ok]
    mape = float(np.mean(np.abs(np.exp(pred) - np.exp(y)) / np.exp(y)))
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {"mape_held_out_cell": mape, "r2_log_held_out_cell": 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0}
