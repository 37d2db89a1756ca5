"""GPUStack Performance Lab (gpustack/gpustack@47277d7, Apache-2.0) -> rows.

Online serving runs: burst (all prompts at once) or constant request rate; lengths are per-run
means (ShareGPT varies); TTFT/TPOT/ITL published in ms. `no_result` runs, whose page says the run
crashed or is unsupported, become `failed_launch` rows with the page's message. Conversions:
docs/data-provenance.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from omnipilot.catalog import Catalog
from omnipilot.collectors.importers.csv_lines import CsvRecord, read_csv
from omnipilot.collectors.importers.naming import gpu_axes, model_axes
from omnipilot.collectors.importers.result import ImportResult
from omnipilot.collectors.rows import Engine, HistoryRow, Provenance, RowPrecision, SourceRef, Stack, Targets
from omnipilot.collectors.store import Problem

DATASET = "gpustack-performance-lab"
SOURCE = "gpustack-performance-lab@47277d7"
LICENSE = "Apache-2.0"
RUNS = "gpustack_perf_lab_runs.csv"
QUANT = "gpustack_quantization_reference_qwen3_8b.csv"

ENGINES: dict[str, Engine] = {"vllm": "vllm", "sglang": "sglang", "tensorrt-llm": "tensorrt-llm"}
PRECISIONS: dict[str, RowPrecision] = {
    "bf16": "bf16",
    "fp8": "fp8",
    "fp8(native block-scaled release)": "fp8",
    "awq": "awq",
    "awq (int4)": "awq",
    "gptq int4": "gptq",
    "gptq int8": "gptq",
    "gptq bits not stated": "gptq",
    "w8a8": "int8",
    "w4a16 (int4 weight-only)": "w4a16",
    "mxfp4(native)": "other",
    "bitsandbytes": "other",
    "gguf q4_k_m": "other",
    "bf16 weights + fp8(e4m3) kv cache": "bf16",
}
_CTX_FLAG = re.compile(r"--(?:max-model-len|context-length)[ =](\d+)")


def _num(v: dict[str, str], key: str) -> float | None:
    text = v.get(key, "").strip()
    return float(text) if text else None


def _ms(v: dict[str, str], key: str) -> float | None:
    x = _num(v, key)
    return x / 1000.0 if x is not None else None


def _gpu(catalog: Catalog, kind: str, hardware: str, notes: list[str]) -> tuple[str, float | None]:
    size = re.search(r"(\d+)\s*GB", hardware)
    memory = float(size.group(1)) if size else None
    if memory is None and kind == "A100":
        memory = 80.0
        notes.append("GPU memory not stated on this page ('A100 SXM'); GPUStack's other A100 pages: 80GB")
    axes = gpu_axes(catalog, kind if kind != "910B" else "Ascend 910B", memory)
    notes.extend(axes.notes)
    return axes.gpu, axes.memory_gb


def _precision(raw: str, notes: list[str], gpu: str) -> tuple[RowPrecision, str]:
    key = raw.strip().lower()
    if key not in PRECISIONS:
        raise ValueError(f"unknown precision {raw!r}")
    precision = PRECISIONS[key]
    if precision == "other" or precision == "int8" or "native" in key:
        notes.append(f"precision {raw!r} recorded as {precision!r}")
    if precision == "fp8" and gpu.startswith("A100"):
        notes.append("FP8 on A100 runs as weight-only W8A16 (no FP8 tensor cores)")
    kv = "fp8" if "fp8(e4m3) kv" in key else "auto"
    return precision, kv


def _load(v: dict[str, str], notes: list[str]) -> tuple[str, float | None, int | None]:
    """(load_regime, request_rate, concurrency): burst = every prompt at once; else a constant rate."""
    rate_text = v.get("request_rate_setting") or v.get("request_rate", "")
    rate = None if rate_text.startswith("inf") else float(rate_text)
    cap = _num(v, "max_concurrency_setting")
    seen = _num(v, "max_request_concurrency_reported")
    prompts = _num(v, "num_prompts_setting") or _num(v, "num_prompts") or _num(v, "successful_requests")
    if rate is None or rate >= 1000:
        regime, rate = "burst", None
        notes.append(f"burst load: request rate {rate_text!r} (all prompts at once)")
    else:
        regime = "request_rate"
    if cap is not None:
        conc: float | None = cap
        notes.append(f"concurrency = client --max-concurrency {cap:g}")
    elif seen is not None:
        conc = seen
        notes.append(f"concurrency = peak concurrency the client reported ({seen:g})")
    elif regime == "burst" and prompts is not None:
        conc = prompts
        notes.append(f"concurrency = number of prompts sent at once ({prompts:g}; an upper bound)")
    else:
        conc = None
    return regime, rate, int(conc) if conc else None


def _targets(v: dict[str, str], notes: list[str]) -> Targets:
    notes.append("tokens_per_s = total_token_throughput_tok_s (input+output); TTFT/TPOT/ITL ms -> s, medians")
    return Targets(
        tokens_per_s=_num(v, "total_token_throughput_tok_s"),
        output_tokens_per_s=_num(v, "output_throughput_tok_s"),
        requests_per_s=_num(v, "request_throughput_req_s"),
        ttft_p50_s=_ms(v, "median_ttft_ms"),
        ttft_p99_s=_ms(v, "p99_ttft_ms"),
        tpot_p50_s=_ms(v, "median_tpot_ms"),
        itl_p50_s=_ms(v, "median_itl_ms"),
        ttft_mean_s=_ms(v, "mean_ttft_ms"),
        tpot_mean_s=_ms(v, "mean_tpot_ms"),
        itl_mean_s=_ms(v, "mean_itl_ms"),
    )


def _lengths(v: dict[str, str], notes: list[str]) -> tuple[int | None, int | None, int | None]:
    pin, pout = _num(v, "mean_input_len_derived"), _num(v, "mean_output_len_derived")
    if pin is not None or pout is not None:
        notes.append("prompt/output lengths = mean tokens per request (total ÷ successful requests), rounded")
    ctx_match = _CTX_FLAG.search(v.get("serve_args", ""))
    ctx = int(ctx_match.group(1)) if ctx_match else None
    if ctx:
        notes.append(f"context_len from the serving flag ({ctx})")
    return (round(pin) if pin else None, round(pout) if pout else None, ctx)


def _run_row(rec: CsvRecord, catalog: Catalog) -> HistoryRow:
    v = rec.values
    notes = [f"page {v['source_path']} @ {v['source_commit'][:8]}, section {v['section']!r}"]
    tp_text = v.get("tp_effective", "")
    if not tp_text:
        raise ValueError("tensor-parallel degree not stated (tp_effective empty; engine default not imputed)")
    raw_engine = v["engine"].lower()
    engine = ENGINES.get(raw_engine, "other")
    if engine == "other":
        notes.append(f"engine {v['engine']!r} recorded as 'other'")
    serve = v.get("serve_model", "")
    names = model_axes(catalog, serve if serve and not serve.startswith("/") else v["page_model"])
    gpu, memory = _gpu(catalog, v["gpu_kind"], v["hardware_text"], notes)
    precision, kv = _precision(v["precision"], notes, gpu)
    regime, rate, conc = _load(v, notes)
    for flag, text in (
        ("speculative_decoding", "speculative decoding on"),
        ("expert_parallel", "expert parallel on"),
        ("prefix_caching_flag", "prefix caching on"),
    ):
        if v.get(flag):
            notes.append(text)
    if v.get("variant_label"):
        notes.append(f"variant {v['variant_label']!r}")
    prompt, output, ctx = _lengths(v, notes)
    failed = v["status"] != "ok"
    return HistoryRow(
        kind="failed_launch" if failed else "inference_run",
        **names.row_fields(),
        gpu=gpu,
        gpu_memory_gb=memory,
        tp=int(tp_text),
        dp=int(v["dp"]) if v.get("dp") else None,
        precision=precision,
        kv_cache_dtype=kv,
        engine=engine,
        load_regime=regime,
        context_len=ctx,
        prompt_len=prompt,
        output_len=output,
        concurrency=conc,
        request_rate=rate,
        targets=Targets() if failed else _targets(v, notes),
        stack=Stack(engine=engine, engine_version=v.get("engine_version") or None),
        provenance=Provenance(
            source=SOURCE,
            files=[SourceRef(path=f"{DATASET}/{RUNS}", line=rec.line)],
            license=LICENSE,
            notes=[*names.notes, *notes],
        ),
        failure_reason=v.get("status_note") or None if failed else None,
    ).with_hash()


def _quant_row(rec: CsvRecord, catalog: Catalog) -> HistoryRow:
    v = rec.values
    notes = [
        f"page {v['source_path']} @ {v['source_commit'][:8]}",
        "GPU count not stated (page lists single GPUs): tp = 1 assumed",
        f"Throughput {v['throughput_tok_s'] or '-'} tok/s: definition not stated, tokens_per_s left unset",
        "TTFT and TPOT are means (ms -> s): ttft_mean_s, tpot_mean_s",
    ]
    names = model_axes(catalog, f"Qwen/{v['model']}")
    gpu, memory = _gpu(
        catalog,
        v["gpu"].split()[0] + v["gpu"].split()[1] if v["gpu"].startswith("RTX") else v["gpu"].split()[0],
        v["gpu"],
        notes,
    )
    precision, kv = _precision(v["precision"], notes, gpu)
    notes.append(f"method as published: {v['method_label_as_published']!r}; kernel {v['kernel'] or '-'}")
    regime, rate, conc = _load(v, notes)
    failed = v["status"] != "ok"
    targets = (
        Targets()
        if failed
        else Targets(ttft_mean_s=_ms(v, "mean_ttft_ms"), tpot_mean_s=_ms(v, "mean_tpot_ms"))
    )
    # the page names no checkpoints: the published method label tells the quantized variants apart
    scheme = "; ".join(x for x in (v["method_label_as_published"], v["quant_scheme"], v["kernel"]) if x)
    return HistoryRow(
        kind="failed_launch" if failed else "inference_run",
        model=names.model,
        checkpoint=f"{v['model']} [{scheme}]",
        family=names.family,
        params_b=names.params_b,
        gpu=gpu,
        gpu_memory_gb=memory,
        tp=1,
        precision=precision,
        kv_cache_dtype=kv,
        engine="vllm",
        load_regime=regime,
        request_rate=rate,
        concurrency=conc,
        targets=targets,
        stack=Stack(engine="vllm", engine_version=v.get("engine_version") or None),
        provenance=Provenance(
            source=SOURCE,
            files=[SourceRef(path=f"{DATASET}/{QUANT}", line=rec.line)],
            license=LICENSE,
            notes=[*names.notes, *notes],
        ),
        failure_reason=v.get("status_note") or None if failed else None,
    ).with_hash()


def import_dir(dataset_dir: Path, catalog: Catalog) -> ImportResult:
    result = ImportResult()
    for name, convert in ((RUNS, _run_row), (QUANT, _quant_row)):
        path = dataset_dir / name
        if not path.exists():
            continue
        for item in read_csv(path, f"{DATASET}/{name}"):
            if isinstance(item, Problem):
                result.problems.append(item)
                continue
            try:
                result.rows.append(convert(item, catalog))
            except (KeyError, ValueError, ValidationError) as exc:
                result.problems.append(
                    Problem(
                        f"{DATASET}/{name}",
                        item.line,
                        f"cannot convert: {exc}",
                        ",".join(item.values.values()),
                    )
                )
    return result
