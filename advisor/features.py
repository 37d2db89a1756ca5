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
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from omnipilot.advisor.roofline import prefill_seconds, roofline_tokens_per_s
from omnipilot.catalog import BITS, PRECISIONS, WEIGHT_BITS, Catalog
from omnipilot.collectors.rows import LoadRegime

LOAD_REGIMES: tuple[str, ...] = LoadRegime.__args__  # type: ignore[attr-defined]
RooflineMode = Literal["none", "feature", "offset"]
# How a GPU kind enters the matrix: "identity" (format of older models: a one-hot per kind, which
# can override the hardware numbers) or "numbers" (only its numbers plus its software stack, with
# monotone constraints on the numbers: issue 15, "physics first, trees second").
HardwareMode = Literal["identity", "numbers"]
# The software stack a vendor's GPUs run vLLM on: CUDA and ROCm rows must not stand in for each other.
STACKS: tuple[str, ...] = ("cuda", "rocm", "other")
_STACK_OF_VENDOR = {"nvidia": "cuda", "amd": "rocm"}

# Direction in which a tokens/s-like target moves with each hardware feature, other features held:
# more memory, bandwidth, FLOP/s, FP8 units or interconnect never slow an arm; a larger KV or
# weight share of memory never speeds it. A faster GPU (>= on every number) moves all of them the
# "better" way, so the trees can never predict it slower (LightGBM monotone_constraints).
HARDWARE_DIRECTIONS: dict[str, int] = {
    "gpu_memory_gb": 1,
    "log_mem_bw_gbs": 1,
    "log_tflops": 1,
    "fp8_compute": 1,
    "log_interconnect_gbs": 1,
    "log_kv_pressure": -1,
    "weight_mem_frac": -1,
    "log_kv_overflow": -1,
}
# Axis columns (collectors/store.py FRAME_COLUMNS): a history frame, or a dict of lists built from queries.
Columns = Mapping[str, Any] | pd.DataFrame

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

