"""From one job's intent and the cluster's GPU kinds to a ranked list of arms and a choice.

Pure computation (the daemon calls it in the request path): no I/O. The ranking is the
cheapest-fit rule; when a cost model is loaded, each arm also carries its predicted targets with
intervals and a confidence, and arms the model abstains on are marked so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from omnipilot.advisor.arms import Arm, ArmFit, Workload, enumerate_arms
from omnipilot.advisor.fallback import rank_cheapest_fit
from omnipilot.advisor.prevalidated import construct
from omnipilot.advisor.prior import LaunchPrior
from omnipilot.advisor.utility import (
    ArmInputs,
    Quantiles,
    QueueView,
    UtilityTerms,
    arm_utility,
    judged_slo_s,
    slo_not_judged,
    utility_order,
)
from omnipilot.catalog import Catalog, GpuSpec, ModelSpec
from omnipilot.config import UtilitySettings
from omnipilot.plain_numbers import plain

Outcome = Literal["advised", "no_fit", "unknown_model", "no_gpus"]


class Prediction(BaseModel):
    targets: dict[str, Quantiles] = {}
    confidence: Literal["high", "medium", "low"] = "low"
    reasons: list[str] = []


# (model, workload, arms) → one prediction per arm, same order
Scorer = Callable[[ModelSpec, Workload, Sequence[Arm]], list[Prediction]]


class Asked(BaseModel):
    """What the job asked for, as far as the request and the script tell."""

    gpu_kind: str | None = None
    gres_type: str | None = None
    gpus: int | None = None
    tp: int | None = None
    precision: str | None = None
    partition: str | None = None

    def label(self) -> str:
        n = self.gpus if self.gpus is not None else self.tp
        if self.gpu_kind or self.gres_type:
            kind = (self.gpu_kind or self.gres_type or "").split("-")[0].lower()
            parts = [f"{kind}x{n}" if n else kind]
        else:
            parts = [f"{n or 'some'} GPU{'s' if n != 1 else ''} of any kind"]
        if self.precision:
            parts.append(self.precision)
        if self.tp:
            parts.append(f"tp{self.tp}")
        return " ".join(parts)


class Intent(BaseModel):
    model_name: str
    model: ModelSpec
    own_checkpoint: str | None = Field(default=None, description="the 16-bit checkpoint the job runs")
    served: tuple[str, str] | None = Field(
        default=None, description="(precision, checkpoint) the job serves, when quantized or its own weights"
    )
    own_weights: bool = Field(
        default=False, description="a fine-tune or config.json-only model: no catalog release is the same model"
    )
    workload: Workload
    assumed: dict[str, str] = Field(default_factory=dict, description="value → where it came from")
    asked: Asked = Asked()
    part_list: list[str] = []
    gpu_filter: str | None = Field(default=None, description="catalog kind the user pinned with gpu=")
    slo_ttft_ms: float | None = None
    runtime_h: float = 1.0


class ScoredArm(BaseModel):
    arm: Arm
    gres_type: str
    partitions: list[str]
    fit: ArmFit
    cost_per_hour: float
    prediction: Prediction | None = None
    utility: UtilityTerms | None = None

    @property
    def confidence(self) -> str:
        return self.prediction.confidence if self.prediction else "none"


class Decision(BaseModel):
    outcome: Outcome
    ranked: list[ScoredArm] = []
    choice: ScoredArm | None = None
    rule: Literal["cheapest_fit", "utility"] = "cheapest_fit"
    abstained: bool = Field(default=False, description="the best-utility arm was low-confidence: fell back")
    notes: list[str] = []
    smallest_elsewhere: str | None = None


def gpu_pool(
    kinds_by_partition: Mapping[str, Mapping[str, int]], catalog: Catalog, part_list: Sequence[str]
) -> tuple[dict[str, tuple[GpuSpec, int, str, list[str]]], list[str]]:
    """GPU kinds the job could use: catalog kind → (spec, max GPUs on one node, gres type, partitions)."""
    pool: dict[str, tuple[GpuSpec, int, str, list[str]]] = {}
    unknown: list[str] = []
    for part, kinds in kinds_by_partition.items():
        if part_list and part not in part_list:
            continue
        for gres_type, per_node in kinds.items():
            spec = catalog.gpu_for_gres_type(gres_type)
            if spec is None:
                unknown.append(gres_type)
                continue
            prev = pool.get(spec.name)
            parts = [*(prev[3] if prev else []), part]
            pool[spec.name] = (spec, max(per_node, prev[1] if prev else 0), gres_type, parts)
    return pool, sorted(set(unknown))


def decide(
    intent: Intent,
    kinds_by_partition: Mapping[str, Mapping[str, int]],
    catalog: Catalog,
    cost_per_gpu_hour: Mapping[str, float],
    *,
    scorer: Scorer | None = None,
    gpu_memory_utilization: float = 0.9,
    utility: UtilitySettings | None = None,
    prior: LaunchPrior | None = None,
    queue: QueueView | None = None,
) -> Decision:
    pool, unknown = gpu_pool(kinds_by_partition, catalog, intent.part_list)
    notes = [f"GRES type {t!r} is not in etc/gpus.toml: its nodes are not considered" for t in unknown]
    if intent.gpu_filter:
        pool = {k: v for k, v in pool.items() if k == intent.gpu_filter}
    if not pool:
        return Decision(
            outcome="no_gpus", notes=[*notes, "no GPU partition this job may use has usable GPUs"]
        )
    fits = enumerate_arms(
        intent.model,
        [(spec, per_node) for spec, per_node, _, _ in pool.values()],
        intent.workload,
        gpu_memory_utilization=gpu_memory_utilization,
        own_checkpoint=intent.own_checkpoint,
        as_shipped=intent.served,
        own_weights=intent.own_weights,
    )
    ranked_fits = rank_cheapest_fit(fits, cost_per_gpu_hour, intent.runtime_h)
    if not ranked_fits:
        return Decision(
            outcome="no_fit",
            notes=notes,
            smallest_elsewhere=smallest_fit_anywhere(intent, catalog, gpu_memory_utilization),
        )
    preds: Sequence[Prediction | None] = (
        scorer(intent.model, intent.workload, [f.arm for f in ranked_fits])
        if scorer is not None
        else [None] * len(ranked_fits)
    )
    # every value comes from validated arms, the pool and the scorer: built without validating
    # again (this runs for every arm of every new request)
    ranked = []
    for f, p in zip(ranked_fits, preds, strict=True):
        _, _, gres_type, partitions = pool[f.arm.gpu]
        fields = {"arm": f.arm, "gres_type": gres_type, "partitions": list(partitions), "fit": f,
                  "cost_per_hour": f.arm.tp * cost_per_gpu_hour.get(f.arm.gpu, 0.0), "prediction": p, "utility": None}  # fmt: skip
        ranked.append(construct(ScoredArm, fields))
    if scorer is not None and utility is not None and utility.enabled:
        return _say_slo_not_judged(rank_by_utility(intent, ranked, notes, utility, prior, queue), intent, utility)
    return _advised(ranked, ranked[0], notes)


def _say_slo_not_judged(decision: Decision, intent: Intent, settings: UtilitySettings) -> Decision:
    """A chosen arm without a TTFT prediction cannot be judged against the TTFT SLO: its first reason
    says so (the daemon's message, `advise`; `explain` also prints every arm's utility note). A new
    Prediction: the scorer's are shared with its cache."""
    choice = decision.choice
    pred = choice.prediction if choice is not None else None
    slo_s = judged_slo_s(intent.slo_ttft_ms, settings)
    if choice is None or pred is None or not slo_s or "ttft_p50_s" in pred.targets:
        return decision
    reasons = [slo_not_judged(slo_s), *pred.reasons]
    choice.prediction = construct(
        Prediction, {"targets": pred.targets, "confidence": pred.confidence, "reasons": reasons}
    )
    return decision


