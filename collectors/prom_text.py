"""Reading vLLM's Prometheus `/metrics` text: the few series the emitter keeps, and histogram quantiles."""

from __future__ import annotations

import math
import re

from pydantic import BaseModel

_LINE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LE = re.compile(r'le="([^"]+)"')
# older vLLM names first replaced by newer ones (SLURM_NOTES.md: gpu_cache_usage_perc removed by 0.12)
KV_NAMES = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
TTFT = "vllm:time_to_first_token_seconds"
ITL_NAMES = ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds")


class Scrape(BaseModel):
    """One scrape, summed over label sets (all models/engines of the server)."""

    t: float
    kv_usage: float | None = None
    prompt_tokens: float = 0.0
    generation_tokens: float = 0.0
    requests_ok: float = 0.0
    preemptions: float = 0.0
    running: float = 0.0
    waiting: float = 0.0
    ttft_buckets: dict[str, float] = {}
    itl_buckets: dict[str, float] = {}


def parse_metrics(text: str, t: float) -> Scrape:
    s = Scrape(t=t)
    kv: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        name, labels = m.group("name"), m.group("labels") or ""
        try:
            value = float(m.group("value"))
        except ValueError:
            continue
        if math.isnan(value):
            continue
        if name in KV_NAMES:
            kv[name] = max(kv.get(name, 0.0), value)
        elif name == "vllm:prompt_tokens_total":
            s.prompt_tokens += value
        elif name == "vllm:generation_tokens_total":
            s.generation_tokens += value
        elif name == "vllm:request_success_total":
            s.requests_ok += value
        elif name == "vllm:num_preemptions_total":
            s.preemptions += value
        elif name == "vllm:num_requests_running":
            s.running += value
        elif name == "vllm:num_requests_waiting":
            s.waiting += value
        elif name.endswith("_bucket") and (le := _LE.search(labels)):
            base = name[: -len("_bucket")]
            target = s.ttft_buckets if base == TTFT else s.itl_buckets if base in ITL_NAMES else None
            if target is not None:
                target[le.group(1)] = target.get(le.group(1), 0.0) + value
    s.kv_usage = next((kv[n] for n in KV_NAMES if n in kv), None)
    return s


def bucket_quantile(first: dict[str, float], last: dict[str, float], q: float) -> float | None:
    """q-quantile of the observations made between two scrapes of a cumulative histogram
    (linear inside a bucket, as Prometheus' histogram_quantile); None when nothing was observed."""
    edges = sorted(((float(le), last.get(le, 0.0) - first.get(le, 0.0)) for le in last), key=lambda e: e[0])
    if not edges or edges[-1][1] <= 0:
        return None
    total = edges[-1][1]
    rank = q * total
    prev_edge, prev_count = 0.0, 0.0
    for edge, count in edges:
        if count >= rank:
            if math.isinf(edge):
                return prev_edge  # above the largest finite bucket: its bound is all that is known
            width = count - prev_count
            return prev_edge + (edge - prev_edge) * ((rank - prev_count) / width if width > 0 else 1.0)
        prev_edge, prev_count = edge, count
    return None
