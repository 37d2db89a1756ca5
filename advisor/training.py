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
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import structlog
from pydantic import BaseModel, ConfigDict, Field

from omnipilot.advisor.conformal import conformal_offset, conformity_scores, group_kfold, random_kfold
from omnipilot.advisor.envelope import Envelope
from omnipilot.advisor.features import (
    DOMINANCE_PREFIX,
    HARDWARE_DIRECTIONS,
    PHYSICS_CONSTRAINED,
    Columns,
    Featurizer,
    arm_groups,
    take_head,
    take_rows,
    text_column,
)
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
# Models whose GPU enters by its numbers (FeatureSpec.hardware "numbers" or "physics") also start TTFT
# from the prefill physics, and constrain each target to move with the hardware as physics says:
# +1 = a faster GPU never lowers it (throughput), -1 = never raises it (latency).
NUMBERS_BASES: dict[str, BaseKind] = {**BASES, "ttft_p50_s": "prefill_ttft"}
TARGET_DIRECTIONS: dict[str, int] = {"tokens_per_s": 1, "requests_per_s": 1, "ttft_p50_s": -1}
# How far below (log space) the best prediction of a slower GPU kind a faster one may stay: the
# physics test allows 5 %; 4 % keeps rounding on the right side of it.
ORDER_SLACK_LOG = float(np.log(0.96))
# The target a base belongs to, for callers that name the base only.
_TARGET_OF_BASE: dict[str, str] = {
    "roofline_tokens": "tokens_per_s",
    "roofline_requests": "requests_per_s",
    "prefill_ttft": "ttft_p50_s",
}
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
            # no base: the shift alone (0 but for constrained fits, see fit_quantiles)
            return None if shift == 0.0 else np.full(len(cols["model"]), shift)
        return np.where(np.isfinite(raw), raw, fill) + shift


# A pair of GPU kinds leaves the hardware order when the measured rows put the faster one below
# 0.95 x the slower in at least this share of the workload cells (same arm) measured on both, and
# in at least ORDER_EXCEPTION_MIN_CELLS of them.
ORDER_EXCEPTION_SHARE = 0.10
ORDER_EXCEPTION_MIN_CELLS = 5


def order_exceptions(
    featurizer: Featurizer, rows: pd.DataFrame, target: str = "tokens_per_s"
) -> list[tuple[str, str]]:
    """(faster, slower) kind pairs whose order the measured rows contradict (the spec's
    `order_exceptions`): on the public data, MI300X below MI250 in 13 % of their shared cells."""
    lab = labelled(rows, target) if target in rows.columns else rows.iloc[0:0]
    if lab.empty:
        return []
    keys = ["model", "engine", "load_regime", "prompt_len", "output_len", "concurrency", "tp", "precision"]
    per = lab.assign(gpu=lab["gpu"].map(featurizer.gpu_name)).astype({k: str for k in keys})
    per = per.groupby([*keys, "gpu"], sort=True)[target].median().reset_index()
    pairs = per.merge(per, on=keys, suffixes=("_a", "_b"))
    pairs = pairs.loc[pairs["gpu_a"] != pairs["gpu_b"]]
    out: list[tuple[str, str]] = []
    for (a, b), group in pairs.groupby(["gpu_a", "gpu_b"], sort=True):
        if not featurizer.at_least(str(a), str(b)) or len(group) < ORDER_EXCEPTION_MIN_CELLS:
            continue
        slower = (group[f"{target}_a"] < 0.95 * group[f"{target}_b"]).mean()
        if slower >= ORDER_EXCEPTION_SHARE:
            out.append((str(a), str(b)))
    return out


def physics_spec(featurizer: Featurizer, rows: pd.DataFrame) -> Featurizer:
    """The featurizer with the order exceptions these rows measure (the physics layout only)."""
    if featurizer.spec.hardware != "physics":
        return featurizer
    found = tuple(order_exceptions(featurizer, rows))
    if found:
        log.info("train.order_exceptions", pairs=[f"{a} > {b}" for a, b in found])
    bounds = tuple(efficiency_bounds(featurizer, rows))
    update = {"order_exceptions": found, "efficiency_bounds": bounds}
    return Featurizer(featurizer.spec.model_copy(update=update), featurizer.catalog)


