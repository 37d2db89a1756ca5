"""Loads the cost model for the daemon: only the targets that enter its answer are scored in the
request path, all arms of a request in one batched call (advisor/workload.py), on flat tree arrays
built at load (advisor/tree_arrays.py): fast from the first request, nothing to compile or cache."""

from __future__ import annotations

from pathlib import Path

import structlog

from omnipilot.advisor.decide import Scorer
from omnipilot.advisor.workload import cost_model_scorer
from omnipilot.catalog import Catalog
from omnipilot.config import Settings

log = structlog.get_logger("omnipilot.scoring")
REQUEST_PATH_TARGETS = ("tokens_per_s", "ttft_p50_s")


def request_targets(settings: Settings) -> tuple[str, ...]:
    """Power enters the utility only when an admin weighs it; then it is scored too."""
    return (
        (*REQUEST_PATH_TARGETS, "power_avg_w") if settings.utility.power_weight > 0 else REQUEST_PATH_TARGETS
    )


def load_scorer(settings: Settings, catalog: Catalog) -> tuple[Scorer | None, str]:
    """The configured model (or the bundled one). Raises ModelLoadError with a clear message."""
    from omnipilot.advisor.costmodel import BUNDLED_DIR, CostModel

    path = Path(settings.model.path) if settings.model.path else BUNDLED_DIR
    if not settings.model.path and not (path / "manifest.json").exists():
        return None, "none (no bundled model; cheapest-fit rule only)"
    model = CostModel.load(path, catalog, settings)
    # cache_size=0: the service memoises whole decisions, the one cache of the request path
    return cost_model_scorer(model, request_targets(settings), cache_size=0), model.version
