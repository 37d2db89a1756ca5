"""The gate's typed report: thresholds, per-target numbers of both sides, envelope change, verdict.

Every number is a fraction (MAPE 0.071 = 7.1 %), except the deltas, which are percentage points
(the unit of `gate.max_mape_regression_pp`). `None` means "no rows to measure it on".
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from omnipilot.advisor.new_rows_check import NewRowsCheck
from omnipilot.config import GateSettings

PRIMARY = "tokens_per_s"
Verdict = Literal["promote", "reject", "unchanged"]


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: tuple[str, ...] = (PRIMARY,)
    max_mape_regression_pp: float = 0.5
    coverage_min: float = 0.70
    coverage_max: float = 0.90
    require_no_fewer_rows: bool = True
    max_new_row_bias: float = 2.0

    @classmethod
    def from_settings(cls, gate: GateSettings) -> Thresholds:
        return cls(
            targets=tuple(gate.targets),
            max_mape_regression_pp=gate.max_mape_regression_pp,
            coverage_min=gate.coverage_min,
            coverage_max=gate.coverage_max,
            require_no_fewer_rows=gate.require_no_fewer_rows,
            max_new_row_bias=gate.max_new_row_bias,
        )

    def ordered_targets(self) -> list[str]:
        """The decision target first (it drives placement), then the others as configured."""
        return sorted(self.targets, key=lambda t: (t != PRIMARY, self.targets.index(t)))


class SideMetrics(BaseModel):
    """One side's numbers on the held-out cells (fractions, not percents; None = no rows)."""

    n_train_rows: int
    mape: float | None
    mape_reference: float | None
    mape_all: float | None
    coverage_80: float | None
    abstain_rate: float | None


class TargetResult(BaseModel):
    gated: bool
    passed: bool
    notes: list[str] = []
    eval_rows: int = 0
    cells: int = 0
    compared_rows: int = 0
    reference_rows: int = 0
    gained_rows: int = 0
    candidate_mape_gained: float | None = None
    incumbent: SideMetrics | None = None
    candidate: SideMetrics | None = None
    mape_delta_pp: float | None = None
    reference_mape_delta_pp: float | None = None
    new_rows: NewRowsCheck | None = None


class ModelInfo(BaseModel):
    version: str
    path: str
    n_rows: int
    data_hash: str
    model_hash: str
    targets: list[str]
    rows_from: str = ""


class EnvelopeChange(BaseModel):
    """How the primary target's support envelope moves: what the candidate answers that the
    incumbent abstained on (gained, widened) and what it would newly abstain on (lost, narrowed)."""

    target: str
    gained: dict[str, list[str]] = {}
    lost: dict[str, list[str]] = {}
    widened: dict[str, str] = {}
    narrowed: dict[str, str] = {}


class GateReport(BaseModel):
    verdict: Verdict
    reasons: list[str]
    candidate: ModelInfo | None
    incumbent: ModelInfo | None
    eval_rows: int
    n_splits: int
    thresholds: Thresholds
    targets: dict[str, TargetResult] = {}
    envelope: EnvelopeChange | None = None
    seconds: float = 0.0

    @property
    def promoted(self) -> bool:
        return self.verdict == "promote"
