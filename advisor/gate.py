"""The no-regression gate of the update loop (paper §3.3.2 and App. C.2).

A candidate model is promoted only if it does not predict worse than the model serving now (the
incumbent). Both are judged on the *same* workload cells, held out by GroupKFold over the combined
history (seed + site rows, DECISIONS.md §2): for every fold each side refits its own recipe
(feature layout, base, targets) on *its own* training rows outside the held-out cells and predicts
them, exactly as `evaluate.nested_cv` does for one model (a test checks they agree). So no number
comes from a cell a model trained on, and the two sides differ only in the rows they learned from.

Per gated target the report gives, for both sides:
- `mape`: MAPE of the median on the held-out rows the incumbent answers (inside its envelope):
  a candidate must not get worse where the incumbent already gave advice;
- `mape_reference`: the same on the incumbent's own training rows only, so new site rows that
  disagree with the measured seed (a broken collector) cannot buy their own promotion by being
  predicted well on themselves;
- `coverage_80`: held-out-cell q10–q90 coverage with a nested conformal offset (nominal 0.80);
- `mape_all`, `abstain_rate`, and the candidate's MAPE on the rows it newly answers.
The candidate passes if it loads, fits every target the incumbent fits, trained on no fewer rows,
loses no envelope category, no gated MAPE grows by more than `max_mape_regression_pp` percentage
points and its coverage stays in the band (or no farther from 0.80 than the incumbent's).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import structlog

from omnipilot.advisor.artifact import Manifest, ModelLoadError
from omnipilot.advisor.conformal import (
    NOMINAL_COVERAGE,
    Fold,
    apply_offset,
    conformal_offset,
    conformity_scores,
    coverage,
    group_kfold,
)
from omnipilot.advisor.costmodel import CostModel
from omnipilot.advisor.envelope import CATEGORY_AXES, Envelope
from omnipilot.advisor.evaluate import Oof, _mape
from omnipilot.advisor.features import Featurizer
from omnipilot.advisor.gate_report import (
    PRIMARY,
    EnvelopeChange,
    GateReport,
    ModelInfo,
    SideMetrics,
    TargetResult,
    Thresholds,
)
from omnipilot.advisor.new_rows_check import check_new_rows
from omnipilot.advisor.quantile import MIN_LABELLED_ROWS, rearrange
from omnipilot.advisor.training import (
    base_kind_for,
    cell_keys,
    fit_quantiles,
    labelled,
    out_of_fold,
    predict_rows,
)
from omnipilot.catalog import Catalog

log = structlog.get_logger(__name__)

__all__ = [
    "EnvelopeChange",
    "GateReport",
    "ModelInfo",
    "Side",
    "SideMetrics",
    "TargetResult",
    "Thresholds",
    "compare_target",
    "envelope_change",
    "gate_candidate",
    "judge_target",
    "load_side",
    "run_gate",
    "side_cv",
]


@dataclass(frozen=True)
class Side:
    """A model and the rows it was trained on (its recipe is in the manifest)."""

    manifest: Manifest
    rows: pd.DataFrame
    path: str
    rows_from: str = "given"
    model: CostModel | None = None  # loaded: lets the gate score new rows with it directly

    def info(self) -> ModelInfo:
        m = self.manifest
        return ModelInfo(
            version=m.version,
            path=self.path,
            n_rows=m.n_rows,
            data_hash=m.data_hash,
            model_hash=m.model_hash,
            targets=list(m.targets),
            rows_from=self.rows_from,
        )


def load_side(path: Path, rows: pd.DataFrame, catalog: Catalog, rows_from: str = "given") -> Side:
    """Load and verify a model folder (raises ModelLoadError) and pair it with its rows."""
    model = CostModel.load(path, catalog)
    return Side(manifest=model.manifest, rows=rows, path=str(path), rows_from=rows_from, model=model)


def gate_candidate(
    candidate_dir: Path,
    candidate_rows: pd.DataFrame,
    incumbent: Side | None,
    eval_rows: pd.DataFrame,
    thresholds: Thresholds,
    catalog: Catalog,
) -> GateReport:
    """Load the candidate from its folder and gate it; one that does not load is rejected."""
    try:
        candidate = load_side(candidate_dir, candidate_rows, catalog)
    except ModelLoadError as exc:
        return GateReport(
            verdict="reject",
            reasons=[f"the candidate does not load: {exc}"],
            candidate=None,
            incumbent=incumbent.info() if incumbent else None,
            eval_rows=len(eval_rows),
            n_splits=_n_splits(incumbent.manifest if incumbent else None),
            thresholds=thresholds,
        )
    return run_gate(candidate, incumbent, eval_rows, thresholds, catalog)


def run_gate(
    candidate: Side,
    incumbent: Side | None,
    eval_rows: pd.DataFrame,
    thresholds: Thresholds,
    catalog: Catalog,
) -> GateReport:
    """Compare two loaded models on the same held-out cells of `eval_rows`; the verdict and why."""
    t0 = time.perf_counter()
    n_splits = _n_splits(incumbent.manifest if incumbent else candidate.manifest)
    report = GateReport(
        verdict="promote",
        reasons=[],
        candidate=candidate.info(),
        incumbent=incumbent.info() if incumbent else None,
        eval_rows=len(eval_rows),
        n_splits=n_splits,
        thresholds=thresholds,
    )
    if incumbent is None:
        report.reasons.append("no current model: the first fit is promoted")
        return report
    if candidate.manifest.model_hash == incumbent.manifest.model_hash:
        report.verdict = "unchanged"
        report.reasons.append("the candidate is identical to the current model (same model hash)")
        return report
    failures = _row_and_target_checks(candidate, incumbent, thresholds)
    if failures:  # decided without the (minutes-long) evaluation
        report.verdict, report.reasons = "reject", failures
        return report
    for target in thresholds.ordered_targets():
        if target in incumbent.manifest.targets and target in candidate.manifest.targets:
            res = compare_target(candidate, incumbent, eval_rows, target, n_splits, catalog)
            if incumbent.model is not None:
                new = ~eval_rows["content_hash"].isin(set(incumbent.rows["content_hash"]))
                res.new_rows = check_new_rows(incumbent.model, eval_rows.loc[new], target)
            failures += judge_target(target, res, thresholds)
            report.targets[target] = res
    failures += _envelope_failures(report, candidate, incumbent)
    report.verdict = "reject" if failures else "promote"
    report.reasons = failures or ["no gated target regressed"]
    report.seconds = round(time.perf_counter() - t0, 2)
    log.info("gate.verdict", verdict=report.verdict, reasons=report.reasons, seconds=report.seconds)
    return report


def _envelope_failures(report: GateReport, candidate: Side, incumbent: Side) -> list[str]:
    """Record the decision target's envelope change; a lost category is a failure."""
    primary = PRIMARY if PRIMARY in incumbent.manifest.targets else next(iter(incumbent.manifest.targets), "")
    if primary not in candidate.manifest.targets or primary not in incumbent.manifest.targets:
        return []
    report.envelope = envelope_change(
        primary, incumbent.manifest.targets[primary].envelope, candidate.manifest.targets[primary].envelope
    )
    return [
        f"{primary}: the candidate would abstain on {axis} {', '.join(v)}, which the current model answers"
        for axis, v in report.envelope.lost.items()
    ]


