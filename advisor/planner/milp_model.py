"""The MILP's model as HiGHS sees it (planner_spec.md §4, formulation B): the column layout, bounds,
objective and rows, shared by the solver (milp.py) and the infeasibility diagnosis (diagnose.py)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import highspy
import numpy as np

from omnipilot.advisor.planner.coefficients import Table

INF = highspy.kHighsInf


@dataclass
class Layout:
    """Column positions of each variable family, and the rows as triplets plus bounds."""

    pairs: tuple[np.ndarray, np.ndarray]  # (class index, config index) of each x column
    n_x: int
    n_c: int
    n_i: int
    n_j: int
    rows: list[tuple[int, int, float]] = field(default_factory=list)
    row_lo: list[float] = field(default_factory=list)
    row_hi: list[float] = field(default_factory=list)
    row_kind: list[str] = field(default_factory=list)

    @property
    def r0(self) -> int:
        return self.n_x

    @property
    def u0(self) -> int:
        return self.n_x + self.n_c

    @property
    def m0(self) -> int:
        return self.n_x + self.n_c + self.n_i

    @property
    def n_cols(self) -> int:
        return self.m0 + self.n_j

    def add_row(self, cols: np.ndarray, vals: np.ndarray, lo: float, hi: float, kind: str) -> None:
        r = len(self.row_lo)
        self.rows.extend((r, int(c), float(v)) for c, v in zip(cols, vals, strict=True))
        self.row_lo.append(lo)
        self.row_hi.append(hi)
        self.row_kind.append(kind)


def build_layout(t: Table, with_budget: bool = True, elastic: bool = False) -> Layout:
    """All rows of the MILP; `diagnose` reuses this with elastic slacks (`elastic` lifts the
    pool-derived cap in the model-link rows, so only the availability rows limit replicas)."""
    ii, cc = np.nonzero(t.allowed)
    lay = Layout((ii, cc), len(ii), t.n_configs, t.n_classes, len(t.instance.models))
    load, xs = t.load, np.arange(len(ii))
    for i in range(t.n_classes):
        sel = xs[ii == i]
        lay.add_row(np.append(sel, lay.u0 + i), np.ones(len(sel) + 1), 1.0, 1.0, f"coverage:{i}")
        errs = t.error[i, cc[sel]]
        if np.any(errs > t.error_slo[i]):  # otherwise the row can never bind
            lay.add_row(sel, errs, -INF, float(t.error_slo[i]), f"error:{i}")
    for c in range(t.n_configs):
        sel = xs[cc == c]
        if len(sel):
            lay.add_row(
                np.append(sel, lay.r0 + c), np.append(load[ii[sel], c], -1.0), -INF, 0.0, f"capacity:{c}"
            )
    for g in range(len(t.instance.gpus)):
        on = np.nonzero(t.gpu_of == g)[0]
        if len(on):
            lay.add_row(lay.r0 + on, t.tp[on].astype(float), -INF, float(t.available[g]), f"gpus:{g}")
    budget = t.instance.budget
    if with_budget and budget is not None:
        cols = np.concatenate([lay.r0 + np.arange(t.n_configs), lay.m0 + np.arange(lay.n_j)])
        lay.add_row(cols, np.concatenate([t.rent, t.load_cost]), -INF, budget, "budget")
    cap = replica_caps(t) if not elastic else np.full(t.n_configs, 1e6)
    for c in range(t.n_configs):
        lay.add_row(
            np.array([lay.r0 + c, lay.m0 + t.model_of[c]]), np.array([1.0, -cap[c]]), -INF, 0.0, "link"
        )
    if t.instance.max_models is not None:
        lay.add_row(lay.m0 + np.arange(lay.n_j), np.ones(lay.n_j), -INF, t.instance.max_models, "models")
    return lay


def replica_caps(t: Table) -> np.ndarray:
    """Most replicas a configuration can have: its GPU pool divided by its TP; 0 if it serves no one."""
    cap = t.available[t.gpu_of] // t.tp
    return np.where(t.allowed.any(axis=0), cap, 0).astype(float)


def objective_vector(t: Table, lay: Layout) -> np.ndarray:
    ii, cc = lay.pairs
    return np.concatenate([t.penalty[ii, cc], t.rent, t.unmet_cost, t.load_cost])


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """HiGHS prints its banner on construction, straight to fd 1; keep `--json` output clean."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def new_highs(time_limit_s: float, gap: float, threads: int = 1) -> highspy.Highs:
    with quiet_stdout():
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", 0)
    return h


def pass_model(
    h: highspy.Highs, lay: Layout, cost: np.ndarray, lo: np.ndarray, hi: np.ndarray, integer: np.ndarray
) -> None:
    trip = np.array(lay.rows, dtype=float).reshape(-1, 3)
    order = np.lexsort((trip[:, 0], trip[:, 1]))
    trip = trip[order]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cost), len(lay.row_lo)
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lo, hi
    lp.row_lower_, lp.row_upper_ = np.array(lay.row_lo), np.array(lay.row_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(trip[:, 1], np.arange(len(cost) + 1)).astype(np.int32)
    lp.a_matrix_.index_ = trip[:, 0].astype(np.int32)
    lp.a_matrix_.value_ = trip[:, 2]
    if integer.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous for b in integer
        ]
    h.passModel(lp)


def column_bounds(t: Table, lay: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo = np.zeros(lay.n_cols)
    hi = np.concatenate([np.ones(lay.n_x), replica_caps(t), t.max_unmet, np.ones(lay.n_j)])
    integer = np.zeros(lay.n_cols, dtype=bool)
    integer[lay.r0 : lay.u0] = True
    integer[lay.m0 :] = True
    return lo, hi, integer
