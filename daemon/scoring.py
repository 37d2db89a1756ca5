"""Loads the cost model for the daemon: only the targets that enter its answer are scored in the
request path, all arms of a request in one batched call (advisor/workload.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from omnipilot.advisor.catalog import Catalog
from omnipilot.advisor.decide import Scorer
from omnipilot.advisor.workload import cost_model_scorer
from omnipilot.config import Settings

if TYPE_CHECKING:
    from omnipilot.advisor.costmodel import CostModel

log = structlog.get_logger("omnipilot.scoring")
REQUEST_PATH_TARGETS = ("tokens_per_s", "ttft_p50_s")


def request_targets(settings: Settings) -> tuple[str, ...]:
    """Power enters the utility only when an admin weighs it; then it is scored too."""
    return (*REQUEST_PATH_TARGETS, "power_avg_w") if settings.utility.power_weight > 0 else REQUEST_PATH_TARGETS


def load_scorer(settings: Settings, catalog: Catalog) -> tuple[Scorer | None, str]:
    """The configured model (or the bundled one). Raises ModelLoadError with a clear message."""
    from omnipilot.advisor.costmodel import BUNDLED_DIR, CostModel

    path = Path(settings.model.path) if settings.model.path else BUNDLED_DIR
    if not settings.model.path and not (path / "manifest.json").exists():
        return None, "none (no bundled model; cheapest-fit rule only)"
    model = CostModel.load(path, catalog)
    if os.environ.get("OMNIPILOT_COMPILED_TREES", "1") != "0":
        threading.Thread(target=_compile, args=(model, path), name="compile-trees", daemon=True).start()
    return cost_model_scorer(model, request_targets(settings)), model.version


def _compile(model: CostModel, path: Path) -> None:
    """Native trees answer the same, faster. The daemon serves with LightGBM meanwhile. Generating the
    code holds the GIL for seconds on a cold cache, which would stall answers: a child process fills
    the on-disk cache first, then this process loads the compiled code from it (~0.1 s)."""
    code = "import sys, pathlib; from omnipilot.advisor.costmodel import CostModel; " \
           "CostModel.load(pathlib.Path(sys.argv[1]), compile_trees=True)"  # fmt: skip
    try:
        subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("compile_child_failed", error=str(exc))
    model.compile()
