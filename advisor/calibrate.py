"""Revealed-preference calibration of value-per-token (paper §3.3.1, `omnipilot calibrate`).

An operator states decisions they would make ("Qwen2.5-7B → A100 × 1", "Qwen2.5-32B → A100 × 2").
Each value-per-token on a log grid is tried: the anchors' arms are ranked by the same decide()
and utility the daemon uses (with the cost model's predictions, no queue, flat launch prior),
and the values at which the most anchors come out on top form one or more intervals. The value
reported is the geometric midpoint of the widest such interval: the setting the anchors pin down
most robustly. Too low a value and every anchor goes to the cheapest arm; too high and to the
fastest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel

from omnipilot.advisor.decide import Intent, Scorer, decide
from omnipilot.advisor.workload import resolve_workload
from omnipilot.catalog import Catalog
from omnipilot.config import AnchorEntry, Settings

DEFAULT_KINDS: tuple[str, ...] = ("A100-40GB", "H100-80GB", "H200-141GB")  # the paper's cluster


class AnchorResult(BaseModel):
    anchor: str
    chosen: str | None
    matched: bool


class CalibrationError(ValueError):
    """An anchor cannot be used; the message says which and what to change."""


def anchor_label(a: AnchorEntry) -> str:
    return f"{a.model} -> {a.gpu} x{a.tp}" + (f" {a.precision}" if a.precision else "")


def _intent(a: AnchorEntry, settings: Settings, catalog: Catalog) -> Intent:
    spec = catalog.model(a.model)
    if spec is None:
        raise CalibrationError(
            f"anchor {anchor_label(a)}: model {a.model!r} is not in etc/models.toml; add it"
        )
    if catalog.gpu(a.gpu) is None:
        raise CalibrationError(f"anchor {anchor_label(a)}: GPU kind {a.gpu!r} is not in etc/gpus.toml")
    d = settings.defaults
    work = resolve_workload(spec, d, concurrency=a.concurrency, context=a.context)
    return Intent(model_name=spec.name, model=spec, workload=work, runtime_h=d.time_limit_min / 60.0)


def calibrate(
    anchors: Sequence[AnchorEntry],
    settings: Settings,
    catalog: Catalog,
    scorer: Scorer,
    *,
    kinds: Sequence[str] = DEFAULT_KINDS,
    lo: float = 1e-9,
    hi: float = 1e-4,
    points: int = 201,
) -> dict[str, Any]:
    """Anchors matched per grid value, the best intervals, and the value to configure."""
    if not anchors:
        raise CalibrationError(
            "no anchors: add [[utility.anchors]] entries to etc/omnipilot.toml or pass --anchor"
        )
    specs = [catalog.gpu(k) for k in kinds]
    missing = [k for k, s in zip(kinds, specs, strict=True) if s is None]
    if missing:
        raise CalibrationError(f"GPU kinds {missing} are not in etc/gpus.toml")
    pool = {"calibration": {s.gres_types[0] if s.gres_types else s.name: 8 for s in specs if s is not None}}
    anchor_kinds = {catalog.gpu(a.gpu).name for a in anchors if catalog.gpu(a.gpu) is not None}  # type: ignore[union-attr]
    if not anchor_kinds <= {s.name for s in specs if s is not None}:
        raise CalibrationError(f"anchor GPU kinds {sorted(anchor_kinds)} must be among --kinds {list(kinds)}")
    intents = [_intent(a, settings, catalog) for a in anchors]
    rates = {g.name: g.cost_per_gpu_hour for g in catalog.gpus} | settings.cost.per_gpu_hour
    grid = np.geomspace(lo, hi, points)
    matches = np.zeros(points, dtype=int)
    chosen: list[list[str | None]] = []
    hits: list[list[bool]] = []
    for j, v in enumerate(grid):
        util = settings.utility.model_copy(
            update={"value_per_token": float(v), "fallback_on_low_confidence": False}
        )
        row: list[str | None] = []
        hit: list[bool] = []
        for a, intent in zip(anchors, intents, strict=True):
            d = decide(
                intent,
                pool,
                catalog,
                rates,
                scorer=scorer,
                utility=util,
                gpu_memory_utilization=settings.defaults.gpu_memory_utilization,
            )
            c = d.choice
            row.append(f"{c.arm.gpu} x{c.arm.tp} {c.arm.precision}" if c else None)
            want = catalog.gpu(a.gpu)
            hit.append(
                bool(
                    c
                    and want
                    and (c.arm.gpu, c.arm.tp) == (want.name, a.tp)
                    and (a.precision is None or c.arm.precision == a.precision)
                )
            )
        matches[j] = sum(hit)
        chosen.append(row)
        hits.append(hit)
    return _report(anchors, grid, matches, chosen, hits, settings.utility.value_per_token)


def _report(
    anchors: Sequence[AnchorEntry],
    grid: np.ndarray,
    matches: np.ndarray,
    chosen: list[list[str | None]],
    hits: list[list[bool]],
    configured: float,
) -> dict[str, Any]:
    best = int(matches.max())
    runs: list[tuple[int, int]] = []
    start = None
    for j, m in enumerate([*matches.tolist(), -1]):
        if m == best and start is None:
            start = j
        elif m != best and start is not None:
            runs.append((start, j - 1))
            start = None
    if best == 0:
        runs = []
    widest = max(runs, key=lambda r: r[1] - r[0]) if runs else (0, len(grid) - 1)
    value = math.sqrt(float(grid[widest[0]]) * float(grid[widest[1]]))
    at = int(np.argmin(np.abs(np.log(grid) - math.log(value))))
    per_anchor = [
        AnchorResult(anchor=anchor_label(a), chosen=chosen[at][i], matched=hits[at][i]).model_dump()
        for i, a in enumerate(anchors)
    ]
    return {
        "anchors": len(anchors),
        "matched": best,
        "value_per_token": value if best else None,
        "intervals": [[float(grid[a]), float(grid[b])] for a, b in runs],
        "grid": {"lo": float(grid[0]), "hi": float(grid[-1]), "points": len(grid)},
        "per_anchor": per_anchor,
        "configured_value_per_token": configured,
        "configured_reproduces": bool(any(grid[a] <= configured <= grid[b] for a, b in runs)),
    }