# The "numbers" layout: the KV cache enters only where it overflows (pressure > 1: vLLM preempts;
# below that the cache size changes nothing physical), and the weights by their bytes per GPU (no
# GPU number in it), so every feature that moves with the GPU kind has a physical direction.
NUMBERS_LAYOUT_FEATURES: tuple[str, ...] = (
    *(
        {"log_kv_pressure": "log_kv_overflow", "weight_mem_frac": "log_weight_gb_per_gpu"}.get(f, f)
        for f in NUMERIC_FEATURES
    ),
    "log_kv_gb_per_gpu",
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
    hardware: HardwareMode = "identity"

    @classmethod
    def from_catalog(
        cls, catalog: Catalog, roofline: RooflineMode = "offset", hardware: HardwareMode = "identity"
    ) -> FeatureSpec:
        families = tuple(sorted({m.family for m in catalog.models}))
        return cls(
            families=families, gpus=tuple(g.name for g in catalog.gpus), roofline=roofline, hardware=hardware
        )

    def names(self) -> list[str]:
        out = list(NUMERIC_FEATURES if self.hardware == "identity" else NUMBERS_LAYOUT_FEATURES)
        out += [f"precision={p}" for p in self.precisions]
        out += [f"load_regime={r}" for r in self.load_regimes]
        out += [f"family={f}" for f in self.families]
        if self.hardware == "identity":
            out += [f"gpu={g}" for g in self.gpus]
        else:
            out += [f"stack={s}" for s in STACKS]
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
        self._name_cache: dict[str, str] = {}
        self._fam_index = {f: i for i, f in enumerate(spec.families)}
        self._gpu_index = {g: i for i, g in enumerate(spec.gpus)}
        self._precision_index = {p: i for i, p in enumerate(spec.precisions)}
        self._regime_index = {r: i for i, r in enumerate(spec.load_regimes)}
        self._stack_index = {s: i for i, s in enumerate(STACKS)}

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

    def gpu_stack(self, name: object) -> str:
        """The GPU kind's software stack (cuda / rocm / other); "" when the kind is unknown."""
        g = self.catalog.gpu(str(name))
        return _STACK_OF_VENDOR.get(g.vendor, "other") if g else ""

    def kv_bytes_per_token(self, model: object) -> float:
        """16-bit KV bytes per token for a model (all layers, K and V); NaN when not in the catalog."""
        key = str(model)
        if key not in self._kv_cache:
            m = self.catalog.model(key)
            self._kv_cache[key] = m.kv_bytes_per_token(16.0) if m else math.nan
        return self._kv_cache[key]

    def gpu_name(self, name: object) -> str:
        key = str(name)
        if key not in self._name_cache:
            g = self.catalog.gpu(key)
            self._name_cache[key] = g.name if g else key
        return self._name_cache[key]

    def transform(self, cols: Columns) -> np.ndarray:
        """The (n, len(names)) float matrix for these rows."""
        n = len(cols["model"])
        num = _numbers(cols, n)
        gpu, kvpt, kv_bits = self._row_lookups(cols)
        precision = cols["precision"]
        bits = lookup(precision, lambda p: BITS.get(str(p), math.nan))
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
        versions = cols.get("engine_version")
        identity = self.spec.hardware == "identity"
        cols_out = [
            np.log(num["params_b"]),
            np.log(active),
            (active < num["params_b"]).astype(float),
            np.log(num["concurrency"]),
            np.log(num["context_len"]),
            np.log(num["prompt_len"]),
            np.log(num["output_len"]),
            np.log(kv_need / free) if identity else np.maximum(np.log(kv_need / free), 0.0),
            weights_per_gpu / (gpu[:, 0] * 1e9) if identity else np.log(weights_per_gpu / 1e9),
            num["tp"],
            bits,
            kv_bits,
            gpu[:, 0],
            np.log(gpu[:, 1]),
            np.log(tflops),
            fp8,
            np.log(gpu[:, 4] + 1.0),
            np.full(n, math.nan) if versions is None else lookup(versions, engine_version_number),
        ]
        if not identity:
            cols_out.append(np.log(kv_need / 1e9))
        onehots = [
            _onehot(precision, str, self._precision_index, n),
            _onehot(cols["load_regime"], str, self._regime_index, n),
            _onehot(cols["family"], str, self._fam_index, n),
            _onehot(cols["gpu"], self.gpu_name, self._gpu_index, n)
            if self.spec.hardware == "identity"
            else _onehot(cols["gpu"], self.gpu_stack, self._stack_index, n),
        ]
        parts = [np.column_stack(cols_out), *onehots]
        if self.spec.roofline == "feature":
            parts.append(np.log(self.roofline(cols))[:, None])
        with np.errstate(invalid="ignore"):
            return np.ascontiguousarray(np.hstack(parts), dtype=np.float64)

    def _row_lookups(self, cols: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: GPU datasheet numbers (n, 5), 16-bit KV bytes per token, KV cache bits."""
        gpu = lookup(cols["gpu"], self.gpu_numbers, (5,))
        kvpt = lookup(cols["model"], self.kv_bytes_per_token)
        kv_bits = lookup(cols["kv_cache_dtype"], lambda k: 8.0 if "fp8" in str(k).lower() else 16.0)
        return gpu, kvpt, kv_bits

    def _physics_inputs(self, cols: Columns, gpu: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The per-row numbers both physics estimates read (decode roofline and prefill), and the axes."""
        num = _numbers(cols, len(cols["model"]))
        precision = cols["precision"]
        shared = {
            "active_params_b": np.where(np.isnan(num["active_params_b"]), num["params_b"], num["active_params_b"]),
            "weight_bits": _weight_bits(precision),
            "compute_fp8": lookup(precision, lambda p: str(p) == "fp8", dtype=bool),
            "tp": num["tp"],
            "concurrency": num["concurrency"],
            "prompt_len": np.where(np.isnan(num["prompt_len"]), num["context_len"] / 2.0, num["prompt_len"]),
            "mem_bw_gbs": gpu[:, 1],
            "bf16_tflops": gpu[:, 2],
            "fp8_tflops": gpu[:, 3],
        }
        return shared, num

    def roofline(self, cols: Columns) -> np.ndarray:
        """Roofline total tokens/s per row (NaN where the model or GPU is not in the catalog)."""
        gpu, kvpt, kv_bits = self._row_lookups(cols)
        shared, num = self._physics_inputs(cols, gpu)
        output = np.where(np.isnan(num["output_len"]), num["context_len"] / 2.0, num["output_len"])
        return roofline_tokens_per_s(
            params_b=num["params_b"], output_len=output, kv_bytes_per_token=kvpt * kv_bits / 16.0, **shared
        )

    def prefill(self, cols: Columns) -> np.ndarray:
        """Physics TTFT in seconds per row (roofline.prefill_seconds; NaN where not described)."""
        shared, _ = self._physics_inputs(cols, lookup(cols["gpu"], self.gpu_numbers, (5,)))
        return np.asarray(prefill_seconds(**shared), dtype=float)


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
    if (
        isinstance(values, np.ndarray | pd.Series)
        and isinstance(values.dtype, np.dtype)
        and values.dtype.kind in "iuf"
    ):
        return np.asarray(values, dtype=float)  # already numbers: no per-row work
    arr = np.asarray(values, dtype=object)
    return np.array([math.nan if v is None else float(v) for v in arr], dtype=float)


def _weight_bits(precision: Iterable[Any]) -> np.ndarray:
    # Same effective bits as ModelSpec.weight_bytes: 4-bit formats keep embeddings in 16 bit + scales.
    return lookup(precision, lambda p: WEIGHT_BITS.get(str(p), math.nan))


class TextColumn(list[str]):
    """A column holding only `str`, built once on the request path and never edited: its
    factorisation is worked out once and kept on it (the featurizer, the roofline and every
    target's envelope read the same columns)."""

    factored: tuple[list[str], np.ndarray] | None = None


def factor(values: Iterable[Any]) -> tuple[list[Any], np.ndarray]:
    """(distinct values in first-seen order, each row's index into them)."""
    if isinstance(values, TextColumn):
        if values.factored is None:
            index = {v: i for i, v in enumerate(dict.fromkeys(values))}
            values.factored = (list(index), np.array([index[v] for v in values], dtype=np.intp))
        return values.factored
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        distinct, inverse = np.unique(values, return_inverse=True)
        return list(distinct), inverse.astype(np.intp).reshape(len(values))
    return _factor_keyed(values)


def _factor_keyed(values: Iterable[Any]) -> tuple[list[Any], np.ndarray]:
    # Key with the type: 1, 1.0 and True are equal as keys but not as text.
    keyed: dict[tuple[type, Any], int] = {}
    uniq: list[Any] = []
    codes: list[int] = []
    for v in values:
        k = (v.__class__, v)
        c = keyed.get(k)
        if c is None:
            c = keyed[k] = len(uniq)
            uniq.append(v)
        codes.append(c)
    return uniq, np.array(codes, dtype=np.intp)


def lookup(
    values: Iterable[Any], fn: Callable[[Any], Any], shape: tuple[int, ...] = (), dtype: type = float
) -> np.ndarray:
    """np.array([fn(v) for v in values]) (rows × shape), calling fn once per distinct value."""
    uniq, codes = factor(values)
    table: np.ndarray = np.array([fn(u) for u in uniq], dtype=dtype).reshape(len(uniq), *shape)
    return np.asarray(table[codes])


def _onehot(values: Iterable[Any], key: Callable[[Any], str], index: Mapping[str, int], n: int) -> np.ndarray:
    out = np.zeros((n, len(index)))
    uniq, codes = factor(values)
    where = np.array([index.get(key(u), -1) for u in uniq], dtype=np.intp)[codes]
    rows = np.flatnonzero(where >= 0)
    out[rows, where[rows]] = 1.0
    return out
