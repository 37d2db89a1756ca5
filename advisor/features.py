"""The featurizer: one numeric matrix from the axes of history rows or of arm queries.

Every axis the advisor can be asked about is represented before data on it exists (the paper's
feature-before-data rule): the one-hot vocabularies come from the catalogs and the schema, not
from the training rows, and GPU kinds are also described by their datasheet numbers so a kind
with few rows is related to the kinds the model knows. The vocabularies are stored in the model
artifact, so a model keeps its own feature layout after the catalogs grow.

Input is a mapping of column name → sequence (a pandas frame works, and so does a dict of lists
built from queries); missing numbers are NaN, which LightGBM routes natively.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from omnipilot.advisor.catalog import BITS, PRECISIONS, Catalog
from omnipilot.advisor.roofline import roofline_tokens_per_s
from omnipilot.collectors.rows import LoadRegime

LOAD_REGIMES: tuple[str, ...] = LoadRegime.__args__  # type: ignore[attr-defined]
RooflineMode = Literal["none", "feature", "offset"]
# Axis columns: a history frame, or a dict of lists built from queries.
Columns = Mapping[str, Any] | pd.DataFrame

# Columns the featurizer reads; `load_frame` provides all of them (engine_version may be absent).
AXIS_COLUMNS: tuple[str, ...] = (
    "model",
    "family",
    "params_b",
    "active_params_b",
    "gpu",
    "tp",
    "precision",
    "kv_cache_dtype",
    "engine",
    "load_regime",
    "context_len",
    "prompt_len",
    "output_len",
    "concurrency",
    "engine_version",
)

NUMERIC_FEATURES: tuple[str, ...] = (
    "log_params_b",
    "log_active_params_b",
    "is_moe",
    "log_concurrency",
    "log_context",
    "log_prompt_len",
    "log_output_len",
    "log_kv_pressure",
    "weight_mem_frac",
    "tp",
    "effective_bits",
    "kv_bits",
    "gpu_memory_gb",
    "log_mem_bw_gbs",
    "log_tflops",
    "fp8_compute",
    "log_interconnect_gbs",
    "engine_version",
)

# Free memory vLLM may use is 0.9 of the card; runtime overhead ~2 GiB per GPU (as advisor/arms.py).
_MEM_UTIL = 0.9
_OVERHEAD_BYTES = 2.0 * 1024.0**3


class FeatureSpec(BaseModel):
    """The feature layout of one model: vocabularies fixed at training, stored in the artifact."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    families: tuple[str, ...]
    gpus: tuple[str, ...]
    precisions: tuple[str, ...] = PRECISIONS
    load_regimes: tuple[str, ...] = LOAD_REGIMES
    roofline: RooflineMode = "offset"

    @classmethod
    def from_catalog(cls, catalog: Catalog, roofline: RooflineMode = "offset") -> FeatureSpec:
        families = tuple(sorted({m.family for m in catalog.models}))
        return cls(families=families, gpus=tuple(g.name for g in catalog.gpus), roofline=roofline)

    def names(self) -> list[str]:
        out = list(NUMERIC_FEATURES)
        out += [f"precision={p}" for p in self.precisions]
        out += [f"load_regime={r}" for r in self.load_regimes]
        out += [f"family={f}" for f in self.families]
        out += [f"gpu={g}" for g in self.gpus]
        if self.roofline == "feature":
            out.append("log_roofline_tokens_per_s")
        return out


def engine_version_number(version: object) -> float:
    """'0.9.2' / 'v0.11.0' → 9.2 / 11.0 (minor.patch of 0.x releases; major*100 for 1.x+)."""
    if not isinstance(version, str) or not version:
        return math.nan
    parts = version.lstrip("vV").split(".")
    try:
        nums = [int("".join(ch for ch in p if ch.isdigit()) or "0") for p in parts[:3]]
    except ValueError:
        return math.nan
    nums += [0] * (3 - len(nums))
    return nums[0] * 100.0 + nums[1] + nums[2] / 10.0