def _advised(
    ranked: list[ScoredArm],
    choice: ScoredArm,
    notes: list[str],
    rule: Literal["cheapest_fit", "utility"] = "cheapest_fit",
    abstained: bool = False,
) -> Decision:
    """Decision(outcome="advised", ...) from valid parts, without validating the ranking again."""
    return construct(Decision, {"outcome": "advised", "ranked": ranked, "choice": choice, "rule": rule,
                                "abstained": abstained, "notes": notes, "smallest_elsewhere": None})  # fmt: skip


def rank_by_utility(
    intent: Intent, ranked: list[ScoredArm], notes: list[str], settings: UtilitySettings,
    prior: LaunchPrior | None, queue: QueueView | None,
) -> Decision:  # fmt: skip
    """Arms best-utility first; a low-confidence best arm falls back to the cheapest-fit choice.

    `ranked` arrives in cheapest-fit order, which stays the tie-break and the fallback.
    """
    slo_s = judged_slo_s(intent.slo_ttft_ms, settings)
    for s in ranked:
        p = s.prediction.targets if s.prediction else {}
        s.utility = arm_utility(
            ArmInputs(
                gpu=s.arm.gpu, tp=s.arm.tp, cost_per_gpu_hour=s.cost_per_hour / s.arm.tp,
                tokens_per_s=p.get("tokens_per_s"), kv_occupancy=s.fit.kv_occupancy,
                p_success=prior.success(s.arm.gpu, s.arm.tp) if prior else 1.0,
                queue_wait_h=queue.wait_h(s.gres_type, s.partitions, s.arm.tp, settings) if queue else 0.0,
                ttft_s=p.get("ttft_p50_s"), power_w_per_gpu=p.get("power_avg_w"),
            ),
            settings, intent.runtime_h, slo_s,
        )  # fmt: skip
    order = [ranked[i] for i in utility_order([s.utility for s in ranked if s.utility is not None])]
    order, floor_note = keep_speed_floor(order, requested_arm(intent.asked, ranked), settings.min_share_of_request)
    if floor_note:
        notes = [*notes, floor_note]
    best = order[0]
    if slo_s is not None and all(s.utility is not None and s.utility.slo_excluded for s in order):
        # the judged SLO is the job's own or the site's (a site-wide SLO used to crash this line)
        notes = [*notes, f"no arm meets the TTFT SLO of {plain(slo_s)} s; ranked by utility regardless"]
    pred = best.prediction
    unsure = pred is None or pred.confidence == "low" or "tokens_per_s" not in pred.targets
    if settings.fallback_on_low_confidence and unsure:
        why = short_reason(pred.reasons) if pred and pred.reasons else "no prediction"
        head = f"the best-utility arm {best.arm.label} tp{best.arm.tp} is low-confidence ({why})"
        fallback = ranked[0]
        asked = requested_arm(intent.asked, ranked)
        if asked is not None and asked is not fallback:
            keep, because = _keep_request(asked, fallback, settings.fallback_max_slowdown)
            if keep:
                notes = [*notes, f"{head}: your request {asked.arm.label} tp{asked.arm.tp} is kept ({because})"]
                return _advised(ranked, asked, notes, abstained=True)
            notes = [*notes, f"{head}: the cheapest-fit arm is advised instead ({because})"]
            return _advised(ranked, fallback, notes, abstained=True)
        if asked is fallback:
            notes = [*notes, f"{head}: your request {asked.arm.label} tp{asked.arm.tp} is kept (it is also the cheapest fit)"]
            return _advised(ranked, fallback, notes, abstained=True)
        notes = [*notes, f"{head}: the cheapest-fit rule's arm is advised instead"]
        return _advised(ranked, fallback, notes, abstained=True)
    return _advised(order, best, notes, rule="utility")


