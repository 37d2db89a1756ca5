"""A small synthetic history frame in the shape of `collectors.store.load_frame`, for pure-logic tests.

Throughput follows a simple physical law (bandwidth-bound decode, compute-bound prefill) times a
per-family efficiency and seeded noise, so a model that learns nothing fails the tests.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pandas as pd

MODELS = {
    "meta-llama/Llama-2-7b-hf": ("llama2", 6.74),
    "meta-llama/Meta-Llama-3-8B": ("llama3", 8.03),
    "mistralai/Mistral-7B-v0.1": ("mistral", 7.24),
    "Qwen/Qwen2-7B": ("qwen2", 7.62),
}
GPUS = {"A100-40GB": (40.0, 1555.0), "H100-80GB": (80.0, 3350.0)}


def synthetic_frame(seed: int = 0, lengths: tuple[int, ...] = (128, 512, 1024)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    eff = {"llama2": 0.55, "llama3": 0.6, "mistral": 0.5, "qwen2": 0.45}
    for (model, (family, params)), (gpu, (mem, bw)), tp, conc, length in itertools.product(
        MODELS.items(), GPUS.items(), (1, 2), (1, 8, 32), lengths
    ):
        precisions = ["bf16", "fp8"] if gpu.startswith("H100") and family == "llama3" else ["bf16"]
        for prec in precisions:
            bits = 16.0 if prec == "bf16" else 8.3
            step = (params * 1e9 * bits / 8 / tp) / (bw * 1e9)
            tps = 2 * conc * length / (length * step * (1 + conc / 64)) * eff[family]
            tps *= float(np.exp(rng.normal(0, 0.04)))
            row = {
                "model": model,
                "checkpoint": model,
                "family": family,
                "params_b": params,
                "active_params_b": None,
                "gpu": gpu,
                "gpu_memory_gb": mem,
                "tp": tp,
                "pp": 1,
                "precision": prec,
                "kv_cache_dtype": "auto",
                "engine": "vllm",
                "load_regime": "fixed_batch",
                "context_len": None,
                "prompt_len": length,
                "output_len": length,
                "concurrency": conc,
                "request_rate": None,
                "kind": "inference_run",
                "tokens_per_s": tps,
                "requests_per_s": tps / (2 * length),
                "ttft_p50_s": None,
                "engine_version": "0.5.4",
                "source": "synthetic",
            }
            row["content_hash"] = hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()[:24]
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame.loc[:9, "ttft_p50_s"] = 0.05  # 10 labelled rows: below the 15-row minimum
    # one row of another engine: must be excluded by config, not mixed in
    other = frame.iloc[[0]].copy()
    other["engine"] = "tensorrt-llm"
    other["content_hash"] = "trt0"
    other["tokens_per_s"] = 1e6
    return pd.concat([frame, other], ignore_index=True)
