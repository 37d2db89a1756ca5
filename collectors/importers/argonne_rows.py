"""One merged Argonne measurement -> one `HistoryRow`, every conversion written into its notes."""

from __future__ import annotations

from pydantic import ValidationError

from omnipilot.catalog import Catalog
from omnipilot.collectors.importers.argonne_measurement import Measurement
from omnipilot.collectors.importers.naming import gpu_axes, model_axes
from omnipilot.collectors.rows import Engine, HistoryRow, Provenance, RowPrecision, Stack, Targets
from omnipilot.collectors.store import Problem

SOURCE = "argonne-llm-inference-bench@4211f5d"
LICENSE = "BSD-3-Clause"

ENGINES: dict[str, Engine] = {
    "vllm": "vllm",
    "tensorrt-llm": "tensorrt-llm",
    "llama.cpp": "llama.cpp",
    "deepspeed-mii": "deepspeed-mii",
    "deepspeed": "deepspeed",
    "sambaflow": "sambaflow",
}
# Weight precision as the files write it -> precision arm, and the note that says so.
WEIGHTS: dict[str, tuple[RowPrecision, str | None]] = {
    "fp16": ("bf16", "measured fp16 (mapped to the 16-bit arm bf16)"),
    "fp8": ("fp8", None),
    "int8": ("int8", "weights int8 (SmoothQuant: quant_all labels it int8_sq)"),
}
KV_DTYPES = {"fp16": "auto", "fp8": "fp8", "int8": "int8"}
RATIO_TOLERANCE = 0.01  # |Throughput × Latency ÷ (length × batch) − 2| allowed (DECISIONS.md §2)


def _parallel(m: Measurement) -> tuple[int, int, int | None, str | None]:
    """(tp, pp, ep, note) from `Num of Hardware` and tp_pp_results' `Parallelism Type`."""
    kind = (m.parallelism or "Tensor Parallelism").lower()
    n = m.gpus
    if kind in ("tensor parallelism", "tp"):
        return n, 1, None, None
    if kind in ("pipeline parallelism", "pp"):
        return 1, n, None, f"pipeline parallel over {n} GPUs ({m.parallelism!r})"
    if "tp = 2 and ep = 2" in kind:
        return 2, 1, 2, f"{m.parallelism!r}: tp 2 × ep 2"
    if kind == "ep":
        return 1, 1, n, f"expert parallel over {n} GPUs ({m.parallelism!r})"
    if "tensor (2) and pipeline (2)" in kind or "tp = 2 and pp = 2" in kind:
        return 2, 2, None, f"{m.parallelism!r}: tp 2 × pp 2"
    raise ValueError(f"unknown Parallelism Type {m.parallelism!r}")


def _power_w(raw: float, gpus: int) -> tuple[float, str]:
    """avg_power: the files hold milliwatts (e.g. 222122 for a 400 W A100); accept W only if plausible."""
    ceiling = 1500.0 * gpus  # no accelerator here draws more than 1.5 kW
    if 20.0 <= raw / 1000.0 <= ceiling:
        return raw / 1000.0, f"avg_power {raw:g} read as milliwatts -> {raw / 1000.0:.1f} W"
    if 20.0 <= raw <= ceiling:
        return raw, f"avg_power {raw:g} read as watts"
    raise ValueError(
        f"avg_power {raw:g} fits neither milliwatts nor watts for {gpus} GPU(s) (20 W to {ceiling:g} W)"
    )