def _n_splits(manifest: Manifest | None) -> int:
    value = manifest.train_config.get("n_splits", 5) if manifest else 5
    return int(value) if isinstance(value, int | float | str) else 5


def _row_and_target_checks(candidate: Side, incumbent: Side, thresholds: Thresholds) -> list[str]:
    out = []
    if thresholds.require_no_fewer_rows and candidate.manifest.n_rows < incumbent.manifest.n_rows:
        out.append(
            f"the candidate trained on {candidate.manifest.n_rows} rows, fewer than the current "
            f"model's {incumbent.manifest.n_rows}: is a history file missing?"
        )
    for target in thresholds.ordered_targets():
        if target in incumbent.manifest.targets and target not in candidate.manifest.targets:
            why = candidate.manifest.unfitted.get(target, "not fitted")
            out.append(f"{target}: the current model predicts it, the candidate does not ({why})")
    return out


def compare_target(
    candidate: Side, incumbent: Side, eval_rows: pd.DataFrame, target: str, n_splits: int, catalog: Catalog
) -> TargetResult:
    """Both sides' held-out-cell metrics for one target on the same folds of the combined rows."""
    lab = labelled(eval_rows, target) if target in eval_rows.columns else eval_rows.iloc[0:0]
    cells = cell_keys(lab)
    n_cells = len(set(cells))
    if len(lab) < MIN_LABELLED_ROWS or n_cells < n_splits:
        note = f"not gated: {len(lab)} labelled rows in {n_cells} cells (needs {MIN_LABELLED_ROWS} rows, {n_splits} cells)"
        return TargetResult(gated=False, passed=True, notes=[note], eval_rows=len(lab), cells=n_cells)
    folds = group_kfold(cells, n_splits)
    oofs = {
        name: side_cv(
            Featurizer(side.manifest.feature_spec, catalog), lab, cells, folds, side.rows, target, n_splits
        )
        for name, side in (("incumbent", incumbent), ("candidate", candidate))
    }
    y = np.log(lab[target].to_numpy(dtype=float))
    inc, cand = oofs["incumbent"], oofs["candidate"]
    both = inc.ok & cand.ok & np.isfinite(inc.off_cell) & np.isfinite(cand.off_cell)
    compared = both & (inc.confidence != "low")
    reference = compared & lab["content_hash"].isin(set(incumbent.rows["content_hash"])).to_numpy()
    gained = both & (inc.confidence == "low") & (cand.confidence != "low")
    m_inc = side_metrics(inc, y, both, compared, reference, _rows_of(incumbent, target))
    m_cand = side_metrics(cand, y, both, compared, reference, _rows_of(candidate, target))
    res = TargetResult(
        gated=bool(compared.any()),
        passed=True,
        eval_rows=len(lab),
        cells=n_cells,
        compared_rows=int(compared.sum()),
        reference_rows=int(reference.sum()),
        gained_rows=int(gained.sum()),
        candidate_mape_gained=_opt(_mape(rearrange(cand.raw[gained])[:, 1], y[gained])),
        incumbent=m_inc,
        candidate=m_cand,
        mape_delta_pp=_delta_pp(m_cand.mape, m_inc.mape),
        reference_mape_delta_pp=_delta_pp(m_cand.mape_reference, m_inc.mape_reference),
    )
    if not res.gated:
        res.notes.append("not gated: the current model answers none of the held-out rows")
    return res


