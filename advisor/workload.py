"""One request's workload, and how it is put to the cost model: the single place for both, so the
daemon, `omnipilot advise` and `omnipilot calibrate` assume the same and predict the same.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from omnipilot.advisor.arms import Arm, Workload
from omnipilot.advisor.decide import Prediction, Scorer
from omnipilot.advisor.prevalidated import construct
from omnipilot.advisor.utility import Quantiles
from omnipilot.catalog import ModelSpec
from omnipilot.config import DefaultsSettings

if TYPE_CHECKING:
    from omnipilot.advisor.costmodel import ArmQuery, ArmScores, CostModel, WorkloadAxes


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


def query_axes(work: Workload, engine: str = "vllm") -> WorkloadAxes:
    """The cost model's axes for a workload: the model's context axis is what a sequence holds
    (prompt + output, as in the measured runs); --max-model-len only bounds memory, which arms.py
    checks."""
    from omnipilot.advisor.costmodel import WorkloadAxes

    return WorkloadAxes(
        concurrency=work.concurrency, context=work.prompt_len + work.output_len,
        prompt_len=work.prompt_len, output_len=work.output_len, engine=engine,
    )  # fmt: skip


def arm_query(
    model: str, gpu: str, tp: int, precision: str, work: Workload, engine: str = "vllm"
) -> ArmQuery:
    from omnipilot.advisor.costmodel import ArmQuery

    axes = query_axes(work, engine)
    return ArmQuery(
        model=model, gpu=gpu, tp=tp, precision=precision, concurrency=axes.concurrency, context=axes.context,
        prompt_len=axes.prompt_len, output_len=axes.output_len, engine=engine,
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


def predictions(scores: ArmScores) -> list[Prediction]:
    """decide()'s predictions from the model's arrays: the values are already valid, so they are
    built without validating them again (this runs for every arm of every new request)."""
    rows = {t: (v.tolist(), np.isfinite(v).all(axis=1).tolist()) for t, v in scores.values.items()}
    out = []
    for i, (confidence, reasons, _) in enumerate(scores.verdicts):
        targets = {
            t: construct(Quantiles, {"q10": q[i][0], "q50": q[i][1], "q90": q[i][2]})
            for t, (q, finite) in rows.items()
            if finite[i]
        }
        out.append(construct(Prediction, {"targets": targets, "confidence": confidence, "reasons": reasons}))
    return out


def cost_model_scorer(
    model: CostModel, targets: Sequence[str] | None = None, *, engine: str = "vllm", cache_size: int = 4096
) -> Scorer:
    """decide()'s scorer over a loaded cost model: all arms in one batched call, memoised per request
    signature unless `cache_size` is 0 (the daemon memoises whole decisions instead: one cache per
    request). `targets` None = every fitted target."""
    wanted = [t for t in targets if t in model.fitted_targets] if targets is not None else None
    cache = _LRU(cache_size) if cache_size > 0 else None

    def score(spec: ModelSpec, work: Workload, arms: Sequence[Arm]) -> list[Prediction]:
        key = (spec.name, work, tuple((a.gpu, a.tp, a.precision) for a in arms)) if cache else ()
        hit = cache.get(key) if cache else None
        if hit is None:
            scores = model.score_arms(
                spec.name, [(a.gpu, a.tp, a.precision) for a in arms], query_axes(work, engine), wanted
            )
            # shared with the cache, never mutated
            hit = predictions(scores)
            if cache:
                cache.put(key, hit)
        return list(hit)

    return score
