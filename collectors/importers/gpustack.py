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


# The quantization reference prints one "Throughput (tok/s)" without naming the metric. Read as
# total (input + output) tokens/s, as GPUStack's other pages summarise ("Total TPS"): with every
# prompt sent at once, a request's end-to-end time (TTFT + TPOT per further token) cannot exceed the
# run, and the run lasts tokens ÷ throughput. On the 45 vLLM ShareGPT bursts of 1000 prompts in the
# runs file that print their duration, mean TTFT + (mean output - 1) × mean TPOT is 0.51–1.16 of it.
# The 19 reference measurements give 0.26–1.26 read as total and 0.54–2.63 as output-only (14 above
# 1.16), so total it is: an inference, not a statement of the page (notes and docs say so).
QUANT_LENGTHS = (217.4, 201.6)  # mean ShareGPT in/out tokens of the same 1000 prompts, Qwen3 tokenizer
_PAGE_NOTES = {  # the notes printed under the page's tables, for its N/A cells
    ("A100 80GB", "GGUF (Q4_K_M)"): "page: 'GGUF model with architecture qwen3 is not supported.'",
    ("H100 80GB", "GPTQ"): (
        "page: 'GPTQ implementation is broken, see vLLM issue' (vllm-project/vllm#20986): "
        "GPTQ on H100 failed with vLLM 0.9.2"
    ),
}


def _quant_throughput_notes(v: dict[str, str]) -> list[str]:
    thr, ttft, tpot = _num(v, "throughput_tok_s"), _num(v, "mean_ttft_ms"), _num(v, "mean_tpot_ms")
    if thr is None or ttft is None or tpot is None:
        return []
    pin, pout = QUANT_LENGTHS
    e2e = ttft / 1000.0 + (pout - 1.0) * tpot / 1000.0
    run_total, run_output = 1000 * (pin + pout) / thr, 1000 * pout / thr
    return [
        f"tokens_per_s = published 'Throughput (tok/s)' {thr:g}, ASSUMED total (input+output) tokens/s: "
        "the page does not name the metric (docs/data-provenance.md)",
        f"check: mean TTFT + {pout - 1:.1f} × mean TPOT = {e2e:.1f} s; the burst lasts {run_total:.1f} s if the "
        f"throughput is total ({e2e / run_total:.2f}), {run_output:.1f} s if output-only ({e2e / run_output:.2f})",
        f"prompt/output lengths = {pin:g}/{pout:g}: mean tokens of the same 1000 ShareGPT prompts on "
        "GPUStack's other Qwen3 pages (same client, Qwen3 tokenizer); not printed on this page",
        f"requests_per_s = tokens_per_s ÷ {sum(QUANT_LENGTHS):g} mean tokens per request (follows from the assumption)",
    ]


def _quant_row(rec: CsvRecord, catalog: Catalog, repeats: tuple[int, ...] = ()) -> HistoryRow:
    v = rec.values
    notes = [
        f"page {v['source_path']} @ {v['source_commit'][:8]}",
        "GPU count not stated (page lists single GPUs): tp = 1 assumed",
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
    if repeats:
        notes.append(f"printed again at line(s) {', '.join(map(str, repeats))} (same run: one row)")
    if failed:
        targets = Targets()
        reason = _PAGE_NOTES.get((v["gpu"], v["method_label_as_published"]), v.get("status_note") or "N/A")
    else:
        notes += _quant_throughput_notes(v)
        thr = _num(v, "throughput_tok_s")
        targets = Targets(
            tokens_per_s=thr,
            requests_per_s=thr / sum(QUANT_LENGTHS) if thr else None,
            ttft_mean_s=_ms(v, "mean_ttft_ms"),
            tpot_mean_s=_ms(v, "mean_tpot_ms"),
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
        prompt_len=None if failed else round(QUANT_LENGTHS[0]),
        output_len=None if failed else round(QUANT_LENGTHS[1]),
        request_rate=rate,
        concurrency=conc,
        targets=targets,
        stack=Stack(engine="vllm", engine_version=v.get("engine_version") or None),
        provenance=Provenance(
            source=SOURCE,
            files=[SourceRef(path=f"{DATASET}/{QUANT}", line=n) for n in (rec.line, *repeats)],
            license=LICENSE,
            notes=[*names.notes, *notes],
        ),
        failure_reason=reason if failed else None,
    ).with_hash()


def _quant_repeats(records: list[CsvRecord]) -> dict[int, tuple[int, ...]]:
    """First line of each measurement -> the lines that print it again (the KV-cache table repeats the
    H100 BF16 run as its baseline: one measurement is one row). Repeated lines map to ()."""
    first: dict[tuple[str, ...], int] = {}
    out: dict[int, tuple[int, ...]] = {}
    for rec in records:
        v = rec.values
        key = (v["gpu"], v["precision"], v["throughput_tok_s"], v["mean_ttft_ms"], v["mean_tpot_ms"], v["status"])
        if key in first and v["throughput_tok_s"]:
            out[first[key]] = (*out.get(first[key], ()), rec.line)
            out[rec.line] = ()
        else:
            first[key] = rec.line
    return out


def import_dir(dataset_dir: Path, catalog: Catalog) -> ImportResult:
    result = ImportResult()
    for name in (RUNS, QUANT):
        path = dataset_dir / name
        if not path.exists():
            continue
        items = list(read_csv(path, f"{DATASET}/{name}"))
        repeats = _quant_repeats([i for i in items if not isinstance(i, Problem)]) if name == QUANT else {}
        for item in items:
            if isinstance(item, Problem):
                result.problems.append(item)
                continue
            if repeats.get(item.line) == ():
                continue  # printed again: merged into its first line's row
            try:
                row = (
                    _run_row(item, catalog)
                    if name == RUNS
                    else _quant_row(item, catalog, repeats.get(item.line, ()))
                )
                result.rows.append(row)
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
