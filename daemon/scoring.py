"""Loads the cost model and adapts it to the advisor's scorer: (model, workload, arms) → predictions.

The daemon scores only the targets that enter its answer (throughput and TTFT), all arms of a
request in one batched call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from omnipilot.advisor.arms import Arm, Workload
from omnipilot.advisor.catalog import Catalog, ModelSpec
from omnipilot.advisor.decide import Interval, Prediction, Scorer
from omnipilot.config import Settings

REQUEST_PATH_TARGETS = ("tokens_per_s", "ttft_p50_s")
CACHE_SIZE = 4096  # sites resubmit the same jobs: the same request signature scores the same


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


def load_scorer(settings: Settings, catalog: Catalog) -> tuple[Scorer | None, str]:
    """The configured model (or the bundled one). Raises ModelLoadError with a clear message."""
    from omnipilot.advisor.costmodel import BUNDLED_DIR, ArmQuery, CostModel

    path = Path(settings.model.path) if settings.model.path else BUNDLED_DIR
    if not settings.model.path and not (path / "manifest.json").exists():
        return None, "none (no bundled model; cheapest-fit rule only)"
    model = CostModel.load(path, catalog)
    targets = [t for t in REQUEST_PATH_TARGETS if t in model.fitted_targets]

    cache = _LRU(CACHE_SIZE)

    def score(spec: ModelSpec, work: Workload, arms: Sequence[Arm]) -> list[Prediction]:
        key = (spec.name, work, tuple((a.gpu, a.tp, a.precision) for a in arms))
        hit = cache.get(key)
        if hit is not None:
            return [p.model_copy() for p in hit]
        queries = [
            ArmQuery(
                model=spec.name,
                gpu=a.gpu,
                tp=a.tp,
                precision=a.precision,
                # the model's context axis is the tokens a sequence holds (prompt + output, as in
                # the measured runs); --max-model-len only bounds memory, checked in arms.py
                concurrency=work.concurrency,
                context=work.prompt_len + work.output_len,
                prompt_len=work.prompt_len,
                output_len=work.output_len,
            )
            for a in arms
        ]
        preds = model.predict(queries, targets=targets)
        out = [
            Prediction(
                targets={k: Interval(q10=v.q10, q50=v.q50, q90=v.q90) for k, v in p.targets.items()},
                confidence=p.confidence,
                reasons=p.reasons,
            )
            for p in preds
        ]
        cache.put(key, out)
        return [p.model_copy() for p in out]

    return score, model.version
