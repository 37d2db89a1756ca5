"""Service rates: how many requests per second one replica of a configuration sustains for a class
while each request still finishes within the class's latency bound.

Two providers behind one small interface:
- `CostModelRates` asks the project's calibrated cost model (`omnipilot.advisor.costmodel`) for
  `requests_per_s` at a ladder of concurrencies and keeps the largest concurrency whose latency
  (Little's law: concurrency / requests_per_s) meets the bound. q50 plans as the paper does; q10
  plans on the pessimistic throughput (a robust plan). Where the model abstains it falls back.
- `RooflineRates` derives the same numbers from the GPU catalog's bandwidth and FLOP/s. It is the
  fallback and the provider of the tests (no trained model needed).
Both enforce memory: weights/TP + per-GPU overhead + KV of the batch must fit in GPU memory.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import structlog

from omnipilot.catalog import GpuSpec, ModelSpec

log = structlog.get_logger(__name__)

GB = 1e9
# CUDA context, activations, sampler buffers per GPU (vLLM's profiling finds 1–3 GiB).
OVERHEAD_BYTES_PER_GPU = 2.5e9
# vLLM's default --gpu-memory-utilization: the share of memory the engine may use.
GPU_MEMORY_UTILIZATION = 0.9
# vLLM's default --max-num-seqs: the batch never exceeds it.
MAX_NUM_SEQS = 256
# requests_per_s when fitted; else total tokens/s ÷ tokens per request (DECISIONS.md §2: total)
TARGETS: tuple[str, ...] = ("requests_per_s", "tokens_per_s")
CONCURRENCY_LADDER: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256)


@dataclass(frozen=True)
class RateQuery:
    """One (class, configuration) pair to price."""

    model: ModelSpec
    gpu: GpuSpec
    tp: int
    precision: str
    prompt_tokens: int
    output_tokens: int
    kv_tokens: int
    delay_slo_s: float


@dataclass(frozen=True)
class RateEstimate:
    """Sustainable rate of one replica at the class's latency bound."""

    requests_per_s: float
    latency_s: float
    concurrency: int
    source: str


class RateProvider(Protocol):
    name: str

    def estimate(self, queries: Sequence[RateQuery]) -> list[RateEstimate | None]:
        """One entry per query; None where the configuration cannot meet memory or the bound."""
        ...