def efficiency_bounds(featurizer: Featurizer, rows: pd.DataFrame) -> list[tuple[str, float, float]]:
    """Per ordered target, the least and most log(measured ÷ base) of the rows: the efficiencies
    measured. A kind with no rows of its own can get any correction from the trees (seen: 23x its
    roofline on synthetic rows); lifting a faster kind to it would carry that error over."""
    out: list[tuple[str, float, float]] = []
    for target in TARGET_DIRECTIONS:
        lab = labelled(rows, target) if target in rows.columns else rows.iloc[0:0]
        raw = Base(NUMBERS_BASES.get(target, "none"), featurizer).raw(lab) if len(lab) else None
        if raw is None:
            continue
        resid = np.log(lab[target].to_numpy(dtype=float)) - raw
        resid = resid[np.isfinite(resid)]
        if len(resid):
            out.append((target, float(resid.min()), float(resid.max())))
    return out


def labelled(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    y = pd.to_numeric(frame[target], errors="coerce")
    return frame.loc[y.notna() & (y > 0)].reset_index(drop=True)


def target_columns(names: Sequence[str], target: str) -> list[int]:
    skip = set(EXCLUSIONS.get(target, ()))
    return [i for i, n in enumerate(names) if n not in skip]


def monotone_constraints(featurizer: Featurizer, target: str, columns: Sequence[int]) -> list[int] | None:
    """LightGBM monotone_constraints for these columns (None: unconstrained, the older layout)."""
    sign = TARGET_DIRECTIONS.get(target)
    if featurizer.spec.hardware == "identity" or sign is None:
        return None
    extra = EXTRA_MONOTONE.get(target, {})
    names = featurizer.names
    every = featurizer.spec.hardware == "numbers"
    return [sign * hardware_direction(names[i], every) or extra.get(names[i], 0) for i in columns]


def hardware_direction(name: str, every: bool = True) -> int:
    """+1 where a faster GPU has the larger value of this feature, -1 the smaller, 0 unrelated or
    left unconstrained (`every` False: the physics layout's PHYSICS_CONSTRAINED and flags only)."""
    if name.startswith(DOMINANCE_PREFIX):
        return 1
    return HARDWARE_DIRECTIONS.get(name, 0) if every or name in PHYSICS_CONSTRAINED else 0


def fit_quantiles(
    featurizer: Featurizer, rows: pd.DataFrame, target: str, base_kind: BaseKind
) -> tuple[QuantileModel, float, float]:
    """Boosters for one target on these rows, and the base shift and fill they were fitted with."""
    x = featurizer.transform(rows)
    y = np.log(rows[target].to_numpy(dtype=float))
    base = Base(base_kind, featurizer)
    raw = base.raw(rows)
    shift = fill = 0.0
    columns = target_columns(featurizer.names, target)
    monotone = monotone_constraints(featurizer, target, columns)
    if raw is not None and np.isfinite(raw).any():
        shift = float(np.nanmedian(y - raw))
        fill = float(np.nanmedian(raw))
    elif monotone is not None and any(monotone):
        # constrained fits use a custom objective, which LightGBM does not start from the data's
        # average: without a base they start from the median, kept as the base's shift
        shift = float(np.median(y))
    model = QuantileModel.fit(
        x, y, columns, base.values(rows, shift, fill), featurizer.names, monotone=monotone
    )
    resid = (y - raw)[np.isfinite(raw)] if raw is not None else np.empty(0)
    if len(resid):
        model.efficiency = (float(np.min(resid)), float(np.max(resid)))
    return model, shift, fill


def predict_rows(
    featurizer: Featurizer,
    model: QuantileModel,
    base_kind: BaseKind,
    shift: float,
    fill: float,
    rows: Any,
    target: str | None = None,
) -> np.ndarray:
    """Raw (unsorted, unconformalised) log-space quantiles for rows."""
    base = Base(base_kind, featurizer)
    return ordered_raw(featurizer, model, base, shift, fill, rows, target=target)


class OrderPairs(NamedTuple):
    """Per pair to keep in order: the row, the slower kind, and the row of the batch holding that
    kind's arm (-1: not in the batch); the missing arms' columns and features, built once."""

    rows: np.ndarray
    kinds: np.ndarray
    at: np.ndarray
    missing: Columns | None = None
    missing_x: np.ndarray | None = None
    # per pair whose arm is not in the batch, its row in `missing` (several faster kinds share one)
    missing_of: np.ndarray | None = None


def order_pairs(featurizer: Featurizer, cols: Columns) -> OrderPairs:
    """Which rows must stay at least as fast as which slower kinds (`ordered_raw`), once per batch.
    A slower kind's arm is usually in the batch already (a request scores every kind): it is read
    there, and only the pairs that are not get predicted."""
    rows, kinds, at, gaps = _slower_arms(featurizer, cols)
    if gaps is None:
        return OrderPairs(rows, kinds, at)
    _, pick, of, _ = gaps
    below = take_rows(cols, rows[pick], gpu=text_column(featurizer.spec.gpus, kinds[pick]))
    return OrderPairs(rows, kinds, at, below, featurizer.transform(below), of)


def _slower_arms(
    featurizer: Featurizer, cols: Columns
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, int] | None]:
    """Per pair (row, slower kind): the batch row holding that kind's arm (-1: none); for the pairs
    without one (`miss`), the pair naming each distinct missing arm (`pick`), each pair's index among
    those arms (`of`) and the batch size, or None when every slower arm is in the batch."""
    rows, kinds, own = featurizer.dominated(cols)
    if not len(rows):
        return rows, kinds, rows, None
    group = arm_groups(cols)
    present = np.full((int(group.max()) + 1, len(featurizer.spec.gpus)), -1, dtype=np.intp)
    known = np.flatnonzero(own >= 0)
    present[group[known], own[known]] = known
    at = present[group[rows], kinds]
    miss = np.flatnonzero(at < 0)
    if not len(miss):
        return rows, kinds, at, None
    # an H100, an H200 and an A100 arm of one request all sit above the same RTX 4090 arm
    key = group[rows[miss]] * len(featurizer.spec.gpus) + kinds[miss]
    _, first, of = np.unique(key, return_index=True, return_inverse=True)
    return rows, kinds, at, (miss, miss[first], of.reshape(len(miss)), len(own))


