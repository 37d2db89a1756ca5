"""One request's workload, and how it is put to the cost model: the single place for both, so the
daemon, `omnipilot advise` and `omnipilot calibrate` assume the same and predict the same.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from omnipilot.advisor.arms import Arm, Workload
from omnipilot.advisor.catalog import ModelSpec
from omnipilot.advisor.decide import Interval, Prediction, Scorer
from omnipilot.advisor.unvalidated import construct
from omnipilot.config import DefaultsSettings

if TYPE_CHECKING:
    from omnipilot.advisor.costmodel import ArmPrediction, ArmQuery, CostModel


def resolve_workload(
    spec: ModelSpec,
    d: DefaultsSettings,
    *,
    concurrency: int | None = None,
    context: int | None = None,
    prompt_len: int | None = None,
    output_len: int | None = None,
) -> Workload:
    """Given values win; the rest come from the site defaults (DECISIONS.md §2): concurrency, the
    model's context capped at `context_cap`, prompt and output lengths as shares of the context."""
    ctx = context or min(spec.max_context, d.context_cap)
    return Workload(
        concurrency=concurrency or d.concurrency,
        context=ctx,
        prompt_len=prompt_len or max(int(ctx * d.prompt_frac), 1),
        output_len=output_len or max(int(ctx * d.output_frac), 1),
    )


def arm_query(model: str, gpu: str, tp: int, precision: str, work: Workload, engine: str = "vllm") -> ArmQuery:
    from omnipilot.advisor.costmodel import ArmQuery

    return ArmQuery(
        model=model, gpu=gpu, tp=tp, precision=precision,
        concurrency=work.concurrency,
        # the model's context axis is what a sequence holds (prompt + output, as in the measured
        # runs); --max-model-len only bounds memory, which arms.py checks
        context=work.prompt_len + work.output_len,
        prompt_len=work.prompt_len, output_len=work.output_len, engine=engine,
    )  # fmt: skip


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[tuple[object, ...], list[Prediction]] = OrderedDict()

    def get(self, key: tuple[object, ...]) -> list[Prediction] | None:
        hit = self.data.get(key)
        if hit is not None:
            self.data.move_to_end(key)
        return hit

    def put(self, key: tuple[object, ...], value: list[Prediction]) -> None:
        self.data[key] = value
        if len(self.data) > self.size:
            self.data.popitem(last=False)


def _prediction(p: ArmPrediction) -> Prediction:
    targets = {k: construct(Interval, {"q10": v.q10, "q50": v.q50, "q90": v.q90}) for k, v in p.targets.items()}
    return construct(Prediction, {"targets": targets, "confidence": p.confidence, "reasons": list(p.reasons)})


def cost_model_scorer(
    model: CostModel, targets: Sequence[str] | None = None, *, engine: str = "vllm", cache_size: int = 4096
) -> Scorer:
    """decide()'s scorer over a loaded cost model: all arms in one batched call, memoised per request
    signature (sites resubmit the same jobs). `targets` None = every fitted target."""
    wanted = [t for t in targets if t in model.fitted_targets] if targets is not None else None
    cache = _LRU(cache_size)

    def score(spec: ModelSpec, work: Workload, arms: Sequence[Arm]) -> list[Prediction]:
        key = (spec.name, work, tuple((a.gpu, a.tp, a.precision) for a in arms))
        hit = cache.get(key)
        if hit is None:
            preds = model.predict([arm_query(spec.name, a.gpu, a.tp, a.precision, work, engine) for a in arms], targets=wanted)
            # built from the model's already-validated answers; shared with the cache, never mutated
            hit = [_prediction(p) for p in preds]
            cache.put(key, hit)
        return list(hit)

    return score
