"""Do the rows added since the current model was trained agree with it? A data check beside the gate.

The gate compares models; it cannot tell a broken collector from a real change of the world,
and a minority of wrong rows barely moves a median model (benchmarks/retrain_gate.py measures
this: 120 site rows reported 2.5x too high moved the seed cells' MAPE by < 0.5 pp). Rows the
current model never trained on can be scored by it directly, without any refit and without
leakage. Where the current model answers them (inside its envelope) and their measured value
differs from its median by a large factor in the median over rows, the rows are suspect: the
gate rejects (`gate.max_new_row_bias`) and names the factor, so an admin looks at the collector
before the model learns from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel

from omnipilot.advisor.conformal import apply_offset, coverage
from omnipilot.advisor.costmodel import CostModel
from omnipilot.advisor.quantile import rearrange
from omnipilot.advisor.training import labelled, predict_rows

MIN_NEW_ROWS = 5  # fewer answered rows say too little to reject on


class NewRowsCheck(BaseModel):
    rows: int
    in_envelope: int
    median_ratio: float | None = None
    outside_interval: float | None = None

    def suspect(self, max_bias: float) -> bool:
        if max_bias <= 0 or self.median_ratio is None or self.in_envelope < MIN_NEW_ROWS:
            return False
        return not (1.0 / max_bias <= self.median_ratio <= max_bias)


def check_new_rows(model: CostModel, new_rows: pd.DataFrame, target: str) -> NewRowsCheck:
    """Measured ÷ current-model median on the new rows it answers, and how many fall outside its
    calibrated q10–q90 interval."""
    entry = model.manifest.targets.get(target)
    lab = labelled(new_rows, target) if target in new_rows.columns else new_rows.iloc[0:0]
    if entry is None or lab.empty:
        return NewRowsCheck(rows=len(lab), in_envelope=0)
    inside = np.array([c != "low" for c, _ in entry.envelope.check(lab)], dtype=bool)
    sub = lab.loc[inside].reset_index(drop=True)
    if sub.empty:
        return NewRowsCheck(rows=len(lab), in_envelope=0)
    raw = predict_rows(
        model.featurizer, model.models[target], entry.base, entry.base_shift, entry.base_fill, sub
    )
    q = apply_offset(rearrange(raw), entry.offset)
    y = np.log(sub[target].to_numpy(dtype=float))
    ok = np.isfinite(q).all(axis=1)
    if not ok.any():
        return NewRowsCheck(rows=len(lab), in_envelope=0)
    return NewRowsCheck(
        rows=len(lab),
        in_envelope=int(ok.sum()),
        median_ratio=float(np.exp(np.median(y[ok] - q[ok, 1]))),
        outside_interval=1.0 - coverage(q[ok], y[ok]),
    )
