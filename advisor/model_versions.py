"""Versioned model folders for the update loop: staging, atomic promotion, rollback, pruning.

Layout of a model directory (docs/retraining.md):

    <model_dir>/<version>/      one promoted model each: the artifact, training_rows.txt,
                                gate_report.json and previous_version (the version it replaced)
    <model_dir>/current         symlink → the serving version (what `model.path` points at)
    <model_dir>/ledger.jsonl    one line per gate decision and rollback (the provenance ledger)
    <model_dir>/.staging-*      a candidate being trained and gated (same filesystem: rename is atomic)

Promotion renames the staged folder to its version name and then swaps `current` with
`rename(2)` of a fresh symlink, so a reader (the daemon on `omnipilot reload`) sees either the old
or the new model, never a half-written one. `current` is the only pointer that changes: the version
a promotion replaced is written into the new folder before it is renamed into place, so a crash at
any step leaves a consistent pair (current, its previous). The bundled model is never written.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import structlog

from omnipilot.advisor.artifact import MANIFEST, ModelLoadError
from omnipilot.advisor.costmodel import CostModel
from omnipilot.catalog import Catalog

log = structlog.get_logger(__name__)

CURRENT = "current"
PREVIOUS_FILE = "previous_version"
LEDGER = "ledger.jsonl"
ROWS_FILE = "training_rows.txt"
REPORT_FILE = "gate_report.json"
_LOCK = ".lock"
_STAGING_PREFIX = ".staging-"


class PromotionError(RuntimeError):
    """A promotion or rollback that cannot be done; the message says why and what to do."""


@contextmanager
def locked(model_dir: Path) -> Iterator[None]:
    """One retrain or rollback at a time per model directory (a timer and an admin may collide)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(model_dir / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise PromotionError(
                f"another retrain or rollback holds {model_dir / _LOCK}; wait for it to finish"
            ) from exc
        yield
    finally:
        os.close(fd)


def new_staging(model_dir: Path) -> Path:
    model_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=model_dir))


def link_target(model_dir: Path, name: str) -> Path | None:
    """The version folder a link (`current`, `previous`) points at, or None where there is none."""
    link = model_dir / name
    if not link.is_symlink():
        return None
    return model_dir / os.readlink(link)


def write_rows_file(folder: Path, content_hashes: Sequence[str]) -> None:
    """The content hashes of the training rows, so the next gate can refit this model's recipe."""
    (folder / ROWS_FILE).write_text("".join(f"{h}\n" for h in sorted(content_hashes)))


def read_rows_file(folder: Path) -> set[str] | None:
    file = folder / ROWS_FILE
    if not file.is_file():
        return None
    return {line.strip() for line in file.read_text().splitlines() if line.strip()}


def previous_of(model_dir: Path) -> Path | None:
    """The version the current one replaced (what `--rollback` restores), or None."""
    current = link_target(model_dir, CURRENT)
    file = current / PREVIOUS_FILE if current else None
    if file is None or not file.is_file():
        return None
    name = file.read_text().strip()
    return model_dir / name if name else None


def promote(model_dir: Path, staging: Path, version: str, catalog: Catalog | None = None) -> Path:
    """Move a gated candidate into `<model_dir>/<version>` and point `current` at it atomically.

    The candidate is loaded once more first: a folder that does not load is never promoted.
    """
    try:
        CostModel.load(staging, catalog)
    except ModelLoadError as exc:
        raise PromotionError(f"candidate at {staging} does not load, not promoted: {exc}") from exc
    old = link_target(model_dir, CURRENT)
    (staging / PREVIOUS_FILE).write_text(f"{old.name}\n" if old else "")
    name = _free_name(model_dir, version)
    final = model_dir / name
    os.rename(staging, final)
    _swap_link(model_dir, CURRENT, name)
    log.info("model.promoted", version=name, previous=old.name if old else None)
    return final


def rollback(model_dir: Path, catalog: Catalog | None = None) -> tuple[str, str]:
    """Point `current` back at the version it replaced. Returns (from, to).

    A second rollback goes one version further back. The folder rolled back to must load.
    """
    cur, prev = link_target(model_dir, CURRENT), previous_of(model_dir)
    if cur is None:
        raise PromotionError(f"nothing to roll back: {model_dir} has no `{CURRENT}` link (no promotion yet)")
    if prev is None:
        raise PromotionError(
            f"nothing to roll back to in {model_dir}: the current version replaced none "
            '(to serve the bundled model again set model.path = "" and run `omnipilot reload`)'
        )
    if not prev.is_dir():
        raise PromotionError(f"the previous version {prev} was removed; current kept")
    try:
        CostModel.load(prev, catalog)
    except ModelLoadError as exc:
        raise PromotionError(f"the previous version {prev} does not load, current kept: {exc}") from exc
    _swap_link(model_dir, CURRENT, prev.name)
    log.info("model.rolled_back", rolled_back=cur.name, current=prev.name)
    return cur.name, prev.name


def prune(model_dir: Path, keep: int) -> list[str]:
    """Remove the oldest promoted versions beyond `keep`; never current or the one it replaced."""
    protected = {p.name for p in (link_target(model_dir, CURRENT), previous_of(model_dir)) if p}
    versions = [
        d
        for d in model_dir.iterdir()
        if d.is_dir() and not d.is_symlink() and (d / MANIFEST).is_file() and not d.name.startswith(".")
    ]
    versions.sort(key=lambda d: (d / MANIFEST).stat().st_mtime, reverse=True)
    removed = []
    for d in versions[keep:]:
        if d.name not in protected:
            shutil.rmtree(d)
            removed.append(d.name)
    return removed


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def append_ledger(model_dir: Path, entry: dict[str, object]) -> None:
    """One JSON line per decision; appended whole under O_APPEND so concurrent readers never see half."""
    line = json.dumps({"time": datetime.now(UTC).isoformat(timespec="seconds"), **entry}, sort_keys=True)
    fd = os.open(model_dir / LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _free_name(model_dir: Path, version: str) -> str:
    """`version`, or `version.N` when a folder of that name exists (same data, other code)."""
    name, n = version, 1
    while (model_dir / name).exists() or (model_dir / name).is_symlink():
        n += 1
        name = f"{version}.{n}"
    return name


def _swap_link(model_dir: Path, name: str, target: str) -> None:
    """Replace `model_dir/name` with a relative symlink to `target` in one rename(2)."""
    tmp = model_dir / f".{name}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, model_dir / name)
    dfd = os.open(model_dir, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