def keep_speed_floor(
    order: list[ScoredArm], asked: ScoredArm | None, share: float
) -> tuple[list[ScoredArm], str | None]:
    """Arms that cannot hold the job's sequences (KV occupancy > 1: vLLM preempts) and are predicted
    below `share` of the job's own request's median tokens/s go after every other arm (the order
    within each group stays the utility's). The site's value per token may make such an arm win on
    cost alone; a job that asked for a load is not advised a fraction of it unless nothing else
    fits. Returns the order and, when the best arm moved, why."""
    ask = _q50(asked) if asked is not None else None
    if not share or ask is None or ask <= 0:
        return order, None
    def starved(s: ScoredArm) -> bool:
        return s is not asked and s.fit.kv_occupancy > 1.0 and (_q50(s) or 0.0) < share * ask

    keep = [s for s in order if not starved(s)]
    if not keep or keep[0] is order[0]:
        return order, None
    slow = [s for s in order if starved(s)]
    was, now = order[0], keep[0]
    ratio = (_q50(was) or 0.0) / ask
    note = (
        f"{was.arm.label} tp{was.arm.tp} is better by the utility but predicted at {ratio:.0%} of your "
        f"request's speed (below [utility] min_share_of_request {share:.0%}): {now.arm.label} tp{now.arm.tp} instead"
    )
    return [*keep, *slow], note


