"""Typed history rows (`history.jsonl`): one row per measured serving run or failed launch.

A row carries its axes (what was run), its measured targets (each optional: unknown stays unknown,
never imputed), the software stack it ran on, and where it came from. The content hash covers the
measured content only (axes + targets + stack), so importing the same measurement twice, from the
same file or from an overlapping one, is a no-op.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1

TARGETS: tuple[str, ...] = (
    "tokens_per_s",
    "requests_per_s",
    "ttft_p50_s",
    "cold_start_s",
    "kv_cache_peak_frac",
    "power_avg_w",
    "sm_active_frac",
    "tensor_active_frac",
)
DECISION_TARGETS: tuple[str, ...] = TARGETS[:6]

Engine = Literal[
    "vllm", "tensorrt-llm", "sglang", "llama.cpp", "deepspeed-mii", "deepspeed", "sambaflow", "other"
]
LoadRegime = Literal["fixed_batch", "burst", "request_rate", "max_load", "observed"]
RowPrecision = Literal["bf16", "fp8", "awq", "gptq", "int8", "w4a16", "nvfp4", "other"]


class Targets(BaseModel):
    """Measured serving targets; names are the JSON keys used everywhere (DECISIONS.md §2)."""

    model_config = ConfigDict(extra="forbid")

    tokens_per_s: float | None = Field(
        default=None, gt=0, description="total (input+output) tokens/s, all GPUs"
    )
    output_tokens_per_s: float | None = Field(default=None, gt=0)
    requests_per_s: float | None = Field(default=None, gt=0)
    ttft_p50_s: float | None = Field(default=None, ge=0)
    ttft_p90_s: float | None = Field(default=None, ge=0)
    ttft_p99_s: float | None = Field(default=None, ge=0)
    itl_p50_s: float | None = Field(default=None, ge=0)
    tpot_p50_s: float | None = Field(default=None, ge=0)
    latency_s: float | None = Field(default=None, gt=0, description="end-to-end time of a fixed batch")
    cold_start_s: float | None = Field(default=None, ge=0)
    kv_cache_peak_frac: float | None = Field(default=None, ge=0, le=1.0)
    power_avg_w: float | None = Field(default=None, gt=0)
    sm_active_frac: float | None = Field(default=None, ge=0, le=1.0)
    tensor_active_frac: float | None = Field(default=None, ge=0, le=1.0)
    preemptions: float | None = Field(default=None, ge=0)
    # means, where a source publishes no median (added after schema v1: hashed only when set)
    ttft_mean_s: float | None = Field(default=None, ge=0)
    tpot_mean_s: float | None = Field(default=None, ge=0)
    itl_mean_s: float | None = Field(default=None, ge=0)


class Stack(BaseModel):
    """The software stack a run used; its fingerprint separates runs that are not comparable."""

    model_config = ConfigDict(extra="forbid")

    engine: Engine
    engine_version: str | None = None
    cuda: str | None = None
    driver: str | None = None

    @property
    def fingerprint(self) -> str:
        raw = f"{self.engine}|{self.engine_version or '?'}|{self.cuda or '?'}|{self.driver or '?'}"
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="file path relative to the dataset root, or 'emitter'")
    line: int | None = Field(default=None, ge=1, description="1-based line in that file (header = 1)")


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="dataset id, e.g. 'argonne-llm-inference-bench@4211f5d', or 'site'")
    files: list[SourceRef] = []
    license: str | None = None
    notes: list[str] = Field(default_factory=list, description="every conversion applied, in words")


_LATE_FIELDS: tuple[str, ...] = ("ep", "dp")
_LATE_TARGETS: tuple[str, ...] = ("ttft_mean_s", "tpot_mean_s", "itl_mean_s")


class HistoryRow(BaseModel):
    """One history row. `content_hash` is filled in by `with_hash()` and checked on load."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    kind: Literal["inference_run", "failed_launch"]
    content_hash: str = ""

    # axes
    model: str = Field(description="base model (catalog name where known): the workload-cell key")
    checkpoint: str | None = Field(default=None, description="the checkpoint actually served")
    family: str | None = None
    params_b: float | None = Field(default=None, gt=0)
    active_params_b: float | None = Field(default=None, gt=0)
    gpu: str = Field(description="GPU kind, catalog name where known")
    gpu_memory_gb: float | None = Field(default=None, gt=0)
    tp: int = Field(ge=1, le=64)
    pp: int = Field(default=1, ge=1, le=64)
    ep: int | None = Field(
        default=None, ge=1, le=64, description="expert-parallel degree where the source states one"
    )
    dp: int | None = Field(
        default=None, ge=1, le=64, description="data-parallel replicas (GPUs = tp × pp × dp)"
    )
    precision: RowPrecision
    kv_cache_dtype: str = "auto"
    engine: Engine
    load_regime: LoadRegime
    context_len: int | None = Field(default=None, gt=0, description="max model length the server ran with")
    prompt_len: int | None = Field(default=None, gt=0)
    output_len: int | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, gt=0, description="batch size for fixed_batch data")
    request_rate: float | None = Field(default=None, gt=0)

    targets: Targets = Targets()
    stack: Stack
    provenance: Provenance

    # emitter rows (site runs)
    serve_start: datetime | None = None
    serve_end: datetime | None = None
    job_token: str | None = None
    failure_reason: str | None = None

    @model_validator(mode="after")
    def _engine_matches_stack(self) -> HistoryRow:
        if self.stack.engine != self.engine:
            raise ValueError(f"engine {self.engine!r} differs from stack.engine {self.stack.engine!r}")
        return self

    def measured_content(self) -> dict[str, object]:
        """What the hash covers: axes, targets, stack. Not provenance, not the hash itself."""
        data = self.model_dump(mode="json", exclude={"content_hash", "provenance", "schema_version"})
        # fields added after schema v1 enter the hash only when set, so stored hashes stay valid
        for late in _LATE_FIELDS:
            if data.get(late) is None:
                data.pop(late, None)
        targets = data["targets"]
        assert isinstance(targets, dict)
        for late in _LATE_TARGETS:
            if targets.get(late) is None:
                targets.pop(late, None)
        return data

    def compute_hash(self) -> str:
        blob = json.dumps(self.measured_content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def with_hash(self) -> HistoryRow:
        return self.model_copy(update={"content_hash": self.compute_hash()})

    @property
    def cell(self) -> tuple[object, ...]:
        """The workload cell (DECISIONS.md §2): base model, engine, lengths, concurrency, load regime."""
        return (self.model, self.engine, self.load_regime, self.prompt_len, self.output_len, self.concurrency)
