"""`omnipilot advise`: every feasible arm of one request, scored by the cost model, best first.

The request is resolved the way DECISIONS.md §2 says (concurrency and context from the request,
else the site defaults; prompt/output lengths from a configured split of the context). The GPU
kinds considered are those the model has measured rows of, those the site's config prices, and
any the request names, not only the local cluster's. Arms are ranked by confidence first (an
abstaining arm never outranks a supported one), then by predicted tokens per unit of GPU cost.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from omnipilot.advisor.arms import Workload, enumerate_arms
from omnipilot.advisor.catalog import Catalog, GpuSpec
from omnipilot.advisor.costmodel import ArmPrediction, ArmQuery, CostModel
from omnipilot.advisor.envelope import CONFIDENCE_ORDER

GPUS_PER_NODE = 8


class AdviseRequest(BaseModel):
    """One request (flags, or one `--batch` line in snake_case)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    concurrency: int | None = Field(default=None, ge=1)
    context: int | None = Field(default=None, ge=1)
    prompt_len: int | None = Field(default=None, ge=1)
    output_len: int | None = Field(default=None, ge=1)
    gpu: str | None = None
    tp: int | None = Field(default=None, ge=1)
    precision: str | None = None
    engine: str = "vllm"
    slo_ttft_ms: float | None = Field(default=None, gt=0)


class Defaults(BaseModel):
    concurrency: int = 64
    context_cap: int = 8192
    output_frac: float = 0.25
    gpu_memory_utilization: float = 0.9
    cost_per_gpu_hour: dict[str, float] = {}


def site_defaults() -> Defaults:
    """The site's `[defaults]` and cost overrides; the shipped values when no config is readable."""
    try:
        from omnipilot.config import load_settings

        s = load_settings()
    except Exception:  # a missing or invalid site config must not stop a what-if study
        return Defaults()
    d = s.defaults
    return Defaults(
        concurrency=d.concurrency,
        context_cap=d.context_cap,
        output_frac=d.output_frac,
        gpu_memory_utilization=d.gpu_memory_utilization,
        cost_per_gpu_hour=dict(s.cost.per_gpu_hour),
    )


def candidate_gpus(
    model: CostModel, catalog: Catalog, req: AdviseRequest, defaults: Defaults
) -> list[GpuSpec]:
    entry = model.manifest.targets.get("tokens_per_s")
    names = list(entry.envelope.categories.get("gpu", [])) if entry else []
    names += list(defaults.cost_per_gpu_hour)
    if req.gpu:
        names = [req.gpu]
    out: list[GpuSpec] = []
    for n in names:
        g = catalog.gpu(n)
        if g and g not in out:
            out.append(g)
    return out


def advise(model: CostModel, req: AdviseRequest, defaults: Defaults) -> dict[str, Any]:
    """The answer to one request: assumed workload, arms best first, and notes."""
    catalog = model.catalog
    spec = catalog.model(req.model)
    notes: list[str] = []
    if spec is None:
        return {
            "model": req.model,
            "arms": [],
            "notes": [
                f"model {req.model!r} is not in etc/models.toml: add it, or tag the job with its catalog name"
            ],
        }
    conc = req.concurrency or defaults.concurrency
    context = req.context or min(defaults.context_cap, spec.max_context)
    output = req.output_len or max(1, int(context * defaults.output_frac))
    prompt = req.prompt_len or max(1, context - output)
    notes.append(f"assumed concurrency {conc}, context {context}, prompt {prompt}, output {output}")
    if req.gpu and catalog.gpu(req.gpu) is None:
        arm = ArmQuery(
            model=spec.name,
            gpu=req.gpu,
            tp=req.tp or 1,
            precision=_prec(req.precision),
            concurrency=conc,
            context=context,
            prompt_len=prompt,
            output_len=output,
            engine=req.engine,
        )
        return {
            "model": spec.name,
            "arms": [_arm_json(p, None) for p in model.predict([arm])],
            "notes": notes,
        }
    work = Workload(concurrency=conc, context=context, prompt_len=prompt, output_len=output)
    fits = enumerate_arms(
        spec,
        [(g, GPUS_PER_NODE) for g in candidate_gpus(model, catalog, req, defaults)],
        work,
        tps=(req.tp,) if req.tp else (1, 2, 4, 8),
        precisions=[req.precision] if req.precision else None,
        gpu_memory_utilization=defaults.gpu_memory_utilization,
    )
    feasible = [f for f in fits if f.fits]
    if not feasible:
        notes.append(
            "no single-node arm fits: " + "; ".join(sorted({r for f in fits for r in f.reasons}))[:400]
        )
    queries = [
        ArmQuery(
            model=spec.name,
            gpu=f.arm.gpu,
            tp=f.arm.tp,
            precision=_prec(f.arm.precision),
            concurrency=conc,
            context=context,
            prompt_len=prompt,
            output_len=output,
            engine=req.engine,
        )
        for f in feasible
    ]
    preds = model.predict(queries)
    arms = [_arm_json(p, f) for p, f in zip(preds, feasible, strict=True)]
    _apply_slo(arms, req.slo_ttft_ms, notes)
    arms.sort(key=lambda a: _rank_key(a, catalog, defaults))
    return {"model": spec.name, "arms": arms, "notes": notes}


def _prec(p: str | None) -> Any:
    return p or "bf16"


def _arm_json(p: ArmPrediction, fit: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "gpu": p.query.gpu,
        "tp": p.query.tp,
        "precision": p.query.precision,
        "targets": {t: q.model_dump() for t, q in p.targets.items()},
        "confidence": p.confidence,
        "reasons": list(p.reasons),
    }
    if fit is not None:
        out["checkpoint"] = fit.arm.checkpoint
        out["quantization_flag"] = fit.arm.quantization_flag
        out["kv_occupancy"] = round(float(fit.kv_occupancy), 3)
        out["reasons"] += [r for r in fit.reasons if r not in out["reasons"]]
    return out


def _apply_slo(arms: list[dict[str, Any]], slo_ms: float | None, notes: list[str]) -> None:
    if slo_ms is None:
        return
    checked = False
    for a in arms:
        ttft = a["targets"].get("ttft_p50_s")
        if ttft is None:
            continue
        checked = True
        a["slo_ttft_met"] = ttft["q90"] * 1000.0 <= slo_ms
        if not a["slo_ttft_met"]:
            a["reasons"].append(f"TTFT q90 {ttft['q90'] * 1000:.0f} ms above the SLO {slo_ms:.0f} ms")
    if not checked:
        notes.append("TTFT is not predicted (no data): the SLO was not checked")


def _rank_key(arm: dict[str, Any], catalog: Catalog, defaults: Defaults) -> tuple[float, ...]:
    g = catalog.gpu(arm["gpu"])
    cost = defaults.cost_per_gpu_hour.get(arm["gpu"], g.cost_per_gpu_hour if g else math.inf)
    tps = arm["targets"].get("tokens_per_s", {}).get("q50", 0.0)
    per_cost = tps / (arm["tp"] * cost) if cost and math.isfinite(cost) else 0.0
    slo_miss = 1.0 if arm.get("slo_ttft_met") is False else 0.0
    return (float(CONFIDENCE_ORDER[arm["confidence"]]), slo_miss, -per_cost)
