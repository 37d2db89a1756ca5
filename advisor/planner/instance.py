"""A planning instance: request classes, candidate base models, GPU pools and the global limits.

This is the boundary format of `omnipilot plan --demand FILE` (TOML or JSON) and of the
benchmark's generated instances. Everything is validated here, so the solvers can trust shapes.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from omnipilot.catalog import Precision

# Error multiplier per precision relative to 16 bit: the authors' earlier code (LLM-RO,
# parameter_setup.py) uses FP16 1.0, INT8 1.15, INT4 1.35; FP8 is placed with INT8.
DEFAULT_PRECISION_ERROR: dict[str, float] = {"bf16": 1.0, "fp8": 1.15, "awq": 1.35, "gptq": 1.35}


class PlannerInputError(ValueError):
    """The demand file or instance is invalid; the message names the field and what to do."""


class RequestClass(BaseModel):
    """One workload class: arrival rate, token shape, and its SLOs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    rate_per_h: float = Field(gt=0, description="arrivals per hour")
    prompt_tokens: int = Field(gt=0, description="mean prompt length")
    output_tokens: int = Field(gt=0, description="mean generated length")
    prompt_p90: int | None = Field(default=None, gt=0, description="p90 prompt, for KV sizing")
    output_p90: int | None = Field(default=None, gt=0, description="p90 output, for KV sizing")
    delay_slo_s: float = Field(gt=0, description="end-to-end latency bound per request")
    error_slo: float = Field(default=1.0, gt=0, le=1, description="bound on the routed-average error")
    max_unmet: float = Field(default=0.0, ge=0, le=1, description="share that may go unserved")
    unmet_penalty: float = Field(default=1.0, ge=0, description="cost per unserved request")
    delay_penalty: float = Field(default=0.0, ge=0, description="cost per request-second of latency")

    @property
    def kv_tokens(self) -> int:
        """Tokens one resident request holds in KV cache at the end of its life (p90 when given)."""
        return (self.prompt_p90 or self.prompt_tokens) + (self.output_p90 or self.output_tokens)


class ModelOption(BaseModel):
    """A candidate base model and the precisions it may be served in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    precisions: list[Precision] = Field(default_factory=lambda: list[Precision](["bf16"]), min_length=1)
    error: float = Field(default=0.0, ge=0, le=1, description="16-bit error rate on any class")
    error_by_class: dict[str, float] = Field(default_factory=dict, description="overrides per class")
    load_cost: float = Field(default=0.0, ge=0, description="one-off cost of deploying this model")

    def error_on(self, cls: str) -> float:
        return self.error_by_class.get(cls, self.error)


class GpuPool(BaseModel):
    """GPUs of one kind that the plan may use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    available: int = Field(ge=0, description="GPUs of this kind the plan may take")
    cost_per_gpu_hour: float | None = Field(default=None, ge=0, description="overrides the catalog")
    gpus_per_node: int = Field(default=8, gt=0, description="TP stays inside one node")
    partition: str | None = None


class Instance(BaseModel):
    """Everything a solver needs besides the per-(class, configuration) rates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    classes: list[RequestClass] = Field(min_length=1)
    models: list[ModelOption] = Field(min_length=1)
    gpus: list[GpuPool] = Field(min_length=1)
    tp_degrees: list[int] = Field(default_factory=lambda: [1, 2, 4, 8])
    horizon_h: float = Field(default=24.0, gt=0)
    budget: float | None = Field(default=None, gt=0, description="cap on total cost over the horizon")
    headroom: float = Field(default=0.0, ge=0, lt=1, description="share of replica capacity kept free")
    margin: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="robustness margin m: plan as if latency, 1/μ and error were (1+m)× worse "
        "(latency bound and error bound ÷ (1+m), replica capacity ÷ (1+m))",
    )
    max_models: int | None = Field(default=None, gt=0, description="cap on distinct base models")
    precision_error: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_PRECISION_ERROR))
    quantile: Literal["q50", "q10"] = Field(
        default="q50", description="q50 plans on the median (as the paper); q10 on the pessimistic rate"
    )

    @model_validator(mode="after")
    def _check(self) -> Instance:
        for label, names in (
            ("class", [c.name for c in self.classes]),
            ("model", [m.name for m in self.models]),
            ("gpu kind", [g.kind for g in self.gpus]),
        ):
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"duplicate {label} name(s) {sorted(dup)}: give each a unique name")
        bad_tp = [t for t in self.tp_degrees if t not in (1, 2, 4, 8)]
        if bad_tp or not self.tp_degrees:
            raise ValueError(f"tp_degrees {self.tp_degrees}: use a non-empty subset of 1, 2, 4, 8")
        known = {c.name for c in self.classes}
        for m in self.models:
            unknown = set(m.error_by_class) - known
            if unknown:
                raise ValueError(
                    f"model {m.name!r}: error_by_class names unknown class(es) {sorted(unknown)}"
                )
        return self


def load_instance(path: Path) -> Instance:
    """Read a demand file (.toml or .json) into an Instance, with errors that name the field."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise PlannerInputError(f"demand file {path} does not exist") from exc
    try:
        data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PlannerInputError(
            f"demand file {path} is not valid {path.suffix[1:] or 'JSON'}: {exc}"
        ) from exc
    try:
        return Instance.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise PlannerInputError(
            f"demand file {path}: {loc}: {first['msg']} (got {first.get('input')!r}); "
            "see docs/planner.md for the format"
        ) from exc
