"""The cost model facade the daemon, the CLI and the fleet planner call.

`CostModel.predict` scores a batch of arms in one featurize call and one booster call per target
and quantile, then checks each arm against that target's support envelope. A model, family or GPU
kind it has never seen gives a low-confidence arm with a reason, never an exception that stops
the batch. `train` fits a model from a history frame; `save`/`CostModel.load` write and read the
artifact folder (see artifact.py).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from omnipilot.advisor.artifact import (
    FORMAT_VERSION,
    Manifest,
    ModelLoadError,
    TargetEntry,
    file_sha,
    load_manifest_and_models,
    model_file_names,
    model_hash,
    write_artifact,
)
from omnipilot.advisor.catalog import Catalog
from omnipilot.advisor.conformal import apply_offset
from omnipilot.advisor.envelope import Confidence, worst
from omnipilot.advisor.features import AXIS_COLUMNS, FeatureSpec, Featurizer, RooflineMode
from omnipilot.advisor.quantile import QuantileModel, rearrange
from omnipilot.advisor.training import Base, TrainConfig, data_hash, fit_all, select_training_rows
from omnipilot.collectors.rows import LoadRegime

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled_model"
# An online server holding N requests in flight is closest to the fixed-batch rows (N sequences
# decoded together, to completion); docs/costmodel.md explains the choice.
DEFAULT_LOAD_REGIME: LoadRegime = "fixed_batch"
PRIMARY_TARGET = "tokens_per_s"
CACHE_SIZE = 1024

__all__ = ["ArmPrediction", "ArmQuery", "CostModel", "ModelLoadError", "Quantiles", "load_bundled", "train"]


class ArmQuery(BaseModel):
    """One arm of one request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    gpu: str
    tp: int = Field(ge=1, le=64)
    precision: Literal["bf16", "fp8", "awq", "gptq"]
    concurrency: int = Field(ge=1)
    context: int = Field(ge=1)
    prompt_len: int = Field(ge=1)
    output_len: int = Field(ge=1)
    engine: str = "vllm"
    load_regime: LoadRegime = DEFAULT_LOAD_REGIME
    kv_cache_dtype: str = "auto"


class Quantiles(BaseModel):
    q10: float
    q50: float
    q90: float


class ArmPrediction(BaseModel):
    query: ArmQuery
    targets: dict[str, Quantiles]
    confidence: Literal["high", "medium", "low"]
    reasons: list[str]
    target_confidence: dict[str, Literal["high", "medium", "low"]] = {}


class CostModel:
    """A loaded, verified model. Immutable after load; safe to share between threads."""

    def __init__(self, manifest: Manifest, models: dict[str, QuantileModel], catalog: Catalog | None = None):
        self.manifest = manifest
        self.models = models
        self.catalog = catalog or Catalog.load()
        self.featurizer = Featurizer(manifest.feature_spec, self.catalog)
        self.version = manifest.version
        self._bases = {t: Base(e.base, self.featurizer) for t, e in manifest.targets.items()}
        self._resolved: dict[tuple[str, str], tuple[dict[str, Any], list[str]]] = {}
        # Sites resubmit the same jobs: answers keyed by the request's signature (all arms + targets).
        self._cache: OrderedDict[tuple[object, ...], list[ArmPrediction]] = OrderedDict()

    @classmethod
    def load(cls, path: Path, catalog: Catalog | None = None) -> CostModel:
        """Read and verify a model folder; raises ModelLoadError with a message naming the problem."""
        manifest, models = load_manifest_and_models(Path(path))
        return cls(manifest, models, catalog)

    @property
    def fitted_targets(self) -> list[str]:
        return list(self.manifest.targets)

    def predict(
        self, queries: Sequence[ArmQuery], targets: Sequence[str] | None = None
    ) -> list[ArmPrediction]:
        """q10/q50/q90 per fitted target for every query, with confidence and reasons."""
        if not queries:
            return []
        key = (tuple(queries), tuple(targets) if targets is not None else None)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return [p.model_copy() for p in hit]
        result = self._predict(queries, targets)
        self._cache[key] = result
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return [p.model_copy() for p in result]

    def _predict(self, queries: Sequence[ArmQuery], targets: Sequence[str] | None) -> list[ArmPrediction]:
        wanted = list(targets) if targets is not None else list(self.manifest.targets)
        cols, pre = self._columns(queries)
        x = self.featurizer.transform(cols)
        n = len(queries)
        values: dict[str, np.ndarray] = {}
        conf: dict[str, list[tuple[Confidence, list[str]]]] = {}
        for target in wanted:
            entry = self.manifest.targets.get(target)
            if entry is None:
                continue
            base = self._bases[target].values(cols, entry.base_shift, entry.base_fill)
            q = apply_offset(rearrange(self.models[target].predict_raw(x, base)), entry.offset)
            values[target] = np.exp(q)
            conf[target] = entry.envelope.check(cols)
        out = []
        for i, query in enumerate(queries):
            out.append(self._assemble(query, i, values, conf, pre[i], wanted))
        assert len(out) == n
        return out

    def _assemble(
        self,
        query: ArmQuery,
        i: int,
        values: dict[str, np.ndarray],
        conf: dict[str, list[tuple[Confidence, list[str]]]],
        pre: list[str],
        wanted: list[str],
    ) -> ArmPrediction:
        reasons = list(pre)
        confidence: Confidence = "low" if pre else "high"
        per_target: dict[str, Confidence] = {}
        primary = PRIMARY_TARGET if PRIMARY_TARGET in conf else next(iter(conf), None)
        for target, rows in conf.items():
            label, why = rows[i]
            per_target[target] = label
            if target == primary:
                confidence = worst(confidence, label)
                reasons += [r for r in why if r not in reasons]
            elif label == "low" and why:
                # one line per secondary target; the detail is in target_confidence and its envelope
                more = f" (+{len(why) - 1} more)" if len(why) > 1 else ""
                reasons.append(f"{target}: low confidence: {why[0]}{more}")
        for target in wanted:
            if target not in self.manifest.targets:
                reasons.append(f"{target}: {self.manifest.unfitted.get(target, 'not predicted (no data)')}")
        targets = {
            t: Quantiles(q10=float(v[i, 0]), q50=float(v[i, 1]), q90=float(v[i, 2]))
            for t, v in values.items()
            if np.isfinite(v[i]).all() and not pre  # no numbers for a model or GPU kind we cannot describe
        }
        return ArmPrediction(
            query=query, targets=targets, confidence=confidence, reasons=reasons, target_confidence=per_target
        )

    def _columns(self, queries: Sequence[ArmQuery]) -> tuple[dict[str, list[Any]], list[list[str]]]:
        keys = AXIS_COLUMNS
        cols: dict[str, list[Any]] = {k: [] for k in keys}
        pre: list[list[str]] = []
        versions = self.manifest.train_config.get("engine_versions", {})
        for q in queries:
            resolved, reasons = self._resolve(q.model, q.gpu)
            for k, v in resolved.items():
                cols[k].append(v)
            cols["tp"].append(q.tp)
            cols["precision"].append(q.precision)
            cols["kv_cache_dtype"].append(q.kv_cache_dtype)
            cols["engine"].append(q.engine)
            cols["load_regime"].append(q.load_regime)
            cols["context_len"].append(q.context)
            cols["prompt_len"].append(q.prompt_len)
            cols["output_len"].append(q.output_len)
            cols["concurrency"].append(q.concurrency)
            cols["engine_version"].append(versions.get(q.load_regime) if isinstance(versions, dict) else None)
            pre.append(reasons)
        return cols, pre

    def _resolve(self, model: str, gpu: str) -> tuple[dict[str, Any], list[str]]:
        key = (model, gpu)
        if key not in self._resolved:
            reasons: list[str] = []
            spec = self.catalog.model(model)
            g = self.catalog.gpu(gpu)
            if spec is None:
                reasons.append(f"model {model!r} is not in the catalog etc/models.toml: add it to predict it")
            if g is None:
                reasons.append(f"GPU kind {gpu!r} is not in the catalog etc/gpus.toml: add it to predict it")
            resolved = {
                "model": spec.name if spec else model,
                "family": spec.family if spec else None,
                "params_b": spec.params_b if spec else math.nan,
                "active_params_b": spec.active_params_b if spec and spec.active_params_b else math.nan,
                "gpu": g.name if g else gpu,
            }
            self._resolved[key] = (resolved, reasons)
        resolved, reasons = self._resolved[key]
        return resolved, list(reasons)


