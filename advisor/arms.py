"""Configuration arms (GPU kind × TP × precision) and whether each fits in GPU memory.

Two levels of fit, because vLLM treats them differently:
- `fits`: weights/TP + runtime overhead + the KV cache of one full-context sequence fit in the
  memory vLLM may use. Otherwise the server does not start: the arm is infeasible.
- `kv_occupancy`: the KV cache the workload needs (concurrency × tokens per sequence) over what
  is left after weights. Above 1 the server starts but preempts requests: a cost, not a wall.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from omnipilot.advisor.prevalidated import construct
from omnipilot.advisor.quant_effects import measured_note
from omnipilot.catalog import MIN_CAPABILITY, PRECISIONS, GpuSpec, ModelSpec

TP_DEGREES: tuple[int, ...] = (1, 2, 4, 8)
GIB = 1024.0**3
# CUDA context, activations and the sampler's buffers per GPU; vLLM's profiling typically finds 1–3 GiB.
OVERHEAD_BYTES = 2.0 * GIB
# vLLM's --gpu-memory-utilization default: the share of GPU memory its weights and KV cache may use
GPU_MEMORY_UTILIZATION = 0.9


class Workload(BaseModel):
    """What one serving job asks of an arm."""

    model_config = ConfigDict(frozen=True)

    concurrency: int = Field(gt=0)
    context: int = Field(gt=0, description="max model length (tokens)")
    prompt_len: int = Field(gt=0)
    output_len: int = Field(gt=0)
    kv_bits: float = 16.0


class Arm(BaseModel):
    model_config = ConfigDict(frozen=True)

    gpu: str
    tp: int
    precision: str
    checkpoint: str = Field(description="what vLLM would load")
    quantization_flag: str | None = Field(default=None, description="vLLM --quantization value, if any")

    @property
    def label(self) -> str:
        return f"{self.gpu.split('-')[0].lower()}x{self.tp} {self.precision}"


class ArmFit(BaseModel):
    arm: Arm
    fits: bool
    weights_gib_per_gpu: float
    kv_gib_per_gpu_needed: float
    kv_gib_per_gpu_available: float
    kv_occupancy: float = Field(description="workload KV need / KV space; > 1 means preemption")
    reasons: list[str] = []


def precision_options(
    model: ModelSpec,
    gpu: GpuSpec,
    own_checkpoint: str | None = None,
    as_shipped: tuple[str, str] | None = None,
    own_weights: bool = False,
) -> list[tuple[str, str, str | None]]:
    """(precision, checkpoint, --quantization flag) choices this model offers on this GPU kind.

    `own_checkpoint` is the 16-bit checkpoint the job already runs (e.g. an Instruct variant or a
    local copy): the 16-bit and dynamic-FP8 arms keep it rather than switching to the base model.
    A model released quantized (`shipped`: DeepSeek-V3's FP8, gpt-oss's MXFP4) has no 16-bit arm:
    its own checkpoint is the "as shipped" arm. `as_shipped` (precision, checkpoint) adds the job's
    own quantized checkpoint (e.g. a compressed-tensors W8A8 copy): it replaces the catalog's arm of
    that precision, so a rewrite never swaps the job's copy for another. With `own_weights` (a
    fine-tune, or weights only config.json describes) the catalog's releases are other models: the
    only arms are the job's checkpoint as it is and, for 16-bit weights, its dynamic FP8.
    The arms follow the GPU: FP8 checkpoints run weight-only on Ampere (no FP8 tensor cores; vLLM
    uses its FP8 Marlin W8A16 kernels), dynamic FP8 of a 16-bit checkpoint needs FP8 tensor cores.
    """
    nvidia = gpu.vendor == "nvidia"

    def supported(prec: str) -> bool:
        need = MIN_CAPABILITY.get(prec)
        return need is None or (nvidia and gpu.compute_capability >= need) or (prec == "fp8" and gpu.fp8_compute)

    if own_weights and as_shipped is not None:
        own_prec, own = as_shipped
        if own_prec == "bf16":
            return [("bf16", own, None)] + ([("fp8", own, "fp8")] if gpu.fp8_compute else [])
        return [(own_prec, own, None)] if supported(own_prec) else []
    options: list[tuple[str, str, str | None]] = []
    if model.shipped is None:
        base = own_checkpoint or model.name
        options.append(("bf16", base, None))
    else:
        base = model.name
        if supported(model.shipped):
            options.append((model.shipped, model.name, None))
    for prec in PRECISIONS[1:]:
        if prec == model.shipped:
            continue
        ck = model.checkpoints.get(prec)
        if prec == "fp8":
            if ck and supported("fp8"):
                options.append(("fp8", ck, None))  # pre-quantized; weight-only on Ampere
            elif gpu.fp8_compute and model.shipped is None:
                options.append(("fp8", base, "fp8"))  # dynamic FP8 of the bf16 checkpoint
        elif ck and supported(prec):
            # compressed-tensors W4A16 releases are read by vLLM from their config: no flag
            flag = None if "w4a16" in ck.lower() else prec
            options.append((prec, ck, flag))
    if as_shipped is not None and as_shipped[0] != "bf16" and supported(as_shipped[0]):
        if all(o[1] != as_shipped[1] for o in options):
            options = [o for o in options if o[0] != as_shipped[0]]
            options.append((as_shipped[0], as_shipped[1], None))
    return options


def fp8_note(gpu: GpuSpec, precision: str, flag: str | None) -> str | None:
    """How vLLM runs an FP8 arm on a GPU without FP8 tensor cores, said with the arm."""
    if precision == "fp8" and flag is None and not gpu.fp8_compute:
        return f"{gpu.name} has no FP8 tensor cores: vLLM runs this FP8 checkpoint weight-only (W8A16 Marlin)"
    return None


def tp_valid(model: ModelSpec, tp: int) -> bool:
    """vLLM shards attention heads: TP must divide the heads, and KV heads divide or be replicated."""
    return model.heads % tp == 0 and (model.kv_heads % tp == 0 or tp % model.kv_heads == 0)


def kv_bytes_per_gpu(model: ModelSpec, tp: int, tokens: float, kv_bits: float) -> float:
    heads_per_gpu = max(model.kv_heads / tp, 1.0)  # KV heads replicate when TP exceeds them
    return 2.0 * model.layers * heads_per_gpu * model.head_dim * (kv_bits / 8.0) * tokens


def fit_arm(
    model: ModelSpec,
    gpu: GpuSpec,
    tp: int,
    option: tuple[str, str, str | None],
    work: Workload,
    *,
    gpu_memory_utilization: float = GPU_MEMORY_UTILIZATION,
) -> ArmFit:
    precision, checkpoint, flag = option
    usable = gpu.memory_gb * 1e9 * gpu_memory_utilization
    weights = model.weight_bytes(precision) / tp
    kv_space = usable - weights - OVERHEAD_BYTES
    one_seq = kv_bytes_per_gpu(model, tp, work.context, work.kv_bits)
    need = kv_bytes_per_gpu(model, tp, work.concurrency * (work.prompt_len + work.output_len), work.kv_bits)
    reasons: list[str] = []
    fits = kv_space >= one_seq
    if model.scope != "single_node":
        fits = False
        reasons.append(f"{model.name} is outside OmniPilot's single-node scope" + (f": {model.note}" if model.note else ""))
    elif kv_space <= 0:
        reasons.append(
            f"weights {weights / GIB:.1f} GiB + {OVERHEAD_BYTES / GIB:.0f} GiB runtime per GPU exceed the "
            f"{usable / GIB:.1f} GiB vLLM may use on {gpu.name}"
        )
    elif not fits:
        reasons.append(
            f"one {work.context}-token sequence needs {one_seq / GIB:.1f} GiB of KV cache per GPU, "
            f"{max(kv_space, 0) / GIB:.1f} GiB left after weights"
        )
    occupancy = need / kv_space if kv_space > 0 else float("inf")
    note = fp8_note(gpu, precision, flag)
    if note:
        reasons.append(note)
    hopper = gpu.vendor == "nvidia" and 9.0 <= gpu.compute_capability < 10.0
    quant_note = measured_note(precision, gpu.name, hopper, "marlin" if flag is None else "default")
    if quant_note:
        reasons.append(quant_note)
    if fits and occupancy > 1.0:
        reasons.append(f"KV cache holds {1 / occupancy:.0%} of {work.concurrency} concurrent sequences")
    # every value is computed here from validated catalog entries: construct without re-validating
    # (this runs for every arm of every request)
    arm = construct(Arm, {"gpu": gpu.name, "tp": tp, "precision": precision, "checkpoint": checkpoint,
                          "quantization_flag": flag})  # fmt: skip
    return construct(ArmFit, {
        "arm": arm, "fits": fits, "weights_gib_per_gpu": weights / GIB, "kv_gib_per_gpu_needed": need / GIB,
        "kv_gib_per_gpu_available": max(kv_space, 0.0) / GIB, "kv_occupancy": occupancy, "reasons": reasons,
    })  # fmt: skip


def enumerate_arms(
    model: ModelSpec,
    gpus: Iterable[tuple[GpuSpec, int]],
    work: Workload,
    *,
    tps: Sequence[int] = TP_DEGREES,
    precisions: Sequence[str] | None = None,
    gpu_memory_utilization: float = GPU_MEMORY_UTILIZATION,
    own_checkpoint: str | None = None,
    as_shipped: tuple[str, str] | None = None,
    own_weights: bool = False,
) -> list[ArmFit]:
    """Every arm on the given (GPU kind, GPUs per node) pairs, fitting or not, with reasons."""
    out: list[ArmFit] = []
    for gpu, per_node in gpus:
        for tp in tps:
            if tp > per_node or not tp_valid(model, tp):
                continue
            for option in precision_options(model, gpu, own_checkpoint, as_shipped, own_weights):
                if precisions is not None and option[0] not in precisions:
                    continue
                out.append(
                    fit_arm(model, gpu, tp, option, work, gpu_memory_utilization=gpu_memory_utilization)
                )
    return out


def feasible_arms(
    model: ModelSpec,
    gpus: Iterable[tuple[GpuSpec, int]],
    work: Workload,
    **kwargs: object,
) -> list[ArmFit]:
    """The arms whose server would start (see module docstring)."""
    return [a for a in enumerate_arms(model, gpus, work, **kwargs) if a.fits]  # type: ignore[arg-type]
