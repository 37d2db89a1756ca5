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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from omnipilot.advisor import quant_effects
from omnipilot.advisor.roofline import prefill_seconds, roofline_tokens_per_s
from omnipilot.catalog import BITS, PRECISIONS, WEIGHT_BITS, Catalog, GpuSpec
from omnipilot.collectors.rows import LoadRegime

LOAD_REGIMES: tuple[str, ...] = LoadRegime.__args__  # type: ignore[attr-defined]
RooflineMode = Literal["none", "feature", "offset"]
# How a GPU kind enters the matrix (issue 15, "physics first, trees second"):
# - "identity" (older models): a one-hot per kind, which can override the hardware numbers;
# - "numbers": only its numbers plus its software stack, with monotone constraints on the numbers;
# - "physics" (the default): "numbers" plus the kind's place in the hardware order, one flag per kind
#   it is at least as good as ("gpu_at_least=K": same vendor, >= on memory, bandwidth, TFLOP/s at
#   the row's precision and interconnect; a kind is at least itself). The flags are constrained like
#   the numbers, so the trees can still learn what a kind does beyond its datasheet, but only as a
#   step up the order: a faster kind carries every flag of a slower one and is never predicted slower.
HardwareMode = Literal["identity", "numbers", "physics"]
DOMINANCE_PREFIX = "gpu_at_least="
# The roofline's ceilings: the datasheet, or measured where etc/gpus.toml has a measurement (a kind
# of the same vendor and compute capability takes the measured kind's ratio). "measured" is an
# option, not the default: on the public rows it gave held-out-cell tokens_per_s MAPE 8.1 % against
# 7.8 %, and an H200 ÷ H100 ratio of 0.96 against 1.13 (paired TensorRT-LLM rows: 1.26), because
# it moves the H200 next to the H100 while the trees' split points sit between the datasheet values.
CeilingMode = Literal["datasheet", "measured"]
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
# In the "physics" layout the flags carry the order, and of the numbers only those whose constraint
# costs no accuracy are constrained (memory, FP8 units, KV overflow). Constraining bandwidth, TFLOP/s
# and interconnect as well would force the trees' correction to the roofline to rise with them too,
# while measured efficiency (tokens/s ÷ roofline) falls on faster cards: held-out-cell tokens_per_s
# error went from 7.9 % to 16.6 %. What they leave open, `training.ordered_raw` closes at prediction.
PHYSICS_CONSTRAINED: frozenset[str] = frozenset({"gpu_memory_gb", "fp8_compute", "log_kv_overflow"})
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

# Quantization by what it does (advisor/quant_effects.py), with FeatureSpec.quant != "none": bytes
# per weight, activation bits, Marlin kernel or not, and log(measured throughput ÷ BF16) of that
# precision and kernel, appended after every other column (the older layouts are unchanged).
# "effects_physics" also lets weight-only kernels compute at their measured share of the card's
# 16-bit FLOP/s in the roofline; not the default: held out, it double-counts with what the trees
# already learn for 4-bit weights (docs/costmodel.md, "Quantization").
QuantMode = Literal["none", "effects", "effects_physics"]
QUANT_FEATURES: tuple[str, ...] = (
    "quant_bytes_per_weight",
    "quant_activation_bits",
    "quant_marlin",
    "log_quant_measured_penalty",
)


