"""Argonne LLM-Inference-Bench (argonne-lcf/LLM-Inference-Bench@4211f5d, BSD-3-Clause) -> rows.

Every file is read into `Measurement`s; measurements that several files repeat (PROVENANCE.md
"Overlaps") are merged into one row listing every source file and line. Conversions and traps are
documented in docs/data-provenance.md; each applied conversion is written into the row's notes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from omnipilot.catalog import Catalog
from omnipilot.collectors.importers.argonne_measurement import Measurement
from omnipilot.collectors.importers.argonne_rows import to_row
from omnipilot.collectors.importers.csv_lines import CsvRecord, read_csv, repair_split_field
from omnipilot.collectors.importers.result import ImportResult
from omnipilot.collectors.rows import SourceRef
from omnipilot.collectors.store import Problem

DATASET = "argonne-llm-inference-bench"

# Files in the order they are read: All_results first, so its line is listed first when merged.
FILES: tuple[str, ...] = (
    "All_results.csv",
    "power_results.csv",
    "tp_pp_results.csv",
    "kv_cache_results.csv",
    "quant_all_results.csv",
    "quant_A100_H100_all_results.csv",
    "kv_cache_Meta-Llama-3-8B-Instruct-FP8.csv",
    "ttft_itl_results.csv",
    "ttft_results.csv",
)


# The two quant files label the same TensorRT-LLM runs differently (identical latencies):
# quant_all's full_prec / int8_sq are quant_A100_H100's fp16 / int8.
WEIGHT_ALIASES = {"full_prec": "fp16", "int8_sq": "int8"}
PARALLELISM = {"tp": "Tensor Parallelism", "pp": "Pipeline Parallelism"}


_COMPARED = ("weight", "kv", "parallelism", "kv_cache_enabled", "throughput", "avg_power_raw", "ttft_s")


def _compatible(a: Measurement, b: Measurement) -> bool:
    for name in (*_COMPARED, "output_len"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            continue
        if isinstance(x, float) and isinstance(y, float):
            if abs(x - y) > 1e-9 * max(abs(x), abs(y)):
                return False
        elif x != y:
            return False
    return True


def _merge(a: Measurement, b: Measurement) -> Measurement:
    """Fill a's unknowns from b; the checkpoint name of a quantized file wins over the base name."""
    merged = replace(a, refs=[*a.refs, *b.refs], notes=[*a.notes, *(n for n in b.notes if n not in a.notes)])
    for name in (*_COMPARED, "output_len"):
        if getattr(merged, name) is None:
            setattr(merged, name, getattr(b, name))
    if a.model == a.base_model and b.model != b.base_model:
        merged.model = b.model
    return merged


def merge_measurements(items: list[Measurement]) -> list[Measurement]:
    """One measurement per run: group by key, then merge every compatible pair in order.

    A record with no batch latency (ttft_results.csv) is matched afterwards by its TTFT value.
    """
    groups: dict[tuple[object, ...], list[Measurement]] = {}
    ttft_only = [m for m in items if m.latency_s is None]
    for m in items:
        if m.latency_s is not None:
            _merge_into(groups.setdefault(m.key(), []), m)
    for m in ttft_only:
        axes = m.key()[:-1]
        hits = [k for k, bucket in groups.items() if k[:-1] == axes and any(_same_ttft(o, m) for o in bucket)]
        _merge_into(groups.setdefault(hits[0] if hits else m.key(), []), m)
    return [m for bucket in groups.values() for m in bucket]


def _same_ttft(a: Measurement, b: Measurement) -> bool:
    return a.ttft_s is not None and b.ttft_s is not None and _compatible(a, b)


def _merge_into(bucket: list[Measurement], m: Measurement) -> None:
    for i, other in enumerate(bucket):
        if _compatible(other, m):
            bucket[i] = _merge(other, m)
            return
    bucket.append(m)