class Featurizer:
    """Turns axis columns into the model's matrix; catalog lookups are memoised per name."""

    def __init__(self, spec: FeatureSpec, catalog: Catalog) -> None:
        self.spec = spec
        self.catalog = catalog
        self.names = spec.names()
        self._gpu_cache: dict[str, tuple[float, ...]] = {}
        self._kv_cache: dict[str, float] = {}
        self._fam_index = {f: i for i, f in enumerate(spec.families)}
        self._gpu_index = {g: i for i, g in enumerate(spec.gpus)}

    def gpu_numbers(self, name: object) -> tuple[float, ...]:
        """(memory_gb, mem_bw_gbs, bf16_tflops, fp8_tflops, interconnect_gbs); NaN when unknown."""
        key = str(name)
        if key not in self._gpu_cache:
            g = self.catalog.gpu(key)
            nums = (
                (g.memory_gb, g.mem_bw_gbs, g.bf16_tflops, g.fp8_tflops, g.interconnect_gbs)
                if g
                else (math.nan,) * 5
            )
            self._gpu_cache[key] = nums
        return self._gpu_cache[key]

    def kv_bytes_per_token(self, model: object) -> float:
        """16-bit KV bytes per token for a model (all layers, K and V); NaN when not in the catalog."""
        key = str(model)
        if key not in self._kv_cache:
            m = self.catalog.model(key)
            self._kv_cache[key] = m.kv_bytes_per_token(16.0) if m else math.nan
        return self._kv_cache[key]

    def gpu_name(self, name: object) -> str:
        g = self.catalog.gpu(str(name))
        return g.name if g else str(name)

    def transform(self, cols: Columns) -> np.ndarray:
        """The (n, len(names)) float matrix for these rows."""
        n = len(cols["model"])
        num = _numbers(cols, n)
        gpu = np.array([self.gpu_numbers(g) for g in cols["gpu"]], dtype=float).reshape(n, 5)
        kvpt = np.array([self.kv_bytes_per_token(m) for m in cols["model"]], dtype=float)
        precision = [str(p) for p in cols["precision"]]
        bits = np.array([BITS.get(p, math.nan) for p in precision])
        kv_bits = np.array([8.0 if "fp8" in str(k).lower() else 16.0 for k in cols["kv_cache_dtype"]])
        tokens = np.where(
            np.isnan(num["prompt_len"] + num["output_len"]),
            num["context_len"],
            num["prompt_len"] + num["output_len"],
        )
        weights_per_gpu = num["params_b"] * 1e9 * _weight_bits(precision) / 8.0 / num["tp"]
        usable = gpu[:, 0] * 1e9 * _MEM_UTIL
        free = np.maximum(usable - weights_per_gpu - _OVERHEAD_BYTES, 0.05 * usable)
        kv_need = num["concurrency"] * tokens * kvpt * (kv_bits / 16.0) / num["tp"]
        fp8 = (gpu[:, 3] > 0).astype(float)
        tflops = np.where((bits == 8.0) & (fp8 > 0), gpu[:, 3], gpu[:, 2])
        active = np.where(np.isnan(num["active_params_b"]), num["params_b"], num["active_params_b"])
        cols_out = [
            np.log(num["params_b"]),
            np.log(active),
            (active < num["params_b"]).astype(float),
            np.log(num["concurrency"]),
            np.log(num["context_len"]),
            np.log(num["prompt_len"]),
            np.log(num["output_len"]),
            np.log(kv_need / free),
            weights_per_gpu / (gpu[:, 0] * 1e9),
            num["tp"],
            bits,
            kv_bits,
            gpu[:, 0],
            np.log(gpu[:, 1]),
            np.log(tflops),
            fp8,
            np.log(gpu[:, 4] + 1.0),
            np.array([engine_version_number(v) for v in cols.get("engine_version", [None] * n)]),
        ]
        onehots = [
            _onehot(precision, {p: i for i, p in enumerate(self.spec.precisions)}, n),
            _onehot(
                [str(r) for r in cols["load_regime"]], {r: i for i, r in enumerate(self.spec.load_regimes)}, n
            ),
            _onehot([str(f) for f in cols["family"]], self._fam_index, n),
            _onehot([self.gpu_name(g) for g in cols["gpu"]], self._gpu_index, n),
        ]
        parts = [np.column_stack(cols_out), *onehots]
        if self.spec.roofline == "feature":
            parts.append(np.log(self.roofline(cols))[:, None])
        with np.errstate(invalid="ignore"):
            return np.ascontiguousarray(np.hstack(parts), dtype=np.float64)

    def roofline(self, cols: Columns) -> np.ndarray:
        """Roofline total tokens/s per row (NaN where the model or GPU is not in the catalog)."""
        n = len(cols["model"])
        num = _numbers(cols, n)
        gpu = np.array([self.gpu_numbers(g) for g in cols["gpu"]], dtype=float).reshape(n, 5)
        kvpt = np.array([self.kv_bytes_per_token(m) for m in cols["model"]], dtype=float)
        precision = [str(p) for p in cols["precision"]]
        kv_bits = np.array([8.0 if "fp8" in str(k).lower() else 16.0 for k in cols["kv_cache_dtype"]])
        active = np.where(np.isnan(num["active_params_b"]), num["params_b"], num["active_params_b"])
        prompt = np.where(np.isnan(num["prompt_len"]), num["context_len"] / 2.0, num["prompt_len"])
        output = np.where(np.isnan(num["output_len"]), num["context_len"] / 2.0, num["output_len"])
        return roofline_tokens_per_s(
            params_b=num["params_b"],
            active_params_b=active,
            weight_bits=_weight_bits(precision),
            compute_fp8=np.array([p == "fp8" for p in precision]),
            tp=num["tp"],
            concurrency=num["concurrency"],
            prompt_len=prompt,
            output_len=output,
            kv_bytes_per_token=kvpt * kv_bits / 16.0,
            mem_bw_gbs=gpu[:, 1],
            bf16_tflops=gpu[:, 2],
            fp8_tflops=gpu[:, 3],
        )


def _numbers(cols: Columns, n: int) -> dict[str, np.ndarray]:
    keys = ("params_b", "active_params_b", "tp", "context_len", "prompt_len", "output_len", "concurrency")
    out: dict[str, np.ndarray] = {}
    for k in keys:
        raw = cols.get(k)
        out[k] = np.full(n, math.nan) if raw is None else _as_float(raw)
    # The context a run held is at least its prompt + output; fixed-batch rows record no max length.
    ctx_floor = out["prompt_len"] + out["output_len"]
    out["context_len"] = np.where(np.isnan(out["context_len"]), ctx_floor, out["context_len"])
    return out


def _as_float(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    return np.array([math.nan if v is None else float(v) for v in arr], dtype=float)


def _weight_bits(precision: Sequence[str]) -> np.ndarray:
    # Same effective bits as ModelSpec.weight_bytes: 4-bit formats keep embeddings in 16 bit + scales.
    table = {"bf16": 16.0, "fp8": 8.3, "awq": 4.6, "gptq": 4.6}
    return np.array([table.get(p, math.nan) for p in precision])


def _onehot(values: Sequence[str], index: Mapping[str, int], n: int) -> np.ndarray:
    out = np.zeros((n, len(index)))
    for row, v in enumerate(values):
        col = index.get(v)
        if col is not None:
            out[row, col] = 1.0
    return out