def max_batch(q: RateQuery) -> int:
    """Largest number of resident requests whose KV fits beside the weights (0: does not fit)."""
    usable = q.tp * (q.gpu.memory_gb * GB * GPU_MEMORY_UTILIZATION - OVERHEAD_BYTES_PER_GPU)
    free = usable - q.model.weight_bytes(q.precision)
    if free <= 0:
        return 0
    per_request = q.model.kv_bytes_per_token() * q.kv_tokens
    return int(min(MAX_NUM_SEQS, free // per_request))


class RooflineRates:
    """Roofline rates from catalog numbers: decode bounded by HBM bandwidth (weights + KV read per
    step), prefill by FLOP/s; TP divides both and pays an all-reduce overhead per extra shard."""

    name = "roofline"

    def __init__(self, mem_eff: float = 0.6, flop_eff: float = 0.45, tp_overhead: float = 0.06) -> None:
        self.mem_eff = mem_eff
        self.flop_eff = flop_eff
        self.tp_overhead = tp_overhead

    def estimate(self, queries: Sequence[RateQuery]) -> list[RateEstimate | None]:
        return [self._one(q) for q in queries]

    def latency_curve(self, q: RateQuery, batches: np.ndarray) -> np.ndarray:
        """End-to-end latency at each steady-state batch size b. Over one request's life about b
        others are admitted and prefilled (Little's law), so D(b) = f * step(b) + b * prefill."""
        g, m, t = q.gpu, q.model, q.tp
        slow = 1.0 + self.tp_overhead * (t - 1)
        flops = (g.fp8_tflops if q.precision == "fp8" and g.fp8_tflops > 0 else g.bf16_tflops) * 1e12
        flop_rate = self.flop_eff * flops * t
        active = m.active_b * 1e9
        ctx = q.prompt_tokens + q.output_tokens / 2.0
        step_bytes = m.weight_bytes(q.precision) + batches * m.kv_bytes_per_token() * ctx
        t_mem = step_bytes / (self.mem_eff * g.mem_bw_gbs * GB * t)
        t_cmp = 2.0 * active * batches / flop_rate
        step = np.maximum(t_mem, t_cmp) * slow
        prefill = 2.0 * active * q.prompt_tokens / flop_rate * slow
        latency: np.ndarray = q.output_tokens * step + batches * prefill
        return latency

    def _one(self, q: RateQuery) -> RateEstimate | None:
        b_max = max_batch(q)
        if b_max < 1:
            return None
        batches = np.arange(1, b_max + 1, dtype=float)
        lat = self.latency_curve(q, batches)
        ok = np.nonzero(lat <= q.delay_slo_s)[0]
        if ok.size == 0:
            return None
        k = int(ok[-1])  # latency and throughput both grow with b: the largest feasible b is best
        return RateEstimate(float(batches[k] / lat[k]), float(lat[k]), int(batches[k]), self.name)


class CostModelRates:
    """Rates from the calibrated cost model; roofline where it abstains or has no such target.

    `quantile` "q50" plans on the median as the paper does; "q10" takes the pessimistic
    throughput (its latency follows by Little's law), which gives a plan with built-in headroom.
    """

    name = "costmodel"

    def __init__(
        self, model: Any | None = None, quantile: str = "q50", fallback: RateProvider | None = None
    ) -> None:
        self._module = importlib.import_module("omnipilot.advisor.costmodel")
        self.model = model if model is not None else self._module.load_bundled()
        self.quantile = quantile
        self.fallback = fallback or RooflineRates()
        self.abstained = 0

    def estimate(self, queries: Sequence[RateQuery]) -> list[RateEstimate | None]:
        ladders = [[c for c in CONCURRENCY_LADDER if c <= max_batch(q)] for q in queries]
        arm_queries: list[Any] = []
        for q, ladder in zip(queries, ladders, strict=True):
            arm_queries.extend(self._arm_query(q, c) for c in ladder)
        preds = list(self.model.predict(arm_queries, targets=list(TARGETS))) if arm_queries else []
        out: list[RateEstimate | None] = []
        pos = 0
        for q, ladder in zip(queries, ladders, strict=True):
            chunk = preds[pos : pos + len(ladder)]
            pos += len(ladder)
            if not ladder:
                out.append(None)  # does not fit in memory: no model can change that
                continue
            est = self._pick(q, ladder, chunk)
            if est is None and not self._usable(chunk, q):
                self.abstained += 1
                est = self.fallback.estimate([q])[0]
            out.append(est)
        if self.abstained:
            log.info("planner.rates.fallback", provider=self.fallback.name, pairs=self.abstained)
        return out

    def _arm_query(self, q: RateQuery, concurrency: int) -> Any:
        return self._module.ArmQuery(
            model=q.model.name,
            gpu=q.gpu.name,
            tp=q.tp,
            precision=q.precision,
            concurrency=concurrency,
            context=q.kv_tokens,
            prompt_len=q.prompt_tokens,
            output_len=q.output_tokens,
            engine="vllm",
        )

    def _rps(self, pred: Any, tokens_per_request: int) -> float | None:
        targets = getattr(pred, "targets", {})
        if _abstains(pred):
            return None
        if "requests_per_s" in targets:
            value = float(getattr(targets["requests_per_s"], self.quantile))
        elif "tokens_per_s" in targets:
            value = float(getattr(targets["tokens_per_s"], self.quantile)) / tokens_per_request
        else:
            return None
        return value if math.isfinite(value) and value > 0 else None

    def _usable(self, preds: Sequence[Any], q: RateQuery) -> bool:
        return any(self._rps(p, q.prompt_tokens + q.output_tokens) is not None for p in preds)

    def _pick(self, q: RateQuery, ladder: Sequence[int], preds: Sequence[Any]) -> RateEstimate | None:
        best: RateEstimate | None = None
        for conc, pred in zip(ladder, preds, strict=True):
            rps = self._rps(pred, q.prompt_tokens + q.output_tokens)
            if rps is None:
                continue
            latency = conc / rps  # Little's law: resident requests / completion rate
            if latency <= q.delay_slo_s and (best is None or rps > best.requests_per_s):
                best = RateEstimate(rps, latency, conc, f"{self.name}:{self.quantile}")
        return best


def _abstains(pred: Any) -> bool:
    """The cost model marks an out-of-envelope prediction by a low or 'abstain' confidence."""
    conf = getattr(pred, "confidence", None)
    if isinstance(conf, str):
        return conf.lower() in {"abstain", "none", "unknown"}
    return isinstance(conf, int | float) and conf <= 0.0


def default_provider(quantile: str = "q50") -> RateProvider:
    """The cost model when it is installed and loads; the roofline otherwise (logged)."""
    try:
        return CostModelRates(quantile=quantile)
    except (ImportError, AttributeError, OSError, ValueError) as exc:
        log.warning("planner.rates.no_costmodel", reason=str(exc), using="roofline")
        return RooflineRates()
