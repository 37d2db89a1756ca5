"""From a request and its parsed script to the advisor's Intent, or to a plain refusal.

Precedence of every value (DECISIONS.md §4): `#OMNIPILOT` tags, then the comment tag, then the
vLLM command line, then site defaults. The intent records where each assumed value came from, so
the advice can print it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from omnipilot.advisor.decide import Asked, Intent
from omnipilot.advisor.workload import resolve_workload
from omnipilot.catalog import Catalog, ModelSpec
from omnipilot.config import Settings
from omnipilot.daemon.clusterstate.cache import Snapshot, parse_gres
from omnipilot.daemon.jobscript.parse import ParsedJob
from omnipilot.daemon.protocol import AdviseRequest

RefusalOutcome = Literal["opted_out", "not_serving", "tag_error", "unknown_model", "out_of_scope"]


class Refusal(BaseModel):
    outcome: RefusalOutcome
    comment: str = ""
    message: str | None = None


_TAG_SOURCES = ("script_tag", "comment_tag")


def _source(parsed: ParsedJob, attr: str, default_source: str) -> str:
    """Where a workload value came from, in words, for the advice."""
    if getattr(parsed, attr) is None:
        return default_source
    src = parsed.sources.get(attr, "")
    return {"script_tag": "#OMNIPILOT tag", "comment_tag": "comment tag"}.get(src, src.replace("_", " "))


def estimated_model(name: str, params_b: float, family: str | None) -> ModelSpec:
    """A stand-in architecture for a model the catalog lacks but a `params=` tag sizes."""
    layers, heads = (
        (32, 32)
        if params_b <= 10
        else (48, 40)
        if params_b <= 20
        else (64, 40)
        if params_b <= 40
        else (80, 64)
    )
    return ModelSpec(
        name=name,
        family=family or "unknown",
        params_b=params_b,
        layers=layers,
        heads=heads,
        kv_heads=8,
        head_dim=128,
        max_context=32768,
    )


def resolve_model(parsed: ParsedJob) -> tuple[str | None, ModelSpec | None, str]:
    if parsed.model_spec is not None:
        return str(parsed.model or parsed.model_name), parsed.model_spec, ""
    if parsed.params_b and parsed.sources.get("params_b") in _TAG_SOURCES:
        name = str(parsed.model or "unnamed-model")
        return (
            name,
            estimated_model(name, float(parsed.params_b), parsed.family),
            "architecture estimated from params=",
        )
    return parsed.model, None, ""


def own_weights(catalog: Catalog, parsed: ParsedJob) -> bool:
    """Does the job serve weights no catalog release has (a fine-tune, or a model known only from its
    config.json)? Then another precision's release is another model, and a rewrite must not swap it in.
    A same-shape config.json does not make a fine-tune the base model: the name decides."""
    if not parsed.model or parsed.model_spec is None:
        return False
    found = catalog.resolve(parsed.model)
    return found is None or found.confidence != "high"


def asked_arm(req: AdviseRequest, parsed: ParsedJob, catalog: Catalog, snap: Snapshot) -> Asked:
    gres_type, per_node = parse_gres(req.tres_per_node or req.gres)
    job_type, per_job = parse_gres(req.tres_per_job)
    gres_type = gres_type or job_type or parsed.sbatch.gpu_type
    if gres_type is None and req.partition:
        # a typeless request lands on whatever the partition holds; name it when that is one kind
        kinds = snap.kinds_by_partition([req.partition]).get(req.partition, {})
        gres_type = next(iter(kinds)) if len(kinds) == 1 else None
    gpus = per_node or per_job or None
    spec = catalog.gpu_for_gres_type(gres_type) if gres_type else None
    return Asked(
        gpu_kind=spec.name if spec else None,
        gres_type=gres_type,
        gpus=gpus,
        tp=parsed.tp,
        precision=parsed.precision,
        partition=req.partition,
    )


def build_intent(
    req: AdviseRequest, parsed: ParsedJob, settings: Settings, catalog: Catalog, snap: Snapshot
) -> Intent | Refusal:
    if parsed.opted_out:
        return Refusal(outcome="opted_out")
    if parsed.tag_errors:
        msg = "omnipilot: could not read the job's tags, job left unchanged:\n" + "\n".join(
            f"  {e}" for e in parsed.tag_errors
        )
        return Refusal(
            outcome="tag_error", comment="tag error, no advice (see the sbatch message)", message=msg
        )
    if not parsed.is_serving:
        return Refusal(outcome="not_serving")
    if parsed.multi_node or (req.min_nodes or 1) > 1:
        return Refusal(
            outcome="out_of_scope",
            comment="multi-node serving is outside OmniPilot's scope; untouched",
            message="omnipilot: multi-node (PP/ray) serving is outside OmniPilot's scope: job left unchanged.",
        )
    if parsed.pooling is not None:
        return Refusal(
            outcome="out_of_scope",
            comment="embedding/reranking server: outside OmniPilot's scope; untouched",
            message=(
                f"omnipilot: {parsed.pooling}; OmniPilot predicts text generation, so the job is left "
                "unchanged."
            ),
        )
    name, spec, note = resolve_model(parsed)
    if spec is None:
        what = (
            f"model {name!r} is not in the catalog" if name else "the model could not be read from the script"
        )
        hint = parsed.model_unresolved_hint or "add `#OMNIPILOT model=<huggingface-name>` to the script"
        return Refusal(
            outcome="unknown_model",
            comment=f"cannot advise: {what}",
            message=(
                f"omnipilot: cannot advise, job left unchanged: {hint}\n"
                "  (an admin can add the model to etc/models.toml)"
            ),
        )
    return _intent(req, parsed, settings, catalog, snap, str(name), spec, note)


def _intent(
    req: AdviseRequest,
    parsed: ParsedJob,
    settings: Settings,
    catalog: Catalog,
    snap: Snapshot,
    name: str,
    spec: ModelSpec,
    note: str,
) -> Intent:
    work = resolve_workload(
        spec, settings.defaults, concurrency=parsed.concurrency, context=parsed.context,
        prompt_len=parsed.prompt_len, output_len=parsed.output_len,
    )  # fmt: skip
    assumed = {
        "concurrency": f"{work.concurrency} ({_source(parsed, 'concurrency', 'site default')})",
        "context": f"{work.context} ({_source(parsed, 'context', 'default')})",
        "prompt/output": f"{work.prompt_len}/{work.output_len} ({_source(parsed, 'output_len', 'share of context')})",
    }
    if note:
        assumed["architecture"] = note
    pinned = parsed.gpu if parsed.sources.get("gpu") in _TAG_SOURCES else None
    limit = req.time_limit
    if limit is None and req.partition and req.partition in snap.partitions:
        limit = snap.partitions[req.partition].default_time_min
    own = own_weights(catalog, parsed)
    if own:
        assumed["checkpoint"] = f"{name} kept in every arm (its weights are not a catalog release)"
    served = (parsed.precision or "bf16", name) if parsed.model and (own or parsed.precision not in (None, "bf16")) else None
    return Intent(
        model_name=name,
        model=spec,
        served=served,
        own_weights=own,
        own_checkpoint=name
        if (parsed.precision in (None, "bf16") and parsed.model_spec is not None)
        else None,
        workload=work,
        assumed=assumed,
        asked=asked_arm(req, parsed, catalog, snap),
        part_list=req.part_list,
        gpu_filter=pinned,
        slo_ttft_ms=parsed.slo_ttft_ms,
        runtime_h=(limit or settings.defaults.time_limit_min) / 60.0,
    )
