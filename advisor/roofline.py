"""A roofline estimate of total (input + output) tokens/s for one arm (DECISIONS.md §2, "physics").

Decode is bounded by memory bandwidth: each step reads the weights of one GPU's shard plus the KV
cache of every sequence in the batch; prefill is bounded by compute: ~2 FLOPs per active
parameter per prompt token. The estimate ignores communication, kernel efficiency and scheduling;
the quantile trees learn the correction (a log-space offset or a feature, see `FeatureSpec`). Its
value is that it extrapolates along the hardware numbers (H200 from H100, 4-bit from 16-bit) where
trees alone are flat outside the rows they saw.
"""

from __future__ import annotations

import numpy as np


def roofline_tokens_per_s(
    *,
    params_b: np.ndarray,
    active_params_b: np.ndarray,
    weight_bits: np.ndarray,
    compute_fp8: np.ndarray,
    tp: np.ndarray,
    concurrency: np.ndarray,
    prompt_len: np.ndarray,
    output_len: np.ndarray,
    kv_bytes_per_token: np.ndarray,
    mem_bw_gbs: np.ndarray,
    bf16_tflops: np.ndarray,
    fp8_tflops: np.ndarray,
) -> np.ndarray:
    """Total tokens/s of a batch of `concurrency` sequences served to completion (all GPUs)."""
    # FP8 GEMMs only where the card has FP8 tensor cores; 4-bit formats dequantise to 16 bit.
    tflops = np.where(compute_fp8 & (fp8_tflops > 0), fp8_tflops, bf16_tflops) * 1e12
    flops_per_token = 2.0 * active_params_b * 1e9
    # MoE decode reads only the active experts' weights once the batch is small; take active bytes.
    weight_bytes = active_params_b * 1e9 * weight_bits / 8.0 / tp
    mean_ctx = prompt_len + output_len / 2.0
    kv_read = concurrency * mean_ctx * kv_bytes_per_token / tp
    step_mem = (weight_bytes + kv_read) / (mem_bw_gbs * 1e9)
    step_compute = concurrency * flops_per_token / (tp * tflops)
    decode_s = output_len * np.maximum(step_mem, step_compute)
    prefill_s = concurrency * prompt_len * flops_per_token / (tp * tflops)
    total_tokens = concurrency * (prompt_len + output_len)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total_tokens / (decode_s + prefill_s), dtype=float)


def prefill_seconds(
    *,
    active_params_b: np.ndarray,
    weight_bits: np.ndarray,
    compute_fp8: np.ndarray,
    tp: np.ndarray,
    concurrency: np.ndarray,
    prompt_len: np.ndarray,
    mem_bw_gbs: np.ndarray,
    bf16_tflops: np.ndarray,
    fp8_tflops: np.ndarray,
) -> np.ndarray:
    """A physics TTFT: the median request of a burst of `concurrency` prompts waits for half the
    batch's prefill FLOPs (compute-bound) plus one read of the weights (memory-bound). It grows
    with the prompt and falls with FLOP/s and bandwidth; the trees learn queueing and scheduling."""
    tflops = np.where(compute_fp8 & (fp8_tflops > 0), fp8_tflops, bf16_tflops) * 1e12
    flops = 2.0 * active_params_b * 1e9 * prompt_len * np.maximum(concurrency / 2.0, 1.0)
    weight_read = active_params_b * 1e9 * weight_bits / 8.0 / tp / (mem_bw_gbs * 1e9)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(flops / (tp * tflops) + weight_read, dtype=float)