class OrderLayout(NamedTuple):
    """The physics order of one request's arms with the slower arms it lacks appended after them
    (rows n… of its matrix): per pair, the row kept in order and the row holding the slower kind's
    arm; and per appended arm, the batch row it copies and its kind. Depends only on the arms (a
    request's workload is the same on every row), so the daemon keeps it per arm list."""

    rows: np.ndarray
    at: np.ndarray
    source: np.ndarray
    kinds: np.ndarray


def order_layout(featurizer: Featurizer, cols: Columns) -> OrderLayout:
    """`order_pairs` for `ordered_appended`: the same pairs and the same missing arms, found once."""
    none = np.zeros(0, dtype=np.intp)
    if featurizer.spec.hardware != "physics":
        return OrderLayout(none, none, none, none)
    rows, kinds, at, gaps = _slower_arms(featurizer, cols)
    if gaps is None:
        return OrderLayout(rows, at, none, none)
    miss, pick, of, n_own = gaps
    at[miss] = n_own + of
    return OrderLayout(rows, at, rows[pick], kinds[pick])


def ordered_appended(
    featurizer: Featurizer,
    model: QuantileModel,
    base: Base,
    shift: float,
    fill: float,
    cols: Columns,
    x: np.ndarray,
    n: int,
    layout: OrderLayout,
    *,
    target: str | None,
) -> np.ndarray:
    """`ordered_raw` of the first n rows, where `cols` and `x` hold those rows and then the slower
    arms they lack (`order_layout`): one featurize, one base and one tree pass for them all. The
    same numbers as `ordered_raw` (every step is row by row; tests/advisor/test_costmodel_fastpath.py)."""
    sign = TARGET_DIRECTIONS.get(target or _TARGET_OF_BASE.get(base.kind, ""), 0)
    ordered = featurizer.spec.hardware == "physics" and bool(sign) and len(layout.rows) > 0
    if not ordered:
        cols, x = (take_head(cols, n), x[:n]) if len(x) > n else (cols, x)
    every = base.values(cols, shift, fill)
    both: np.ndarray = model.predict_raw(x, every)
    raw = both[:n]
    if not ordered:
        return raw
    at_base = every[layout.at] if every is not None else None
    return _lift(raw, layout.rows, both[layout.at], at_base, shift, _bounds(featurizer, model, base, target), sign)


def _bounds(featurizer: Featurizer, model: QuantileModel, base: Base, target: str | None) -> tuple[float, float] | None:
    """The efficiencies (log measured ÷ base) the model saw in training: its own, or the layout's."""
    stored = {t: (lo, hi) for t, lo, hi in featurizer.spec.efficiency_bounds}
    return model.efficiency or stored.get(target or _TARGET_OF_BASE.get(base.kind, ""))