def _rows_of(side: Side, target: str) -> int:
    return len(labelled(side.rows, target)) if target in side.rows.columns else 0


def side_cv(
    featurizer: Featurizer,
    eval_lab: pd.DataFrame,
    eval_cells: Sequence[Hashable],
    folds: Sequence[Fold],
    train_rows: pd.DataFrame,
    target: str,
    n_splits: int,
) -> Oof:
    """Out-of-fold predictions of one side on `eval_lab`, trained per fold on its own rows
    outside the held-out cells; conformal offset from inner grouped folds, envelope from the fold
    (as `evaluate.nested_cv`, which this equals when `train_rows` is `eval_lab`)."""
    kind = base_kind_for(featurizer, target)
    train_lab = labelled(train_rows, target) if target in train_rows.columns else train_rows.iloc[0:0]
    train_cells = cell_keys(train_lab)
    res = Oof(len(eval_lab))
    for _, te_idx in folds:
        held = {eval_cells[i] for i in te_idx}
        keep = np.array([c not in held for c in train_cells], dtype=bool)
        tr = train_lab.loc[keep].reset_index(drop=True) if len(train_lab) else train_lab
        te = eval_lab.iloc[te_idx].reset_index(drop=True)
        if len(tr) < MIN_LABELLED_ROWS:
            continue
        model, shift, fill = fit_quantiles(featurizer, tr, target, kind)
        res.raw[te_idx] = predict_rows(featurizer, model, kind, shift, fill, te)
        if len(set(cell_keys(tr))) >= n_splits:
            inner = out_of_fold(featurizer, tr, target, kind, group_kfold(cell_keys(tr), n_splits))
            y_tr = np.log(tr[target].to_numpy(dtype=float))
            res.off_cell[te_idx] = conformal_offset(conformity_scores(rearrange(inner), y_tr))
        res.confidence[te_idx] = [c for c, _ in Envelope.fit(tr).check(te)]
    return res


