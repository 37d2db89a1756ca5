"""Physics estimates of the decision targets no measured row trains yet (DECISIONS.md §2, issue 15).

No public row measures a server's cold start or its KV-cache peak, so until a site's `record` rows
train trees for them (15 labelled rows, the same rule as every target), they come from physics,
marked `source: physics`, low confidence, with a wide stated band:

- `cold_start_s` = weight bytes ÷ min(storage read bandwidth, TP × PCIe host→device bandwidth)
  + an engine start constant (imports, CUDA/NCCL init, memory profiling, graph capture). Every
  rank reads its shard over its own PCIe link, but the checkpoint comes through one node's storage.
- `kv_cache_peak_frac` = KV bytes per token × concurrency × (prompt + output) ÷ the KV space left
  after weights and runtime: advisor/arms.py's `kv_occupancy`, at the arm's precision, TP and KV
  dtype — the same formula the fit check and the utility's KV term use, not a second one. The
  cache cannot be fuller than full: the values are clipped at 1 (as a measured peak is), and a
  peak near or above 1 becomes a reason (vLLM preempts requests), with the unclipped demand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from omnipilot.advisor.arms import GPU_MEMORY_UTILIZATION, OVERHEAD_BYTES, kv_bytes_per_gpu
from omnipilot.advisor.features import Columns, lookup
from omnipilot.advisor.quantile import MIN_LABELLED_ROWS
from omnipilot.catalog import WEIGHT_BITS, Catalog
from omnipilot.config import PhysicsSettings

PHYSICS_TARGETS: tuple[str, ...] = ("cold_start_s", "kv_cache_peak_frac")
PHYSICS_CONFIDENCE = "low"


DEFAULT_PHYSICS = PhysicsSettings()


class PhysicsEstimate(NamedTuple):
    """One target for n arms: (n, 3) q10/q50/q90 (NaN where the arm cannot be described or does not
    start) and per arm a reason line, or None."""

    values: np.ndarray
    reasons: list[str | None]


def physics_estimates(
    catalog: Catalog,
    cols: Columns,
    targets: Sequence[str],
    settings: PhysicsSettings = DEFAULT_PHYSICS,
    memory_share: float = GPU_MEMORY_UTILIZATION,
) -> dict[str, PhysicsEstimate]:
    """The physics targets among `targets` for the rows of `cols` (the cost model's axis columns or a
    history frame: model, gpu, tp, precision, kv_cache_dtype, concurrency, prompt_len, output_len,
    context_len)."""
    wanted = [t for t in PHYSICS_TARGETS if t in targets]
    if not wanted:
        return {}
    out: dict[str, PhysicsEstimate] = {}
    n = len(cols["model"])
    if "cold_start_s" in wanted:
        q50 = cold_start_seconds(catalog, cols, settings)
        out["cold_start_s"] = PhysicsEstimate(_band(q50, settings.cold_start_band), [None] * n)
    if "kv_cache_peak_frac" in wanted:
        demand = kv_demand(catalog, cols, memory_share)
        values = np.minimum(_band(demand, settings.kv_band), 1.0)
        out["kv_cache_peak_frac"] = PhysicsEstimate(values, kv_reasons(demand, settings.kv_warn_frac))
    return out


def cold_start_seconds(
    catalog: Catalog, cols: Columns, settings: PhysicsSettings = DEFAULT_PHYSICS
) -> np.ndarray:
    """Seconds from launch to serving: the checkpoint's bytes over the slower of storage and the TP
    ranks' PCIe links, plus the engine's own start."""
    weights = _weight_bytes(catalog, cols)
    pcie = lookup(cols["gpu"], lambda g: _pcie_gbs(catalog, g, settings))
    tp = _floats(cols["tp"])
    rate = np.minimum(settings.storage_read_gbs, tp * pcie) * 1e9
    return np.asarray(weights / rate + settings.engine_start_s, dtype=float)


def kv_demand(catalog: Catalog, cols: Columns, memory_share: float = GPU_MEMORY_UTILIZATION) -> np.ndarray:
    """KV cache the workload needs over the KV space per GPU (arms.py's kv_occupancy; > 1: vLLM
    preempts). NaN where the arm is not described or its weights leave no KV space (it does not start)."""
    tp = _floats(cols["tp"])
    tokens = _floats(cols["prompt_len"]) + _floats(cols["output_len"])
    if "context_len" in cols:
        tokens = np.where(np.isnan(tokens), _floats(cols["context_len"]), tokens)
    seqs = _floats(cols["concurrency"])
    kv_bits = lookup(cols["kv_cache_dtype"], lambda k: 8.0 if "fp8" in str(k).lower() else 16.0)
    keys = list(zip(_texts(cols["model"]), tp.tolist(), kv_bits.tolist(), strict=True))
    per_token = lookup(keys, lambda k: _kv_bytes_per_token_per_gpu(catalog, *k))
    memory = lookup(cols["gpu"], lambda g: _memory_bytes(catalog, g)) * memory_share
    space = memory - _weight_bytes(catalog, cols) / tp - OVERHEAD_BYTES
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(space > 0, per_token * seqs * tokens / space, math.nan), dtype=float)


def kv_reasons(demand: np.ndarray, warn: float = DEFAULT_PHYSICS.kv_warn_frac) -> list[str | None]:
    """A reason per arm whose KV cache is near or past full at peak; None otherwise."""
    out: list[str | None] = []
    for d in demand.tolist():
        if not math.isfinite(d) or d < warn:
            out.append(None)
        elif d < 1.0:
            out.append(f"kv_cache_peak_frac: KV cache {d:.0%} full at peak: preemption risk")
        else:
            out.append(
                f"kv_cache_peak_frac: the workload needs {d:.2f}x the KV cache space: vLLM will preempt requests"
            )
    return out


def physics_check(
    catalog: Catalog, rows: Columns, target: str, settings: PhysicsSettings = DEFAULT_PHYSICS
) -> dict[str, float | None]:
    """The physics estimate against labelled rows of a target (fewer than the trees need): MAPE of the
    median and the share of rows inside the stated band; None without rows."""
    y = _floats(rows[target]) if target in rows and len(rows[target]) else np.zeros(0)
    est = physics_estimates(catalog, rows, [target], settings).get(target) if len(y) else None
    if est is None:
        return {"mape": None, "coverage_band": None}
    q = est.values
    ok = np.isfinite(q).all(axis=1) & np.isfinite(y) & (y > 0)
    if not ok.any():
        return {"mape": None, "coverage_band": None}
    q, y = q[ok], y[ok]
    return {
        "mape": float(np.mean(np.abs(q[:, 1] - y) / y)),
        "coverage_band": float(np.mean((q[:, 0] <= y) & (y <= q[:, 2]))),
    }


def describe(settings: PhysicsSettings = DEFAULT_PHYSICS) -> dict[str, str]:
    """One line per physics target: what it is computed from and its band (evaluate prints it)."""
    return {
        "cold_start_s": (
            f"weight bytes / min({settings.storage_read_gbs:g} GB/s storage, TP x PCIe host-to-device) "
            f"+ {settings.engine_start_s:g} s engine start; q10-q90 = q50 / {settings.cold_start_band:g} "
            f"to q50 x {settings.cold_start_band:g}"
        ),
        "kv_cache_peak_frac": (
            "KV bytes per token x concurrency x (prompt + output) / KV space after weights (arms.py "
            f"kv_occupancy), clipped at 1; q10-q90 = q50 / {settings.kv_band:g} to q50 x {settings.kv_band:g}"
        ),
    }


def _band(q50: np.ndarray, factor: float) -> np.ndarray:
    return np.column_stack([q50 / factor, q50, q50 * factor])


def _floats(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    return np.array([math.nan if v is None else float(v) for v in arr], dtype=float)


def _texts(values: Any) -> list[str]:
    return [str(v) for v in values]


def _weight_bytes(catalog: Catalog, cols: Columns) -> np.ndarray:
    """The checkpoint's bytes at the arm's precision (every expert; NaN when not described)."""
    keys = list(zip(_texts(cols["model"]), _texts(cols["precision"]), strict=True))

    def one(key: tuple[str, str]) -> float:
        m = catalog.model(key[0])
        return float(m.weight_bytes(key[1])) if m is not None and key[1] in WEIGHT_BITS else math.nan

    return np.asarray(lookup(keys, one), dtype=float)


def _kv_bytes_per_token_per_gpu(catalog: Catalog, model: str, tp: float, kv_bits: float) -> float:
    m = catalog.model(model)
    if m is None or not math.isfinite(tp) or tp < 1:
        return math.nan
    return float(kv_bytes_per_gpu(m, int(tp), 1.0, kv_bits))


def _memory_bytes(catalog: Catalog, gpu: object) -> float:
    g = catalog.gpu(str(gpu))
    return g.memory_gb * 1e9 if g is not None else math.nan


def _pcie_gbs(catalog: Catalog, gpu: object, settings: PhysicsSettings) -> float:
    g = catalog.gpu(str(gpu))
    if g is None:
        return math.nan
    return settings.pcie_h2d_gbs_by_kind.get(g.name, settings.pcie_h2d_gbs)


def physics_report(
    catalog: Catalog, rows: Columns, target: str, settings: PhysicsSettings = DEFAULT_PHYSICS
) -> dict[str, Any]:
    """`evaluate`'s entry for a physics target that has too few labelled rows for trees: its source,
    confidence, formula and band, and how the estimate fares on the labelled rows there are (null
    without any)."""
    return {
        "source": "physics",
        "confidence": PHYSICS_CONFIDENCE,
        "reason": f"physics estimate (low confidence) until {MIN_LABELLED_ROWS} labelled rows train trees",
        "physics": describe(settings)[target],
        **physics_check(catalog, rows, target, settings),
    }