def _q50(s: ScoredArm) -> float | None:
    t = s.prediction.targets.get("tokens_per_s") if s.prediction else None
    return t.q50 if t is not None else None


def requested_arm(asked: Asked, ranked: list[ScoredArm]) -> ScoredArm | None:
    """The arm the job asked for, when the request names it fully (GPU kind, count, precision)."""
    count = asked.tp or asked.gpus
    if count is None or not (asked.gpu_kind or asked.gres_type):
        return None
    precision = asked.precision or "bf16"
    for s in ranked:
        kind_ok = asked.gpu_kind == s.arm.gpu or (asked.gres_type is not None and asked.gres_type == s.gres_type)
        if kind_ok and s.arm.tp == count and s.arm.precision == precision:
            return s
    return None


def _keep_request(asked: ScoredArm, fallback: ScoredArm, max_slowdown: float) -> tuple[bool, str]:
    """Whether a low-confidence ranking keeps the user's own arm rather than the cheapest fit: it does
    unless the fallback is predicted at least `max_slowdown` of the request's speed and is cheaper by
    the utility (the fallback must not make things worse for the user), and says why in a few words."""
    def q50(s: ScoredArm) -> float | None:
        t = s.prediction.targets.get("tokens_per_s") if s.prediction else None
        return t.q50 if t is not None else None

    req, fb = q50(asked), q50(fallback)
    if req is None or fb is None:
        return True, "the cheapest fit's speed relative to it is not predicted"
    ratio = fb / req if req > 0 else float("inf")
    if ratio < max_slowdown:
        return True, f"the cheapest fit {fallback.arm.label} tp{fallback.arm.tp} is predicted at {ratio:.0%} of its speed"
    cheaper = (
        fallback.utility is not None and asked.utility is not None and fallback.utility.utility > asked.utility.utility
    )
    if not cheaper:
        return True, f"the cheapest fit {fallback.arm.label} tp{fallback.arm.tp} is not better by the utility"
    return False, f"predicted at {ratio:.0%} of your request's speed and cheaper by the utility"


# A one-line summary stays readable in a job comment and a table; `explain` keeps the whole list.
SHORT_REASON_CHARS = 160
_SECONDARY = re.compile(r"^([a-z0-9_]+): (?:low confidence: )?")
_MORE = re.compile(r" \(\+\d+ more\)$")


def short_reason(reasons: Sequence[str], limit: int = SHORT_REASON_CHARS) -> str:
    """One line for an arm: its distinct reasons, each once (a reason repeated for several targets,
    "requests_per_s: low confidence: precision awq not measured", counts as one; another target's
    own reason keeps its target's name), targets that are not predicted left to the notes, cut at
    `limit` characters with a count of what was left out."""
    cores: list[str] = []
    shown: list[str] = []
    for r in reasons:
        if "not predicted (no data)" in r:
            continue
        m = _SECONDARY.match(r)
        core = _MORE.sub("", r[m.end() :] if m else r).strip()
        if core and core not in cores:
            cores.append(core)
            shown.append(f"{m.group(1)}: {core}" if m else core)
    line = ""
    for i, part in enumerate(shown):
        more = f" (+{len(shown) - i} more: omnipilot explain)"
        cand = f"{line}; {part}" if line else part
        if len(cand) > limit:
            return (line if line else part[: limit - 1] + "…") + (more if i + (not line) < len(shown) else "")
        line = cand
    return line


def smallest_fit_anywhere(intent: Intent, catalog: Catalog, gpu_memory_utilization: float) -> str | None:
    """The smallest single-node arm, on any catalog kind with 8 GPUs a node, that would start."""
    fits = enumerate_arms(
        intent.model,
        [(g, 8) for g in catalog.gpus],
        intent.workload,
        gpu_memory_utilization=gpu_memory_utilization,
    )
    ok = [f for f in fits if f.fits]
    if not ok:
        return None
    mem = {g.name: g.memory_gb for g in catalog.gpus}
    best = min(ok, key=lambda f: (f.arm.tp * mem[f.arm.gpu], f.arm.tp))
    return f"{best.arm.gpu} x{best.arm.tp} {best.arm.precision}"