def side_metrics(
    oof: Oof, y: np.ndarray, both: np.ndarray, compared: np.ndarray, reference: np.ndarray, n_train: int
) -> SideMetrics:
    q = rearrange(np.where(np.isfinite(oof.raw), oof.raw, 0.0))
    cov = None
    if compared.any():
        cov = coverage(apply_offset(q[compared], oof.off_cell[compared]), y[compared])
    return SideMetrics(
        n_train_rows=n_train,
        mape=_opt(_mape(q[compared, 1], y[compared])),
        mape_reference=_opt(_mape(q[reference, 1], y[reference])),
        mape_all=_opt(_mape(q[both, 1], y[both])),
        coverage_80=cov,
        abstain_rate=float(np.mean(oof.confidence[both] == "low")) if both.any() else None,
    )


def judge_target(target: str, res: TargetResult, th: Thresholds) -> list[str]:
    """The reasons this target fails the gate (empty = it passes); also sets `res.passed`."""
    out = []
    if res.new_rows is not None and res.new_rows.suspect(th.max_new_row_bias):
        out.append(
            f"{target}: {res.new_rows.in_envelope} new rows disagree with the current model by a median "
            f"factor {res.new_rows.median_ratio:.2f} (limit {th.max_new_row_bias:g}x): check the "
            "collector that produced them before training on them"
        )
    if not res.gated or res.candidate is None or res.incumbent is None:
        res.passed = not out
        return out
    tol = th.max_mape_regression_pp + 1e-9
    for label, delta, inc, cand in (
        ("held-out-cell MAPE", res.mape_delta_pp, res.incumbent.mape, res.candidate.mape),
        (
            "held-out-cell MAPE on the current model's own rows",
            res.reference_mape_delta_pp,
            res.incumbent.mape_reference,
            res.candidate.mape_reference,
        ),
    ):
        if delta is not None and inc is not None and cand is not None and delta > tol:
            out.append(
                f"{target}: {label} regressed {100 * inc:.2f}% → {100 * cand:.2f}% "
                f"(+{delta:.2f} pp > {th.max_mape_regression_pp:g} pp allowed)"
            )
    out += _coverage_failure(target, res.candidate.coverage_80, res.incumbent.coverage_80, th, res)
    res.passed = not out
    return out


def _coverage_failure(
    target: str, cand: float | None, inc: float | None, th: Thresholds, res: TargetResult
) -> list[str]:
    if cand is None or th.coverage_min <= cand <= th.coverage_max:
        return []
    if inc is not None and abs(cand - NOMINAL_COVERAGE) <= abs(inc - NOMINAL_COVERAGE) + 1e-9:
        res.notes.append(
            f"coverage {cand:.3f} outside [{th.coverage_min:g}, {th.coverage_max:g}] but no farther "
            f"from {NOMINAL_COVERAGE:g} than the current model's {inc:.3f}"
        )
        return []
    return [
        f"{target}: held-out-cell q10–q90 coverage {cand:.3f} outside the band "
        f"[{th.coverage_min:g}, {th.coverage_max:g}] (current model {inc if inc is None else round(inc, 3)})"
    ]


def envelope_change(target: str, old: Envelope, new: Envelope) -> EnvelopeChange:
    out = EnvelopeChange(target=target)
    for axis, _ in CATEGORY_AXES:
        before, after = set(old.categories.get(axis, [])), set(new.categories.get(axis, []))
        if after - before:
            out.gained[axis] = sorted(after - before)
        if before - after:
            out.lost[axis] = sorted(before - after)
    for axis, rng in new.ranges.items():
        prev = old.ranges.get(axis)
        if prev is None:
            continue
        shown = f"{prev.lo:g}–{prev.hi:g} → {rng.lo:g}–{rng.hi:g}"
        if rng.lo < prev.lo or rng.hi > prev.hi:
            out.widened[axis] = shown
        if rng.lo > prev.lo or rng.hi < prev.hi:
            out.narrowed[axis] = shown
    return out


def _opt(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _delta_pp(cand: float | None, inc: float | None) -> float | None:
    return None if cand is None or inc is None else round(100.0 * (cand - inc), 4)