class FeatureSpec(BaseModel):
    """The feature layout of one model: vocabularies fixed at training, stored in the artifact."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    families: tuple[str, ...]
    gpus: tuple[str, ...]
    precisions: tuple[str, ...] = PRECISIONS
    load_regimes: tuple[str, ...] = LOAD_REGIMES
    roofline: RooflineMode = "offset"
    hardware: HardwareMode = "identity"
    quant: QuantMode = "none"  # artifacts written before the quantization columns lack the field
    # (faster, slower) kind pairs the hardware order leaves out because the measured rows contradict
    # them (training.order_exceptions): "never slower unless measured rows say so".
    order_exceptions: tuple[tuple[str, str], ...] = ()
    # (target, low, high): the range of log(measured ÷ physics base) over the training rows; a slower
    # kind's prediction lifts a faster one only within it (training.ordered_raw)
    efficiency_bounds: tuple[tuple[str, float, float], ...] = ()
    # The roofline's ceilings: datasheet (older artifacts) or measured where etc/gpus.toml has them.
    ceilings: CeilingMode = "datasheet"

    @classmethod
    def from_catalog(
        cls,
        catalog: Catalog,
        roofline: RooflineMode = "offset",
        hardware: HardwareMode = "physics",
        quant: QuantMode = "effects",
        ceilings: CeilingMode = "datasheet",
        families: Iterable[str] | None = None,
    ) -> FeatureSpec:
        """`families`: the family columns to keep (training passes those of its rows, so a catalog
        entry of a new family does not change a model trained on the same rows); default: all."""
        kept = {m.family for m in catalog.models} if families is None else set(families)
        return cls(
            families=tuple(sorted(kept)),
            gpus=tuple(g.name for g in catalog.gpus),
            roofline=roofline,
            hardware=hardware,
            quant=quant,
            ceilings=ceilings,
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
        if self.hardware == "physics":
            out += [f"{DOMINANCE_PREFIX}{g}" for g in self.gpus]
        if self.roofline == "feature":
            out.append("log_roofline_tokens_per_s")
        if self.quant != "none":
            out += QUANT_FEATURES
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
        self._dominance_cache: dict[tuple[str, bool], tuple[float, ...]] = {}
        self._quant_cache: dict[tuple[str, object, bool], tuple[float, float, float, float, float]] = {}

    def gpu_numbers(self, name: object) -> tuple[float, ...]:
        """(memory_gb, mem_bw_gbs, bf16_tflops, fp8_tflops, interconnect_gbs); NaN when unknown."""
        key = str(name)
        if key not in self._gpu_cache:
            g = self.catalog.gpu(key)
            if g is None:
                nums: tuple[float, ...] = (math.nan,) * 5
            else:
                bw, bf16, fp8 = g.mem_bw_gbs, g.bf16_tflops, g.fp8_tflops
                if self.spec.ceilings == "measured":
                    bw, bf16, fp8 = (
                        v * r for v, r in zip((bw, bf16, fp8), self._measured_ratios(g), strict=True)
                    )
                nums = (g.memory_gb, bw, bf16, fp8, g.interconnect_gbs)
            self._gpu_cache[key] = nums
        return self._gpu_cache[key]

    def _measured_ratios(self, g: GpuSpec) -> tuple[float, float, float]:
        """Measured ÷ datasheet (bandwidth, bf16, fp8) of this kind; a kind not measured takes the
        mean ratio of the measured kinds of its vendor and compute capability (same die design), 1
        where there are none."""

        def ratios(k: GpuSpec) -> tuple[float, ...]:
            pairs = ((k.measured_mem_bw_gbs, k.mem_bw_gbs), (k.measured_bf16_tflops, k.bf16_tflops),
                     (k.measured_fp8_tflops, k.fp8_tflops))  # fmt: skip
            return tuple(m / d if m > 0 and d > 0 else math.nan for m, d in pairs)

        own = ratios(g)
        peers = [
            ratios(k) for k in self.catalog.gpus
            if k.vendor == g.vendor and k.compute_capability == g.compute_capability and k.compute_capability > 0
        ]  # fmt: skip
        out = []
        for i, r in enumerate(own):
            found = [p[i] for p in peers if math.isfinite(p[i])]
            out.append(r if math.isfinite(r) else (sum(found) / len(found) if found else 1.0))
        return out[0], out[1], out[2]

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
        weights_per_gpu, dynamic = self._workload_values(cols, num, gpu, kvpt, kv_bits)
        identity = self.spec.hardware == "identity"
        # Outside the identity layout FP8 units count only where the arm computes in FP8: for a bf16
        # arm they change nothing, and as a +1-constrained flag they would rank an FP8 card above a
        # faster one without.
        fp8 = ((gpu[:, 3] > 0) & (identity | (bits == 8.0))).astype(float)
        tflops = np.where((bits == 8.0) & (fp8 > 0), gpu[:, 3], gpu[:, 2])
        active = np.where(np.isnan(num["active_params_b"]), num["params_b"], num["active_params_b"])
        versions = cols.get("engine_version")
        cols_out = [
            np.log(num["params_b"]),
            np.log(active),
            (active < num["params_b"]).astype(float),
            *dynamic[:5],
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
            cols_out.append(dynamic[5])
        onehots = [
            _onehot(precision, str, self._precision_index, n),
            _onehot(cols["load_regime"], str, self._regime_index, n),
            _onehot(cols["family"], str, self._fam_index, n),
            _onehot(cols["gpu"], self.gpu_name, self._gpu_index, n)
            if self.spec.hardware == "identity"
            else _onehot(cols["gpu"], self.gpu_stack, self._stack_index, n),
        ]
        parts = [np.column_stack(cols_out), *onehots]
        if self.spec.hardware == "physics":
            parts.append(self.dominance(cols["gpu"], bits == 8.0))
        if self.spec.roofline == "feature":
            parts.append(dynamic[-1][:, None])
        if self.spec.quant != "none":
            parts.append(self.quant_columns(cols))
        with np.errstate(invalid="ignore"):
            return np.ascontiguousarray(np.hstack(parts), dtype=np.float64)

    def workload_features(self) -> list[int]:
        """The columns that move with the workload's lengths and concurrency (`_workload_values`
        order); the others depend on the arm (model, GPU kind, TP, precision) and on the engine,
        load regime and KV cache dtype only."""
        identity = self.spec.hardware == "identity"
        names = ["log_concurrency", "log_context", "log_prompt_len", "log_output_len"]
        names.append("log_kv_pressure" if identity else "log_kv_overflow")
        if not identity:
            names.append("log_kv_gb_per_gpu")
        if self.spec.roofline == "feature":
            names.append("log_roofline_tokens_per_s")
        return [self.names.index(k) for k in names]

    def transform_workload(self, cols: Columns, same_arms: np.ndarray) -> np.ndarray:
        """`transform(cols)` from the matrix of the same rows under another workload (lengths and
        concurrency; same engine, load regime and KV cache dtype): only the workload's columns are
        worked out again, with transform's own code. `same_arms` is not modified."""
        n = len(cols["model"])
        num = _numbers(cols, n)
        gpu, kvpt, kv_bits = self._row_lookups(cols)
        _, dynamic = self._workload_values(cols, num, gpu, kvpt, kv_bits)
        x = same_arms.copy()
        x[:, self.workload_features()] = np.column_stack(dynamic)
        return x

    def _workload_values(
        self,
        cols: Columns,
        num: dict[str, np.ndarray],
        gpu: np.ndarray,
        kvpt: np.ndarray,
        kv_bits: np.ndarray,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Weight bytes per GPU, and the workload's columns in `workload_features` order."""
        tokens = np.where(
            np.isnan(num["prompt_len"] + num["output_len"]),
            num["context_len"],
            num["prompt_len"] + num["output_len"],
        )
        weights_per_gpu = num["params_b"] * 1e9 * _weight_bits(cols["precision"]) / 8.0 / num["tp"]
        usable = gpu[:, 0] * 1e9 * _MEM_UTIL
        free = np.maximum(usable - weights_per_gpu - _OVERHEAD_BYTES, 0.05 * usable)
        kv_need = num["concurrency"] * tokens * kvpt * (kv_bits / 16.0) / num["tp"]
        identity = self.spec.hardware == "identity"
        out = [
            np.log(num["concurrency"]),
            np.log(num["context_len"]),
            np.log(num["prompt_len"]),
            np.log(num["output_len"]),
            np.log(kv_need / free) if identity else np.maximum(np.log(kv_need / free), 0.0),
        ]
        if not identity:
            out.append(np.log(kv_need / 1e9))
        if self.spec.roofline == "feature":
            out.append(np.log(self.roofline(cols)))
        return weights_per_gpu, out

    def dominance(self, gpus: Iterable[Any], fp8_arm: np.ndarray) -> np.ndarray:
        """(n, len(spec.gpus)) 0/1: the row's GPU kind is at least kind k at the row's precision."""
        uniq, codes = factor(gpus)
        tables = [self._dominance_table(uniq, fp8) for fp8 in (False, True)]
        return np.asarray(np.where(fp8_arm[:, None], tables[1][codes], tables[0][codes]), dtype=float)

    def dominated(self, cols: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, kind) index pairs: every GPU kind of spec.gpus strictly below each row's kind in
        the hardware order (same vendor, <= on every number at the row's precision), the row's own
        kind left out; and each row's own kind (-1: not in spec.gpus). What `training.ordered_raw`
        compares to keep the physics order."""
        bits = lookup(cols["precision"], lambda p: BITS.get(str(p), math.nan))
        flags = self.dominance(cols["gpu"], bits == 8.0) > 0
        own = lookup(cols["gpu"], lambda g: self._gpu_index.get(self.gpu_name(g), -1), dtype=int)
        rows = np.flatnonzero(own >= 0)
        flags[rows, own[rows]] = False
        pairs = np.nonzero(flags)
        return pairs[0].astype(np.intp), pairs[1].astype(np.intp), own

    def _dominance_table(self, names: Sequence[Any], fp8: bool) -> np.ndarray:
        rows = [self._dominance_row(str(name), fp8) for name in names]
        return np.array(rows, dtype=float).reshape(len(names), len(self.spec.gpus))

    def _dominance_row(self, name: str, fp8: bool) -> tuple[float, ...]:
        key = (name, fp8)
        if key not in self._dominance_cache:
            self._dominance_cache[key] = tuple(self._dominance_rows([name], fp8)[0])
        return self._dominance_cache[key]

    def _dominance_rows(self, names: Sequence[Any], fp8: bool) -> np.ndarray:
        def hardware(name: object) -> tuple[str, tuple[float, ...]] | None:
            g = self.catalog.gpu(str(name))
            if g is None:
                return None
            tflops = g.fp8_tflops if fp8 and g.fp8_tflops > 0 else g.bf16_tflops
            return g.vendor, (g.memory_gb, g.mem_bw_gbs, tflops, g.interconnect_gbs)

        kinds = [hardware(k) for k in self.spec.gpus]
        skip = set(self.spec.order_exceptions)
        out = np.zeros((len(names), len(kinds)))
        for i, name in enumerate(names):
            row = hardware(name)
            for j, kind in enumerate(kinds):
                if row is None or kind is None or row[0] != kind[0]:
                    continue
                if (self.gpu_name(name), self.spec.gpus[j]) not in skip:
                    out[i, j] = float(all(a >= b for a, b in zip(row[1], kind[1], strict=True)))
        return out

    def at_least(self, faster: str, slower: str, fp8: bool = False) -> bool:
        """Whether kind `faster` is at least kind `slower` in this layout's hardware order."""
        if slower not in self._gpu_index:
            return False
        table = self._dominance_table([faster], fp8)
        return bool(table[0, self._gpu_index[slower]] > 0)

    # --- quantization by what it does (advisor/quant_effects.py) ---
    def _quant_keys(self, cols: Columns) -> list[tuple[str, object, bool]]:
        """Per row (precision, checkpoint, FP8 tensor cores): queries carry no checkpoint, and run
        the kernel advisor/arms.py launches."""
        fp8 = lookup(cols["gpu"], lambda g: self.gpu_numbers(g)[3] > 0, dtype=bool)
        checkpoints = cols.get("checkpoint")
        ck = [None] * len(fp8) if checkpoints is None else list(checkpoints)
        return list(zip(map(str, cols["precision"]), ck, fp8.tolist(), strict=True))

    def _quant_row(self, key: tuple[str, object, bool]) -> tuple[float, float, float, float, float]:
        precision, checkpoint, fp8 = key
        if key not in self._quant_cache:
            kernel = quant_effects.kernel_of(precision, checkpoint, fp8)
            e = quant_effects.effect(precision, kernel, fp8, checkpoint)
            efficiency = (
                quant_effects.kernel_efficiency(self.catalog, precision, kernel) if e.weight_only else math.nan
            )
            self._quant_cache[key] = (
                e.bytes_per_weight,
                e.activation_bits,
                float(kernel in ("marlin", "fp8-marlin")),
                math.log(quant_effects.measured_penalty(precision, kernel)),
                math.log(efficiency) if math.isfinite(efficiency) else 0.0,
            )
        return self._quant_cache[key]

    def quant_columns(self, cols: Columns) -> np.ndarray:
        """(n, len(QUANT_FEATURES)); the measured penalty is NaN where that kernel was never measured."""
        return lookup(self._quant_keys(cols), self._quant_row, (5,))[:, :4]

    def quant_compute_efficiency(self, cols: Columns) -> np.ndarray:
        """Per row, the share of 16-bit FLOP/s a weight-only kernel reaches as measured
        (quant_effects.kernel_efficiency); 1 for every other precision and where never measured. The
        physics then credits 4-bit weights with their bytes where decode is memory-bound and charges
        the measured dequantisation cost where it is compute-bound. FP8 is left to its own measured
        rows (many models and GPUs), where one 8B model's ratio would only add noise."""
        return np.asarray(np.exp(lookup(self._quant_keys(cols), self._quant_row, (5,))[:, 4]))

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
            # weight-only kernels compute at the measured share of the card's 16-bit FLOP/s (quant_effects)
            "bf16_tflops": gpu[:, 2] * self.quant_compute_efficiency(cols)
            if self.spec.quant == "effects_physics"
            else gpu[:, 2],
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


def take_rows(cols: Columns, rows: np.ndarray, **replace: Any) -> Columns:
    """These rows of the columns (a frame or a dict of columns), some columns replaced."""
    if isinstance(cols, pd.DataFrame):
        frame = cols.iloc[rows].reset_index(drop=True)
        return frame.assign(**replace)
    out: dict[str, Any] = {}
    for key, col in cols.items():
        if key in replace:
            out[key] = replace[key]
        elif isinstance(col, np.ndarray):
            out[key] = col[rows]
        elif isinstance(col, TextColumn):
            uniq, codes = factor(col)
            out[key] = text_column(uniq, codes[rows])
        else:
            out[key] = [col[int(i)] for i in rows]
    return out


def take_head(cols: Columns, n: int) -> Columns:
    """The first n rows of a dict of columns (views of the arrays; a frame through take_rows)."""
    if isinstance(cols, pd.DataFrame):
        return take_rows(cols, np.arange(n))
    out: dict[str, Any] = {}
    for key, col in cols.items():
        if isinstance(col, TextColumn):
            out[key] = TextColumn(col[:n])
        else:
            out[key] = col[:n] if col is not None else None
    return out


# Every column the featurizer and the bases read, the GPU kind left out: rows equal on all of them
# are one arm under one workload on different kinds (`arm_groups`).
ARM_COLUMNS: tuple[str, ...] = (
    "model", "family", "params_b", "active_params_b", "tp", "context_len", "prompt_len", "output_len",
    "concurrency", "precision", "kv_cache_dtype", "load_regime", "engine_version", "checkpoint",
)  # fmt: skip


def arm_groups(cols: Columns) -> np.ndarray:
    """Per row, a number shared by the rows that differ at most in their GPU kind."""
    n = len(cols["model"])
    found = (_codes(cols[c]) for c in ARM_COLUMNS if c in cols and cols[c] is not None)
    codes = [c for c in found if c is not None]
    if not codes:
        return np.zeros(n, dtype=np.intp)
    _, inverse = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
    return np.asarray(inverse, dtype=np.intp).reshape(n)


def _codes(values: Any) -> np.ndarray | None:
    """Each row's index among the column's distinct values; None for a column of one value (it
    separates no rows: a request's workload columns)."""
    if isinstance(values, np.ndarray | pd.Series) and values.dtype.kind in "iuf":
        arr = np.asarray(values)
        if len(arr) and arr.dtype.kind in "iu" and arr.min() == arr.max():
            return None
        # NaN counts as one value here (np.unique's equal_nan)
        return np.unique(arr, return_inverse=True)[1].reshape(len(arr))
    uniq, codes = factor(values)
    return None if len(uniq) <= 1 else codes


def text_column(values: Sequence[str], codes: np.ndarray) -> TextColumn:
    """The TextColumn of values[codes], its factorisation already known."""
    col = TextColumn(np.asarray(values, dtype=object)[codes].tolist())
    col.factored = (list(values), codes)
    return col


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
