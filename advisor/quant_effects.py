"""Quantization described by what it does, and what it was measured to do (issue 15, item 3).

A precision label alone ("awq", "gptq") tells the cost model nothing about why two arms differ, so
AWQ and GPTQ used to be predicted identically. Here each (precision arm, kernel family) is described
by the physical quantities that move throughput: the bytes one weight occupies, the precision the
GEMMs read activations in (W4A16 weight-only formats dequantise to 16 bit; W8A8-FP8 computes in FP8
where the card has FP8 tensor cores), whether vLLM runs a Marlin kernel, and the KV-cache bits.

The one public measurement of AWQ/GPTQ/W4A16 against BF16 and FP8 is GPUStack's quantization
reference (Qwen3-8B, vLLM 0.9.2, 1000 ShareGPT prompts sent at once, RTX 4090 / A100 80GB / H100
80GB). Its throughput metric is not named, but every number in it comes from the same page, client
and workload, so the ratio quant ÷ BF16 on the same GPU holds whatever the metric: those ratios are
written here (`MEASURED`) and used as a prior ("measured penalty") on every arm of that precision
and kernel, and to say in an arm's reasons how far it is from anything measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from omnipilot.advisor.roofline import roofline_tokens_per_s
from omnipilot.catalog import WEIGHT_BITS, Catalog

# How vLLM executes the weights: "dense" 16-bit GEMMs; "fp8" W8A8 FP8 GEMMs (FP8 tensor cores);
# "fp8-marlin" FP8 weights dequantised by Marlin (W8A16, cards without FP8 units); "default" the
# method's own kernel (AWQ's, GPTQ's ExLlamaV2), which vLLM runs when `--quantization awq|gptq` is
# given explicitly, as the arms do; "marlin" the Marlin (or Machete) kernels vLLM picks when no flag
# forces the method; "other" anything else (bitsandbytes, MXFP4, ...).
Kernel = Literal["dense", "fp8", "fp8-marlin", "default", "marlin", "other"]
KERNELS: tuple[Kernel, ...] = ("dense", "fp8", "fp8-marlin", "default", "marlin", "other")

SOURCE = (
    "GPUStack quantization reference (gpustack-performance-lab@47277d7): Qwen3-8B, vLLM 0.9.2, "
    "1000 ShareGPT prompts at once"
)
SOURCE_SHORT = "Qwen3-8B, vLLM 0.9.2"
# The reference cell (what every MEASURED ratio was measured at): for the roofline ratio below.
REFERENCE_MODEL = "Qwen/Qwen3-8B"
REFERENCE_CELL = {"concurrency": 1000.0, "prompt_len": 217.0, "output_len": 202.0}
# Weight bits in memory (catalog.WEIGHT_BITS) of the arms and of the rows' own labels.
_WEIGHT_BITS: dict[str, float] = {**WEIGHT_BITS, "w4a16": WEIGHT_BITS["awq"]}


@dataclass(frozen=True)
class QuantEffect:
    """What a (precision, kernel) does to the weights and the GEMMs."""

    precision: str
    kernel: Kernel
    bytes_per_weight: float
    activation_bits: float
    weight_only: bool


@dataclass(frozen=True)
class Measured:
    """One line of the reference: throughput of a method and of BF16 on the same GPU."""

    gpu: str  # catalog name
    precision: str  # arm label (awq, gptq, fp8) or the row's own (w4a16, other, bf16+kv-fp8)
    kernel: Kernel
    label: str  # method as published
    throughput: float | None  # None: the run failed (the page prints N/A)
    bf16: float
    # The page's own reading: the 24 GB card is VRAM-constrained at 1000 concurrent prompts (BF16
    # leaves ~3 GB for KV), so quantization wins there by capacity, not by kernel speed.
    memory_pressure: bool
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.throughput / self.bf16 if self.throughput is not None else None


_BF16 = {"RTX4090-24GB": 3869.3, "A100-80GB": 10338.25, "H100-80GB": 13305.38}


def _m(gpu: str, precision: str, kernel: Kernel, label: str, tps: float | None, note: str = "") -> Measured:
    return Measured(gpu, precision, kernel, label, tps, _BF16[gpu], gpu == "RTX4090-24GB", note)


# Figures copied from the reference page (also gpustack_quantization_reference_qwen3_8b.csv; a test
# recomputes every ratio from that file when the shared data is present). Bits of GPTQ rows as the
# page labels them; "GPTQ Marlin" on the RTX 4090 states none.
MEASURED: tuple[Measured, ...] = (
    _m("RTX4090-24GB", "awq", "default", "AWQ", 5653.4),
    _m("RTX4090-24GB", "awq", "marlin", "AWQ Marlin", 5536.7),
    _m("RTX4090-24GB", "gptq", "default", "GPTQ (Int8)", 4918.98, "8-bit GPTQ"),
    _m("RTX4090-24GB", "gptq", "marlin", "GPTQ Marlin", 5025.82, "bits not stated"),
    _m("A100-80GB", "gptq", "marlin", "GPTQ-Marlin (Int4)", 8146.73),
    _m("A100-80GB", "gptq", "default", "GPTQ (Int4)", 8129.27),
    _m("A100-80GB", "awq", "default", "AWQ", 9611.61),
    _m("A100-80GB", "awq", "marlin", "AWQ Marlin", 8066.03),
    _m("A100-80GB", "gptq", "marlin", "GPTQ Marlin (Int8)", 7119.60, "8-bit GPTQ"),
    _m("A100-80GB", "gptq", "default", "GPTQ (Int8)", 7100.46, "8-bit GPTQ"),
    _m("A100-80GB", "other", "other", "bitsandbytes", 5916.34),
    _m("H100-80GB", "fp8", "fp8", "FP8 Static", 16452.52, "static activation scales"),
    _m("H100-80GB", "fp8", "fp8", "FP8 Dynamic", 15275.64, "dynamic activation scales"),
    _m("H100-80GB", "w4a16", "marlin", "Int4-W4A16", 13605.46, "kernel not stated"),
    _m("H100-80GB", "awq", "default", "AWQ", 9756.06),
    _m("H100-80GB", "gptq", "default", "GPTQ", None, "N/A on the page: vLLM's GPTQ broken (vllm-project/vllm#20986)"),
    _m("H100-80GB", "bf16+kv-fp8", "dense", "BF16 + KV Cache FP8 (E4M3)", 13513.19),
)


def kernel_of(precision: str, checkpoint: object, fp8_compute: bool) -> Kernel:
    """The kernel family a row ran or an arm will run.

    A row names its kernel in its checkpoint text (the GPUStack reference: "... Marlin"); an arm
    query carries no checkpoint and runs what advisor/arms.py launches: `--quantization awq|gptq`
    forces the method's own kernel, and an FP8 checkpoint runs W8A16 Marlin on cards without FP8.
    """
    text = checkpoint.lower() if isinstance(checkpoint, str) else ""
    if precision == "bf16":
        return "dense"
    if precision == "fp8":
        return "fp8" if fp8_compute else "fp8-marlin"
    if precision in ("awq", "gptq", "w4a16"):
        return "marlin" if ("marlin" in text or "machete" in text or precision == "w4a16") else "default"
    return "other"


def effect(precision: str, kernel: Kernel, fp8_compute: bool, checkpoint: object = None) -> QuantEffect:
    """The QuantEffect of a precision run with a kernel (an 8-bit GPTQ row is read from its label)."""
    text = checkpoint.lower() if isinstance(checkpoint, str) else ""
    bits = _WEIGHT_BITS.get(precision, math.nan)
    if precision == "gptq" and "int8" in text:
        bits = WEIGHT_BITS["int8"]
    computes_8bit = precision in ("int8",) or (precision == "fp8" and fp8_compute)
    activation = 4.0 if precision == "nvfp4" else 8.0 if computes_8bit else 16.0
    return QuantEffect(
        precision=precision,
        kernel=kernel,
        bytes_per_weight=bits / 8.0,
        activation_bits=activation,
        weight_only=precision != "bf16" and activation == 16.0,
    )


def measured_ratios(precision: str, kernel: Kernel | None = None, *, pressure: bool = False) -> list[Measured]:
    """The successful reference lines of this precision (and kernel), by memory pressure."""
    return [
        m
        for m in MEASURED
        if m.precision == precision
        and (kernel is None or m.kernel == kernel)
        and m.throughput is not None
        and m.memory_pressure == pressure
        and "8-bit" not in m.note
    ]


def _reference_roofline(catalog: Catalog, gpu: str, precision: str) -> float:
    model, card = catalog.model(REFERENCE_MODEL), catalog.gpu(gpu)
    if model is None or card is None:
        return math.nan
    one = np.ones(1)
    value = roofline_tokens_per_s(
        params_b=one * model.params_b,
        active_params_b=one * model.active_b,
        weight_bits=one * _WEIGHT_BITS[precision],
        compute_fp8=np.array([precision == "fp8"]),
        tp=one,
        concurrency=one * REFERENCE_CELL["concurrency"],
        prompt_len=one * REFERENCE_CELL["prompt_len"],
        output_len=one * REFERENCE_CELL["output_len"],
        kv_bytes_per_token=one * model.kv_bytes_per_token(16.0),
        mem_bw_gbs=one * card.mem_bw_gbs,
        bf16_tflops=one * card.bf16_tflops,
        fp8_tflops=one * card.fp8_tflops,
    )
    return float(value[0])


def measured_penalty(precision: str, kernel: Kernel) -> float:
    """Geometric mean of measured throughput ÷ BF16 without memory pressure (NaN: never measured)."""
    if precision == "bf16":
        return 1.0
    ratios = [m.ratio for m in measured_ratios(precision, kernel) if m.ratio]
    return float(np.exp(np.mean(np.log(ratios)))) if ratios else math.nan


def kernel_efficiency(catalog: Catalog, precision: str, kernel: Kernel) -> float:
    """The measured ratio divided by what the roofline expects of the same change at the reference
    cell (geometric mean over the GPUs without memory pressure; NaN where never measured).

    The roofline already credits a precision with its bytes and its FLOP/s (4-bit weights read
    faster, FP8 computes twice as fast on FP8 cards); what it cannot know is the kernel's cost
    (dequantisation, scale handling). This is that cost as measured, the part that carries over to
    other models and GPUs. 1 for BF16.
    """
    if precision == "bf16":
        return 1.0
    logs = []
    for m in measured_ratios(precision, kernel):
        ratio = m.ratio
        expected = _reference_roofline(catalog, m.gpu, precision) / _reference_roofline(catalog, m.gpu, "bf16")
        if ratio and math.isfinite(expected) and expected > 0:
            logs.append(math.log(ratio / expected))
    return float(math.exp(sum(logs) / len(logs))) if logs else math.nan


@lru_cache(maxsize=512)  # asked for every arm of every request: a few distinct answers
def measured_note(precision: str, gpu: str, hopper: bool, kernel: Kernel = "default") -> str | None:
    """One line saying how far a weight-only arm (awq, gptq) is from the measured quantized rows.

    None for bf16 and fp8: FP8 has measured rows of its own on several models and GPUs (the
    envelope speaks for them); AWQ and GPTQ have only the reference page.
    """
    if precision not in ("awq", "gptq"):
        return None
    if precision == "gptq" and hopper:
        where = "on this GPU" if gpu == "H100-80GB" else "on H100 (same architecture)"
        return f"gptq failed {where} in the only measurement ({SOURCE_SHORT}; vLLM issue 20986)"
    rows = [m for m in MEASURED if m.precision == precision and m.throughput is not None and "8-bit" not in m.note]
    here = [m for m in rows if m.gpu == gpu and m.kernel == kernel and m.ratio]
    if here:
        ratio = here[0].ratio or math.nan
        pressure = " (VRAM-bound at 1000 prompts)" if here[0].memory_pressure else ""
        return f"{precision} on {gpu} measured only for {SOURCE_SHORT}: {ratio:.2f}× BF16{pressure}"
    gpus = "/".join(sorted({m.gpu.split("-")[0] for m in rows}))
    calm = [m.ratio for m in rows if not m.memory_pressure and m.ratio]
    spread = f"{min(calm):.2f}" if calm and min(calm) == max(calm) else f"{min(calm or [0]):.2f}–{max(calm or [0]):.2f}"
    span = f": {spread}× BF16 without memory pressure" if calm else ""
    return f"{precision} measured only on {SOURCE_SHORT} ({gpus}){span}"