def load_bundled() -> CostModel:
    """The model committed in advisor/bundled_model/ (trained from the public seed history)."""
    return CostModel.load(BUNDLED_DIR)


def _engine_versions(frame: pd.DataFrame) -> dict[str, str]:
    """Most common engine version per load regime: what a query of that regime is scored as."""
    out: dict[str, str] = {}
    for regime, group in frame.groupby("load_regime"):
        counts = group["engine_version"].dropna().astype(str).value_counts()
        if len(counts):
            top = counts[counts == counts.max()].index
            out[str(regime)] = sorted(top)[-1]
    return out


def train(
    frame: pd.DataFrame,
    *,
    catalog: Catalog | None = None,
    config: TrainConfig | None = None,
    roofline: RooflineMode = "offset",
    conformal: bool = True,
    data_sources: Sequence[str] = (),
) -> tuple[Manifest, dict[str, list[str]]]:
    """Fit every target with enough rows from a history frame (`collectors.store.load_frame`)."""
    catalog = catalog or Catalog.load()
    config = config or TrainConfig()
    rows = select_training_rows(frame, config, catalog)
    if rows.empty:
        raise ValueError(
            f"no training rows: the history has no inference rows of engines {list(config.engines)}"
        )
    featurizer = Featurizer(FeatureSpec.from_catalog(catalog, roofline), catalog)
    fits, unfitted = fit_all(featurizer, rows, config, conformal=conformal)
    texts = {t: f.model.model_texts() for t, f in fits.items()}
    dhash = data_hash(rows)
    entries = {
        t: TargetEntry(
            n_rows=f.n_rows,
            columns=[int(c) for c in f.model.columns],
            files=model_file_names(t),
            file_sha256=[file_sha(s) for s in texts[t]],
            base=f.base,
            base_shift=f.base_shift,
            base_fill=f.base_fill,
            offset=f.offset,
            offset_random_fold=f.offset_random_fold,
            crossing_rate=f.crossing_rate,
            envelope=f.envelope,
            metrics=f.metrics,
        )
        for t, f in fits.items()
    }
    train_config: dict[str, object] = {
        **config.model_dump(mode="json"),
        "engine_versions": _engine_versions(rows),
    }
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        version=f"{datetime.now(UTC):%Y%m%d}-{dhash[:8]}",
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        n_rows=len(rows),
        data_hash=dhash,
        model_hash=model_hash(texts),
        libraries={p: metadata.version(p) for p in ("lightgbm", "numpy", "pandas", "omnipilot")},
        feature_spec=featurizer.spec,
        feature_names=featurizer.names,
        train_config=train_config,
        data_sources=sorted(set(data_sources) | {str(s) for s in rows.get("source", pd.Series()).dropna()}),
        targets=entries,
        unfitted=unfitted,
    )
    return manifest, texts


def save(path: Path, manifest: Manifest, texts: dict[str, list[str]]) -> None:
    write_artifact(Path(path), manifest, texts)
