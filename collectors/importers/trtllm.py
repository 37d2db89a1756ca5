"""NVIDIA TensorRT-LLM perf-overview tables (NVIDIA/TensorRT-LLM@258c754 / @00f3768, Apache-2.0) -> rows.

Offline rows are maximum load with an engine-chosen batch (no concurrency); their published token
throughput counts output tokens only, so total tokens/s = output × (ISL + OSL) ÷ OSL, exact because
every request has exactly ISL/OSL tokens. Online rows are fixed request rates with published totals.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from omnipilot.catalog import Catalog
from omnipilot.collectors.importers.csv_lines import CsvRecord, read_csv
from omnipilot.collectors.importers.naming import gpu_axes, model_axes
from omnipilot.collectors.importers.result import ImportResult
from omnipilot.collectors.rows import HistoryRow, Provenance, RowPrecision, SourceRef, Stack, Targets
from omnipilot.collectors.store import Problem
from omnipilot.plain_numbers import plain

DATASET = "tensorrt-llm-perf-overview"
FILE = "trtllm_perf_overview.csv"
SOURCE = "tensorrt-llm-perf-overview@258c754+00f3768"
LICENSE = "Apache-2.0"
PRECISIONS: dict[str, tuple[RowPrecision, str | None]] = {
    "fp8": ("fp8", None),
    "fp16": ("bf16", "measured fp16 (mapped to the 16-bit arm bf16)"),
    "bf16": ("bf16", None),
    "nvfp4": ("nvfp4", None),
}

# The tables' short names -> a catalog name (same architecture); noted in each row.
MODEL_NAMES = {
    "Mistral-7B": "mistralai/Mistral-7B-v0.1",
    "Mixtral-8x7B": "mistralai/Mixtral-8x7B-v0.1",
    "Llama-3.3-70B": "meta-llama/Llama-3.3-70B-Instruct",
}


def _num(v: dict[str, str], key: str) -> float | None:
    text = v.get(key, "").strip()
    return float(text) if text else None


def _offline(v: dict[str, str], isl: int, osl: int, notes: list[str]) -> Targets:
    out = _num(v, "output_tok_s_total")
    if out is None:
        raise ValueError("output_tok_s_total empty")
    notes += [
        "max load, engine-chosen batch (in-flight batching): concurrency unknown",
        f"published output tokens/s {out:g} over the TP/PP group; tokens_per_s = output × (ISL+OSL) ÷ OSL"
        f" = output × {plain((isl + osl) / osl, 4)}; requests_per_s = output ÷ OSL (exact ISL/OSL, stdev 0)",
    ]
    return Targets(tokens_per_s=out * (isl + osl) / osl, output_tokens_per_s=out, requests_per_s=out / osl)


def _online(v: dict[str, str], notes: list[str]) -> Targets:
    notes.append("online serving (Triton backend); TTFT and ITL are published means (ms -> s)")
    ttft, itl = _num(v, "mean_ttft_ms"), _num(v, "mean_itl_ms")
    return Targets(
        tokens_per_s=_num(v, "total_tok_s"),
        output_tokens_per_s=_num(v, "output_tok_s_total"),
        requests_per_s=_num(v, "request_throughput_req_s"),
        ttft_mean_s=ttft / 1000.0 if ttft is not None else None,
        itl_mean_s=itl / 1000.0 if itl is not None else None,
    )


def _row(rec: CsvRecord, catalog: Catalog) -> HistoryRow:
    v = rec.values
    notes = [f"{v['source_path']} @ {v['source_commit'][:8]}: {v['doc_version_label']}", v["runtime"]]
    short = MODEL_NAMES.get(v["model"], v["model"])
    names = model_axes(catalog, v["model_checkpoint"] or short)
    if names.family is None and v["model_checkpoint"]:
        names = model_axes(catalog, short)
        names.checkpoint = v["model_checkpoint"]
    if short != v["model"]:
        notes.append(f"table name {v['model']!r} read as {short!r}")
    size = re.match(r"\d+", v["gpu_mem_gb"])
    gpu = gpu_axes(catalog, v["gpu_kind"], float(size.group()) if size else None)
    precision, note = PRECISIONS[v["precision"].lower()]
    notes += [*names.notes, *gpu.notes, *([note] if note else [])]
    kv = "fp8" if v["kv_cache_dtype"].upper().startswith("FP8") else "auto"
    isl, osl = int(v["isl"]), int(v["osl"])
    online = v["table"] == "online_serving"
    qps = v["qps_setting"]
    regime = "max_load" if not online else ("burst" if qps.upper() == "INF" else "request_rate")
    targets = _online(v, notes) if online else _offline(v, isl, osl, notes)
    notes.append(f"context_len = ISL + OSL = {isl + osl} (the engine's max length is not published)")
    return HistoryRow(
        kind="inference_run",
        **names.row_fields(),
        gpu=gpu.gpu,
        gpu_memory_gb=gpu.memory_gb,
        tp=int(v["tp"]),
        pp=int(v["pp"]),
        precision=precision,
        kv_cache_dtype=kv,
        engine="tensorrt-llm",
        load_regime=regime,
        context_len=isl + osl,
        prompt_len=isl,
        output_len=osl,
        request_rate=float(qps) if regime == "request_rate" else None,
        targets=targets,
        stack=Stack(engine="tensorrt-llm", engine_version=v["trtllm_version"].split()[0]),
        provenance=Provenance(
            source=SOURCE,
            files=[SourceRef(path=f"{DATASET}/{FILE}", line=rec.line)],
            license=LICENSE,
            notes=notes,
        ),
    ).with_hash()


def import_dir(dataset_dir: Path, catalog: Catalog) -> ImportResult:
    result = ImportResult()
    path = dataset_dir / FILE
    if not path.exists():
        return result
    for item in read_csv(path, f"{DATASET}/{FILE}"):
        if isinstance(item, Problem):
            result.problems.append(item)
            continue
        try:
            result.rows.append(_row(item, catalog))
        except (KeyError, ValueError, ValidationError) as exc:
            result.problems.append(
                Problem(
                    f"{DATASET}/{FILE}", item.line, f"cannot convert: {exc}", ",".join(item.values.values())
                )
            )
    return result
