"""The seed history: every public dataset under `../shared/data` converted by its importer.

`omnipilot history build-seed` runs this. The output is derived data (git-ignored `var/`): it is
rebuilt from the raw files, never committed, and its row count equals what the importers produce.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from omnipilot.catalog import Catalog
from omnipilot.collectors.importers import argonne
from omnipilot.collectors.importers.result import ImportResult
from omnipilot.collectors.store import HistoryStore
from omnipilot.paths import shared_data_dir

log = structlog.get_logger(__name__)


Importer = Callable[[Path, Catalog], ImportResult]


def _importers() -> dict[str, Importer]:
    """Dataset folder name -> importer. Later sources are imported lazily so one broken module
    cannot hide the others' rows."""
    found: dict[str, Importer] = {argonne.DATASET: argonne.import_dir}
    try:
        from omnipilot.collectors.importers import gpustack

        found[gpustack.DATASET] = gpustack.import_dir
    except ImportError:
        pass
    try:
        from omnipilot.collectors.importers import trtllm

        found[trtllm.DATASET] = trtllm.import_dir
    except ImportError:
        pass
    return found


def default_data_dir() -> Path:
    """`$OMNIPILOT_SHARED_DATA`, else ../shared/data beside the checkout; an installed package has no
    default (the caller says where the public data lives)."""
    found = shared_data_dir()
    if found is None:
        raise FileNotFoundError("no public data folder: set OMNIPILOT_SHARED_DATA or pass --data DIR")
    return found


def import_all(data_dir: Path, catalog: Catalog | None = None) -> dict[str, ImportResult]:
    """Run every importer whose dataset folder exists under `data_dir`."""
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"data directory {data_dir} not found: pass --data-dir or set OMNIPILOT_SHARED_DATA"
        )
    cat = catalog or Catalog.load()
    results: dict[str, ImportResult] = {}
    for name, importer in _importers().items():
        folder = data_dir / name
        if folder.is_dir():
            results[name] = importer(folder, cat)
            log.info(
                "seed.imported",
                dataset=name,
                rows=len(results[name].rows),
                problems=len(results[name].problems),
            )
        else:
            log.warning("seed.dataset_missing", dataset=name, path=str(folder))
    return results


@dataclass(frozen=True)
class SeedReport:
    produced: dict[str, int]
    quarantined: dict[str, int]
    added: int
    duplicates: int
    out: Path


def build_seed(data_dir: Path, out: Path, *, rebuild: bool = False) -> SeedReport:
    """Import everything into `out` (idempotent); `rebuild` starts from an empty file."""
    results = import_all(data_dir)
    if rebuild:
        for stale in (out, HistoryStore(out).quarantine_file):
            stale.unlink(missing_ok=True)
    store = HistoryStore(out)
    added = duplicates = 0
    for res in results.values():
        outcome = store.append(res.rows)
        added, duplicates = added + outcome.added, duplicates + outcome.duplicates
        store.quarantine(res.problems)
    return SeedReport(
        produced={k: len(v.rows) for k, v in results.items()},
        quarantined={k: len(v.problems) for k, v in results.items()},
        added=added,
        duplicates=duplicates,
        out=out,
    )