def _int(values: dict[str, str], *names: str) -> int:
    for n in names:
        if values.get(n, "") != "":
            return int(float(values[n]))
    raise ValueError(f"missing {' / '.join(names)}")


def _float(values: dict[str, str], *names: str) -> float | None:
    for n in names:
        if values.get(n, "") != "":
            return float(values[n])
    return None


def _precision_pair(text: str) -> tuple[str, str]:
    """'Weight = fp16, KV Cache = fp8' -> ('fp16', 'fp8')."""
    parts = dict(p.split("=", 1) for p in text.split(","))
    clean = {k.strip().lower(): v.strip().lower() for k, v in parts.items()}
    return clean["weight"], clean["kv cache"]


def _measurement(rec: CsvRecord, label: str, catalog: Catalog) -> Measurement:
    v = rec.values
    model = v["Model"]
    spec = catalog.model(model)
    prompt = _int(v, "Input Output Length", "Input Length")
    m = Measurement(
        hardware=v["Hardware"],
        gpus=_int(v, "Num of Hardware"),
        framework=v["Framework"],
        model=model,
        base_model=spec.name if spec else model,
        prompt_len=prompt,
        output_len=prompt if "Input Output Length" in v else None,
        batch=_int(v, "Batch Size"),
        refs=[SourceRef(path=f"{DATASET}/{label}", line=rec.line)],
    )
    if rec.repaired:
        m.notes.append(f"{label}:{rec.line}: {rec.repaired}")
    _fill_measured(m, v, label)
    return m


def _fill_measured(m: Measurement, v: dict[str, str], label: str) -> None:
    if "TTFT Latency" in v or label == "ttft_results.csv":
        # These files state Output Length = 1: TTFT was timed as a run generating one token;
        # end_latency is the full run's batch latency (it equals All_results' Latency where both exist).
        m.ttft_s = _float(v, "TTFT Latency", "Latency")
        m.latency_s = _float(v, "end_latency")
    else:
        m.latency_s = _float(v, "Latency", "latency")
        m.throughput = _float(v, "Throughput", "throughput")
    if v.get("kv_cache_dtype"):
        m.weight, m.kv = _precision_pair(v["kv_cache_dtype"])
        if m.weight in WEIGHT_ALIASES:
            alias, m.weight = m.weight, WEIGHT_ALIASES[m.weight]
            m.notes.append(f"weight label {alias!r} read as {m.weight!r} (the other quant file's label)")
    if v.get("Parallelism Type") and m.gpus > 1:  # one GPU: TP 1 = PP 1, the same run
        m.parallelism = PARALLELISM.get(v["Parallelism Type"].lower(), v["Parallelism Type"])
    if v.get("KV Cache"):
        m.kv_cache_enabled = v["KV Cache"].lower().startswith("with ")
    if v.get("avg_power"):
        m.avg_power_raw = float(v["avg_power"])


def read_file(path: Path, catalog: Catalog) -> Iterator[Measurement | Problem]:
    label = path.name
    repair = repair_split_field("kv_cache_dtype", "Weight =", "KV Cache =")
    for item in read_csv(path, f"{DATASET}/{label}", repair):
        if isinstance(item, Problem):
            yield item
            continue
        try:
            yield _measurement(item, label, catalog)
        except (KeyError, ValueError) as exc:
            yield Problem(f"{DATASET}/{label}", item.line, f"cannot read value: {exc}", str(item.values))


def import_dir(dataset_dir: Path, catalog: Catalog) -> ImportResult:
    """All Argonne files under `dataset_dir` (the argonne-llm-inference-bench folder)."""
    result = ImportResult()
    items: list[Measurement] = []
    for name in FILES:
        path = dataset_dir / name
        if not path.exists():
            continue
        for item in read_file(path, catalog):
            if isinstance(item, Problem):
                result.problems.append(item)
            else:
                items.append(item)
    for m in merge_measurements(items):
        converted = to_row(m, catalog)
        if isinstance(converted, Problem):
            result.problems.append(converted)
        else:
            result.rows.append(converted)
    return result
