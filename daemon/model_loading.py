"""Loads the cost model for the daemon: only the targets that enter its answer are scored in the
request path, all arms of a request in one batched call (advisor/workload.py), on flat tree arrays
built at load (advisor/tree_arrays.py): fast from the first request, nothing to compile or cache."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import structlog

from omnipilot.advisor.decide import Scorer
from omnipilot.advisor.workload import cost_model_scorer
from omnipilot.catalog import Catalog
from omnipilot.config import Settings

log = structlog.get_logger("omnipilot.scoring")
REQUEST_PATH_TARGETS = ("tokens_per_s", "ttft_p50_s")


class RequestScorers(NamedTuple):
    """The request path's two scorers over one loaded model: TTFT enters the utility only through a
    TTFT SLO, so a request without one is scored without it (half the tree walks)."""

    plain: Scorer
    with_ttft: Scorer


def request_targets(settings: Settings, slo: bool = True) -> tuple[str, ...]:
    """TTFT when an SLO applies; power only when an admin weighs it."""
    targets = REQUEST_PATH_TARGETS if slo else REQUEST_PATH_TARGETS[:1]
    return (*targets, "power_avg_w") if settings.utility.power_weight > 0 else targets


def load_scorer(settings: Settings, catalog: Catalog) -> tuple[RequestScorers | None, str]:
    """The configured model (or the bundled one). Raises ModelLoadError with a clear message."""
    from omnipilot.advisor.costmodel import BUNDLED_DIR, CostModel

    path = Path(settings.model.path) if settings.model.path else BUNDLED_DIR
    if not settings.model.path and not (path / "manifest.json").exists():
        return None, "none (no bundled model; cheapest-fit rule only)"
    model = CostModel.load(path, catalog, settings)
    # cache_size=0: the service memoises whole decisions, the one cache of the request path
    scorers = RequestScorers(
        plain=cost_model_scorer(model, request_targets(settings, slo=False), cache_size=0),
        with_ttft=cost_model_scorer(model, request_targets(settings, slo=True), cache_size=0),
    )
    return scorers, model.version