def _lift(
    raw: np.ndarray, rows: np.ndarray, pred: np.ndarray, at_base: np.ndarray | None, shift: float,
    bounds: tuple[float, float] | None, sign: int,
) -> np.ndarray:  # fmt: skip
    """`raw` with each of `rows` raised (sign > 0) or lowered to `pred`, the slower kinds' predictions,
    less the slack; a slower kind lifts a faster one only within the efficiencies measured."""
    if bounds is not None and at_base is not None:
        lo, hi = bounds
        pred = np.clip(pred, (at_base - shift + lo)[:, None], (at_base - shift + hi)[:, None])
    out = raw.copy()
    (np.fmax if sign > 0 else np.fmin).at(out, rows, pred + sign * ORDER_SLACK_LOG)
    return out


def ordered_raw(
    featurizer: Featurizer,
    model: QuantileModel,
    base: Base,
    shift: float,
    fill: float,
    cols: Columns,
    *,
    target: str | None,
    x: np.ndarray | None = None,
    pairs: OrderPairs | None = None,
) -> np.ndarray:
    """Raw log quantiles of these rows, in the physics order where the layout asks for it.

    In the "physics" layout each quantile of a throughput target is raised to the best the model
    predicts for any GPU kind below the row's in the hardware order (same arm and workload; a
    latency target is lowered to the least), a monotone projection like quantile rearrangement:
    the constrained trees and the roofline base keep most pairs in order by themselves, and the
    projection closes what the unconstrained hardware numbers leave open, so a faster GPU is
    never predicted slower. Rows whose own prediction is already in order keep it."""
    x = featurizer.transform(cols) if x is None else x
    own = base.values(cols, shift, fill)
    sign = TARGET_DIRECTIONS.get(target or _TARGET_OF_BASE.get(base.kind, ""), 0)
    if featurizer.spec.hardware != "physics" or not sign:
        plain: np.ndarray = model.predict_raw(x, own)
        return plain
    pairs = order_pairs(featurizer, cols) if pairs is None else pairs
    extra: np.ndarray | None = None
    if pairs.missing is None or pairs.missing_x is None or pairs.missing_of is None:
        raw: np.ndarray = model.predict_raw(x, own)
        below = np.empty((0, raw.shape[1]))
    else:  # the batch and the slower arms it lacks, in one call
        extra = base.values(pairs.missing, shift, fill)
        both = model.predict_raw(
            np.vstack([x, pairs.missing_x]),
            None if own is None or extra is None else np.concatenate([own, extra]),
        )
        raw, below = both[: len(x)], both[len(x) :][pairs.missing_of]
    if not len(pairs.rows):
        return raw
    pred = np.empty((len(pairs.rows), raw.shape[1]))
    inside = pairs.at >= 0
    pred[inside] = raw[pairs.at[inside]]
    pred[~inside] = below
    at_base: np.ndarray | None = None
    if own is not None:
        at_base = np.empty(len(pairs.rows))
        at_base[inside] = own[pairs.at[inside]]
        if pairs.missing is not None and pairs.missing_of is not None and extra is not None:
            at_base[~inside] = extra[pairs.missing_of]
    return _lift(raw, pairs.rows, pred, at_base, shift, _bounds(featurizer, model, base, target), sign)


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
        out[test_idx] = predict_rows(featurizer, model, base_kind, shift, fill, te, target)
    return out


def base_kind_for(featurizer: Featurizer, target: str) -> BaseKind:
    if featurizer.spec.roofline != "offset":
        return "none"
    bases = BASES if featurizer.spec.hardware == "identity" else NUMBERS_BASES
    return bases.get(target, "none")


def fit_target(
    featurizer: Featurizer, rows: pd.DataFrame, target: str, config: TrainConfig, *, conformal: bool = True
) -> TargetFit:
    """The full fit of one target: boosters, held-out-cell and random-fold offsets, envelope."""
    kind = base_kind_for(featurizer, target)
    model, shift, fill = fit_quantiles(featurizer, rows, target, kind)
    y = np.log(rows[target].to_numpy(dtype=float))
    offset = offset_random = 0.0
    cross = crossing_rate(predict_rows(featurizer, model, kind, shift, fill, rows, target))
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
