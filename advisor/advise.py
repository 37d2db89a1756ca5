"""`omnipilot advise`: every feasible arm of one request, scored and ranked as the daemon would.

The request is resolved by the same rules as a job's (advisor/workload.py) and ranked by the same
decide() (utility, with the fallback to cheapest-fit when the best arm is low-confidence), over the
GPU kinds the model has measured rows of, those the site's config prices, and any the request names,
not only the local cluster's, each assumed to have 8 GPUs a node. All fitted targets are reported, and
the physics estimates of the decision targets no trees were fitted for, each with its source.
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from omnipilot.advisor.arms import TP_DEGREES
from omnipilot.advisor.costmodel import ArmPrediction, CostModel
from omnipilot.advisor.decide import Intent, ScoredArm, decide, short_reason
from omnipilot.advisor.physics_targets import PHYSICS_CONFIDENCE
from omnipilot.advisor.utility import Quantiles, slo_not_judged
from omnipilot.advisor.workload import arm_query, cost_model_scorer, resolve_workload
from omnipilot.catalog import Catalog, GpuSpec, ModelSpec
from omnipilot.config import ConfigError, Settings, load_settings
from omnipilot.model_name import shape_from_name

log = structlog.get_logger(__name__)
GPUS_PER_NODE = 8


class AdviseQuery(BaseModel):
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


def site_settings(path: str | None = None) -> Settings:
    """The site's configuration (`--config`, else the usual lookup). A file named explicitly must be
    valid (ConfigError); otherwise an unreadable or invalid one gives way to the shipped defaults, with
    a warning, so a what-if study on any machine still runs."""
    try:
        return load_settings(path)
    except ConfigError as exc:
        if path:
            raise
        log.warning("advise_uses_default_settings", reason=str(exc))
        return Settings()


def candidate_gpus(model: CostModel, catalog: Catalog, req: AdviseQuery, settings: Settings) -> list[GpuSpec]:
    entry = model.manifest.targets.get("tokens_per_s")
    names = list(entry.envelope.categories.get("gpu", [])) if entry else []
    names += list(settings.cost.per_gpu_hour)
    if req.gpu:
        names = [req.gpu]
    out: list[GpuSpec] = []
    for n in names:
        g = catalog.gpu(n)
        if g and g not in out:
            out.append(g)
    return out


def advise(model: CostModel, req: AdviseQuery, settings: Settings) -> dict[str, Any]:
    """The answer to one request: assumed workload, arms best first, and notes."""
    catalog = model.catalog
    spec, known = _model_spec(catalog, req.model)
    if spec is None:
        note = f"model {req.model!r} is not in etc/models.toml: add it, or tag the job with its catalog name"
        return {"model": req.model, "arms": [], "notes": [note], "unknown_model": True}
    work = resolve_workload(spec, settings.defaults, concurrency=req.concurrency, context=req.context,
                            prompt_len=req.prompt_len, output_len=req.output_len)  # fmt: skip
    notes = [*known, f"assumed concurrency {work.concurrency}, context {work.context}, "
             f"prompt {work.prompt_len}, output {work.output_len}"]  # fmt: skip
    if req.gpu and catalog.gpu(req.gpu) is None:
        q = arm_query(spec.name, req.gpu, req.tp or 1, req.precision or "bf16", work, req.engine)
        return {
            "model": spec.name,
            "arms": [_unknown_kind_json(p, model) for p in model.predict([q])],
            "notes": notes,
        }
    rates = {g.name: g.cost_per_gpu_hour for g in catalog.gpus} | settings.cost.per_gpu_hour
    intent = Intent(model_name=spec.name, model=spec, workload=work, slo_ttft_ms=req.slo_ttft_ms,
                    runtime_h=settings.defaults.time_limit_min / 60.0)  # fmt: skip
    pool = {"what-if": {g.name: GPUS_PER_NODE for g in candidate_gpus(model, catalog, req, settings)}}
    decision = decide(intent, pool, catalog, rates, scorer=cost_model_scorer(model, None, engine=req.engine),
                      gpu_memory_utilization=settings.defaults.gpu_memory_utilization,
                      utility=settings.utility)  # fmt: skip
    notes += decision.notes
    if decision.outcome == "no_fit":
        notes.append("no single-node arm fits" + (f"; smallest elsewhere: {decision.smallest_elsewhere}"
                                                   if decision.smallest_elsewhere else ""))  # fmt: skip
    order = ([decision.choice] if decision.choice else []) + [
        s for s in decision.ranked if s is not decision.choice
    ]
    arms = [_arm_json(s, model) for s in order if _matches(s, req)]
    if req.tp is not None and req.tp not in TP_DEGREES:
        notes.append(f"TP {req.tp} is not among the arms: they are TP {', '.join(map(str, TP_DEGREES))}")
    site_slo_ms = settings.utility.slo_ttft_s * 1000.0 if settings.utility.slo_ttft_s > 0 else None
    _apply_slo(arms, req.slo_ttft_ms or site_slo_ms, notes)
    return {"model": spec.name, "arms": arms, "notes": notes, "rule": decision.rule}


def _model_spec(catalog: Catalog, name: str) -> tuple[ModelSpec | None, list[str]]:
    """The catalog entry, a fine-tune or copy of one (the daemon's reading), or a shape read from the
    name (low confidence); with the note saying which, as the daemon says it."""
    spec = catalog.model(name)
    if spec is not None:
        return spec, []
    found = catalog.resolve(name)
    if found is not None:
        return found.spec, [found.note] if found.note else []
    shaped = shape_from_name(catalog, name)
    if shaped is not None:
        return shaped.spec, [shaped.note]
    return None, []


def _matches(s: ScoredArm, req: AdviseQuery) -> bool:
    return (req.tp is None or s.arm.tp == req.tp) and (
        req.precision is None or s.arm.precision == req.precision
    )


def _targets_json(targets: dict[str, Quantiles], model: CostModel) -> dict[str, dict[str, Any]]:
    """q10/q50/q90 per target and where they come from: `trees` (measured rows) or `physics`
    (no measured rows yet: low confidence, a wide stated band; docs/costmodel.md)."""
    out: dict[str, dict[str, Any]] = {}
    for t, q in targets.items():
        source = model.target_source(t)
        out[t] = {**q.model_dump(), "source": source}
        if source == "physics":
            out[t]["confidence"] = PHYSICS_CONFIDENCE
    return out


def _unknown_kind_json(p: ArmPrediction, model: CostModel) -> dict[str, Any]:
    return {"gpu": p.query.gpu, "tp": p.query.tp, "precision": p.query.precision,
            "targets": _targets_json(p.targets, model),
            "confidence": p.confidence, "reasons": list(p.reasons)}  # fmt: skip


def _arm_json(s: ScoredArm, model: CostModel) -> dict[str, Any]:
    pred = s.prediction
    out: dict[str, Any] = {
        "gpu": s.arm.gpu,
        "tp": s.arm.tp,
        "precision": s.arm.precision,
        "targets": _targets_json(pred.targets, model) if pred else {},
        "confidence": pred.confidence if pred else "low",
        "reasons": list(pred.reasons) if pred else ["no cost model prediction"],
        "checkpoint": s.arm.checkpoint,
        "quantization_flag": s.arm.quantization_flag,
        "kv_occupancy": round(float(s.fit.kv_occupancy), 3),
        "cost_per_hour": s.cost_per_hour,
    }
    if s.utility is not None:
        out["utility"] = s.utility.model_dump()
    out["reasons"] += [r for r in s.fit.reasons if r not in out["reasons"]]
    # one line per arm; the whole list stays in `reasons_all` (and in `omnipilot explain`)
    out["reasons_all"] = out["reasons"]
    line = short_reason(out["reasons"])
    out["reasons"] = [line] if line else []
    return out


def _apply_slo(arms: list[dict[str, Any]], slo_ms: float | None, notes: list[str]) -> None:
    """Each arm's `slo_ttft_met` (null where TTFT is not predicted: not judged), and one note when
    no arm could be judged. The job's SLO, else the site's `[utility] slo_ttft_s`."""
    if slo_ms is None:
        return
    checked = False
    for a in arms:
        ttft = a["targets"].get("ttft_p50_s")
        if ttft is None:
            a["slo_ttft_met"] = None
            why = slo_not_judged(slo_ms / 1000.0)
            if why not in a.get("reasons_all", []):
                a["reasons_all"] = [why, *a.get("reasons_all", [])]
                a["reasons"] = [why + ("; " + a["reasons"][0] if a["reasons"] else "")]
            continue
        checked = True
        a["slo_ttft_met"] = ttft["q90"] * 1000.0 <= slo_ms
        if not a["slo_ttft_met"]:
            why = f"TTFT q90 {ttft['q90'] * 1000:.0f} ms above the SLO {slo_ms:.0f} ms"
            a["reasons_all"] = [*a.get("reasons_all", []), why]
            a["reasons"] = [why + ("; " + a["reasons"][0] if a["reasons"] else "")]
    if not checked:
        notes.append(f"TTFT is not predicted (no data): the SLO of {slo_ms:.0f} ms was not checked")