def _throughput(m: Measurement, engine: Engine, notes: list[str]) -> dict[str, float]:
    """Total tokens/s after checking Argonne's 2.00 ratio; llama.cpp's definition is unknown."""
    out: dict[str, float] = {}
    if m.latency_s is None or m.output_len is None:
        return out
    out["latency_s"] = m.latency_s
    if m.throughput is None:
        return out
    ratio = m.throughput * m.latency_s / (m.prompt_len * m.batch)
    if engine == "llama.cpp":
        notes.append(
            f"llama.cpp Throughput {m.throughput:g} has no known definition (ratio {ratio:.3f}, not 2.00):"
            " tokens_per_s left unset"
        )
        return out
    if abs(ratio - 2.0) > RATIO_TOLERANCE:
        notes.append(
            f"Throughput × Latency ÷ (length × batch) = {ratio:.3f}, not 2.00: tokens_per_s left unset"
        )
        return out
    out["tokens_per_s"] = m.throughput
    out["output_tokens_per_s"] = m.output_len * m.batch / m.latency_s
    out["requests_per_s"] = m.batch / m.latency_s
    notes.append(
        f"Throughput is total (input+output) tokens/s (ratio {ratio:.3f} checked); output_tokens_per_s ="
        " length × batch ÷ Latency; requests_per_s = batch ÷ Latency"
    )
    return out


def _precision(m: Measurement, notes: list[str]) -> tuple[RowPrecision, str]:
    weight = m.weight or "fp16"
    if weight not in WEIGHTS:
        raise ValueError(f"unknown weight precision {weight!r}")
    precision, note = WEIGHTS[weight]
    if note:
        notes.append(note)
    kv = KV_DTYPES.get(m.kv or "fp16")
    if kv is None:
        raise ValueError(f"unknown KV cache dtype {m.kv!r}")
    if m.kv_cache_enabled is False:
        kv = "disabled"
        notes.append("run without a KV cache ('Without KV Cache')")
    elif kv == "auto":
        notes.append("KV cache 16-bit (engine default, recorded as kv_cache_dtype=auto)")
    return precision, kv


def to_row(m: Measurement, catalog: Catalog) -> HistoryRow | Problem:
    ref = m.refs[0]
    try:
        return _build(m, catalog)
    except (ValueError, ValidationError) as exc:
        return Problem(ref.path, ref.line or 1, f"cannot convert: {exc}", repr(m))


def _build(m: Measurement, catalog: Catalog) -> HistoryRow:
    engine = ENGINES.get(m.framework.lower())
    if engine is None:
        raise ValueError(f"unknown Framework {m.framework!r}")
    names, gpu = model_axes(catalog, m.model), gpu_axes(catalog, m.hardware)
    notes = [*names.notes, *gpu.notes, *m.notes]
    tp, pp, ep, par_note = _parallel(m)
    notes += [par_note] if par_note else []
    precision, kv = _precision(m, notes)
    notes.append(f"offline fixed batch: concurrency = Batch Size {m.batch}")
    values = _throughput(m, engine, notes)
    if m.avg_power_raw is not None:
        values["power_avg_w"], power_note = _power_w(m.avg_power_raw, m.gpus)
        notes.append(power_note + " (average over the run, as published)")
    if m.ttft_s is not None:
        values["ttft_p50_s"] = m.ttft_s
        notes.append(
            "TTFT Latency: one value per fixed-batch run (timed as a run generating 1 token),"
            " recorded as ttft_p50_s"
        )
    context = m.prompt_len + m.output_len if m.output_len else None
    if context:
        notes.append(f"context_len = prompt + output = {context} (no max-model-len in the source)")
    else:
        notes.append("output length not stated for this TTFT-only run: output_len and context_len unknown")
    return HistoryRow(
        kind="inference_run",
        **names.row_fields(),
        gpu=gpu.gpu,
        gpu_memory_gb=gpu.memory_gb,
        tp=tp,
        pp=pp,
        ep=ep,
        precision=precision,
        kv_cache_dtype=kv,
        engine=engine,
        load_regime="fixed_batch",
        context_len=context,
        prompt_len=m.prompt_len,
        output_len=m.output_len,
        concurrency=m.batch,
        targets=Targets(**values),
        stack=Stack(engine=engine),
        provenance=Provenance(source=SOURCE, files=m.refs, license=LICENSE, notes=notes),
    ).with_hash()
