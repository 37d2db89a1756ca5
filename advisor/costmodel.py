"""The cost model facade the daemon, the CLI and the fleet planner call.

`CostModel.predict` scores a batch of arms in one featurize call and one booster call per target
and quantile, then checks each arm against that target's support envelope. A model, family or GPU
kind it has never seen gives a low-confidence arm with a reason, never an exception that stops
the batch. `train` fits a model from a history frame; `save`/`CostModel.load` write and read the
artifact folder (see artifact.py).
"""

from __future__ import annotations

import math
import operator
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import structlog
from pydantic import BaseModel, ConfigDict, Field

from omnipilot.advisor.arms import GPU_MEMORY_UTILIZATION
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
from omnipilot.advisor.conformal import apply_offset
from omnipilot.advisor.envelope import Confidence, worst
from omnipilot.advisor.features import (
    Columns,
    FeatureSpec,
    Featurizer,
    HardwareMode,
    RooflineMode,
    TextColumn,
    take_head,
)
from omnipilot.advisor.physics_targets import DEFAULT_PHYSICS, PHYSICS_TARGETS, kv_reasons, physics_estimates
from omnipilot.advisor.prevalidated import construct
from omnipilot.advisor.quantile import QuantileModel, rearrange
from omnipilot.advisor.training import (
    Base,
    OrderLayout,
    OrderPairs,
    TrainConfig,
    data_hash,
    fit_all,
    order_layout,
    order_pairs,
    ordered_appended,
    ordered_raw,
    physics_spec,
    select_training_rows,
)
from omnipilot.advisor.utility import Quantiles
from omnipilot.catalog import Catalog
from omnipilot.collectors.rows import LoadRegime
from omnipilot.config import Settings
from omnipilot.paths import packaged

BUNDLED_DIR = packaged("omnipilot.advisor", "bundled_model")
# An online server holding N requests in flight is closest to the fixed-batch rows (N sequences
# decoded together, to completion); docs/costmodel.md explains the choice.
DEFAULT_LOAD_REGIME: LoadRegime = "fixed_batch"
PRIMARY_TARGET = "tokens_per_s"
CACHE_SIZE = 1024
# Arm lists whose order layout score_arms keeps: a site has a few partitions × GPU kinds per model.
LAYOUT_CACHE_SIZE = 256
log = structlog.get_logger(__name__)

__all__ = [
    "ArmPrediction",
    "ArmQuery",
    "ArmScores",
    "CostModel",
    "ModelLoadError",
    "Quantiles",
    "WorkloadAxes",
    "load_bundled",
    "train",
]


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


class WorkloadAxes(NamedTuple):
    """The axes all arms of one request share (as in ArmQuery); built from validated values."""

    concurrency: int
    context: int
    prompt_len: int
    output_len: int
    engine: str = "vllm"
    load_regime: LoadRegime = DEFAULT_LOAD_REGIME
    kv_cache_dtype: str = "auto"


# One arm's confidence, its reasons, and each scored target's own label.
Verdict = tuple[Confidence, list[str], dict[str, Confidence]]


class ArmScores(NamedTuple):
    """A batch of arms scored as arrays: per fitted target an (n, 3) array of q10/q50/q90 (a row
    that is not finite has no numbers: its model or GPU kind cannot be described), and per arm its
    verdict. Shared with no cache; the caller owns it."""

    values: dict[str, np.ndarray]
    verdicts: list[Verdict]


class ArmPrediction(BaseModel):
    """One arm's answer. Frozen: answers are shared with the model's signature cache, so a caller
    cannot change what the next identical request gets (the lists and dicts inside are not to be
    edited either)."""

    model_config = ConfigDict(frozen=True)

    query: ArmQuery
    targets: dict[str, Quantiles]
    confidence: Literal["high", "medium", "low"]
    reasons: list[str]
    target_confidence: dict[str, Literal["high", "medium", "low"]] = {}


class CostModel:
    """A loaded, verified model. Immutable after load; safe to share between threads."""

    def __init__(
        self,
        manifest: Manifest,
        models: dict[str, QuantileModel],
        catalog: Catalog | None = None,
        site: Settings | None = None,
    ):
        self.manifest = manifest
        # the site's constants for the physics targets ([physics] in omnipilot.toml), and vLLM's memory
        # share the fit check uses ([defaults]), so the physics KV peak is the fit check's number
        self.physics = site.physics if site is not None else DEFAULT_PHYSICS
        self.memory_share = site.defaults.gpu_memory_utilization if site is not None else GPU_MEMORY_UTILIZATION
        self.models = models
        self.catalog = catalog or Catalog.load()
        self.featurizer = Featurizer(manifest.feature_spec, self.catalog)
        self.version = manifest.version
        self._bases = {t: Base(e.base, self.featurizer) for t, e in manifest.targets.items()}
        self._resolved: dict[tuple[str, str], _Resolved] = {}
        # per (model, arm list): the physics order's layout and the slower arms appended (score_arms)
        self._layouts: OrderedDict[tuple[str, tuple[tuple[str, int, str], ...]], _Layout] = OrderedDict()
        # per arm list, engine, load regime and KV dtype: its feature matrix under some workload
        # (never modified: the next workload's matrix is a copy with its own workload columns)
        self._arm_matrices: OrderedDict[_ArmsKey, np.ndarray] = OrderedDict()
        # the two memos are shared by threads (daemon workers, planner): their LRU order is kept under it
        self._memo_lock = threading.Lock()
        # Sites resubmit the same jobs: answers keyed by the request's signature (all arms + targets).
        self._cache: OrderedDict[_Signature, list[ArmPrediction]] = OrderedDict()
        self._use_tree_arrays()

    @classmethod
    def load(cls, path: Path, catalog: Catalog | None = None, site: Settings | None = None) -> CostModel:
        """Read and verify a model folder; raises ModelLoadError with a message naming the problem.
        `site`: the settings whose [physics] and vLLM memory share the physics targets use."""
        manifest, models = load_manifest_and_models(Path(path))
        return cls(manifest, models, catalog, site)

    def _use_tree_arrays(self) -> None:
        """Every target's boosters as flat arrays (advisor/tree_arrays.py): LightGBM's raw scores
        without its per-call cost, from the first prediction on; a booster the arrays cannot
        represent stays on LightGBM, and the log says which and why."""
        t0 = time.perf_counter()
        for target, model in self.models.items():
            why = model.use_tree_arrays()
            if why is not None:
                log.warning("tree_arrays_unsupported", target=target, reason=why, fallback="lightgbm")
        log.debug(
            "tree_arrays_built",
            version=self.version,
            targets=[t for t, m in self.models.items() if m.trees is not None],
            ms=round((time.perf_counter() - t0) * 1000.0, 1),
        )

    @property
    def fitted_targets(self) -> list[str]:
        return list(self.manifest.targets)

    @property
    def predicted_targets(self) -> list[str]:
        """The fitted targets, then the decision targets physics estimates where no trees were fitted."""
        return [*self.manifest.targets, *(t for t in PHYSICS_TARGETS if t not in self.manifest.targets)]

    def target_source(self, target: str) -> Literal["trees", "physics", "none"]:
        """Where a target's numbers come from: trees fitted on measured rows, physics, or nowhere."""
        if target in self.manifest.targets:
            return "trees"
        return "physics" if target in PHYSICS_TARGETS else "none"

    def predict(
        self, queries: Sequence[ArmQuery], targets: Sequence[str] | None = None
    ) -> list[ArmPrediction]:
        """q10/q50/q90 per fitted target for every query, with confidence and reasons."""
        if not queries:
            return []
        key = _Signature((tuple(queries), tuple(targets) if targets is not None else None))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return list(hit)
        result = self._predict(queries, targets)
        self._cache[key] = result
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return list(result)

    def score_arms(
        self,
        model: str,
        arms: Sequence[tuple[str, int, str]],
        axes: WorkloadAxes,
        targets: Sequence[str] | None = None,
    ) -> ArmScores:
        """The request path's call: the (GPU kind, TP, precision) arms of one model under one
        workload, scored as arrays — no query or answer objects per arm, and no signature cache (the
        daemon memoises whole decisions). Same numbers, confidence and reasons as `predict`."""
        n = len(arms)
        if not n:
            return ArmScores({}, [])
        # The physics order's pairs and the slower arms the request lacks depend on the arms only:
        # found once per arm list, then appended to the batch (one featurize and one tree pass).
        key = (model, tuple(arms))
        memo = self._layouts.get(key)
        if memo is None:
            found = order_layout(self.featurizer, self._columns(_arm_fields(model, arms, axes))[0])
            slower = tuple(
                (self.featurizer.spec.gpus[k], arms[i][1], arms[i][2])
                for i, k in zip(found.source.tolist(), found.kinds.tolist(), strict=True)
            )
            memo = (found, slower)
        self._remember(self._layouts, key, memo)
        order, extra = memo
        arms_key = (*key, axes.engine, axes.load_regime, axes.kv_cache_dtype)
        return self._score(_arm_fields(model, [*arms, *extra], axes), targets, (n, order, arms_key))

    def _remember(self, memo: OrderedDict[Any, Any], key: Hashable, value: object) -> None:
        """Keep `value` as the most recently used entry of a bounded request-path memo."""
        with self._memo_lock:
            memo[key] = value
            memo.move_to_end(key)
            if len(memo) > LAYOUT_CACHE_SIZE:
                memo.popitem(last=False)

    def _predict(self, queries: Sequence[ArmQuery], targets: Sequence[str] | None) -> list[ArmPrediction]:
        fields = query_columns(queries)
        # the slower arms the physics order compares to, appended to the batch (as score_arms)
        layout = order_layout(self.featurizer, self._columns(fields)[0])
        gpus = list(fields[1])
        source, kinds = layout.source.tolist(), layout.kinds.tolist()
        gpus += [self.featurizer.spec.gpus[k] for k in kinds]
        appended = tuple(
            (*column, *(column[i] for i in source)) if f != 1 else gpus for f, column in enumerate(fields)
        )
        scores = self._score(appended, targets, (len(queries), layout, None))
        # Quantiles per target and row, built once for the batch (None: no numbers for this row).
        numbers = {t: _quantiles(v) for t, v in scores.values.items()}
        return [
            construct(
                ArmPrediction,
                {
                    "query": query,
                    "targets": {t: q[i] for t, q in numbers.items() if q[i] is not None},
                    "confidence": confidence,
                    "reasons": reasons,
                    "target_confidence": per_target,
                },
            )
            for i, (query, (confidence, reasons, per_target)) in enumerate(
                zip(queries, scores.verdicts, strict=True)
            )
        ]

    def _score(
        self,
        fields: _QueryColumns,
        targets: Sequence[str] | None,
        appended: tuple[int, OrderLayout, _ArmsKey | None] | None = None,
    ) -> ArmScores:
        """`appended`: the fields hold n arms, then the slower arms they lack in the physics order
        (`order_layout`), and the key of these arms when all rows share one workload (None: no
        memo); otherwise the slower arms are found and predicted here (`order_pairs`)."""
        wanted = list(targets) if targets is not None else self.predicted_targets
        every, pre = self._columns(fields)
        cols: Columns = every
        if appended is None:
            x = self.featurizer.transform(every)
        else:
            n, _, arms_key = appended
            # the same arms under an earlier workload: only the workload's columns are new
            same_arms = self._arm_matrices.get(arms_key) if arms_key is not None else None
            if arms_key is None:
                x = self.featurizer.transform(every)
            elif same_arms is None:
                x = self.featurizer.transform(every)
                self._remember(self._arm_matrices, arms_key, x)
            else:
                self._remember(self._arm_matrices, arms_key, same_arms)
                x = self.featurizer.transform_workload(every, same_arms)
            if len(pre) > n:
                cols, pre = take_head(every, n), pre[:n]
        values: dict[str, np.ndarray] = {}
        conf: dict[str, list[tuple[Confidence, list[str]]]] = {}
        # no numbers for a model or GPU kind we cannot describe
        undescribed = np.array([bool(p) for p in pre], dtype=bool)
        pairs: OrderPairs | None = None  # the physics order's pairs, worked out once per batch
        for target in wanted:
            entry = self.manifest.targets.get(target)
            if entry is None or target in values:
                continue
            # the physics layout keeps a faster GPU kind at least as fast (training.ordered_raw)
            if appended is not None:
                raw = ordered_appended(
                    self.featurizer, self.models[target], self._bases[target], entry.base_shift,
                    entry.base_fill, every, x, appended[0], appended[1], target=target,
                )  # fmt: skip
            else:
                pairs = pairs or order_pairs(self.featurizer, cols)
                raw = ordered_raw(
                    self.featurizer, self.models[target], self._bases[target], entry.base_shift,
                    entry.base_fill, cols, target=target, x=x, pairs=pairs,
                )  # fmt: skip
            q = np.exp(apply_offset(rearrange(raw), entry.offset))
            q[undescribed] = math.nan
            values[target] = q
            conf[target] = entry.envelope.check(cols)
        # decision targets without trees: physics estimates, low confidence (advisor/physics_targets.py)
        physics = physics_estimates(
            self.catalog, cols, [t for t in wanted if t not in self.manifest.targets], self.physics,
            self.memory_share,
        )
        for target, est in physics.items():
            est.values[undescribed] = math.nan
            values[target] = est.values
        # a KV-cache peak near or past full is a reason (preemption), whichever source predicted it
        kv = values.get("kv_cache_peak_frac")
        kv_lines = (
            physics["kv_cache_peak_frac"].reasons if "kv_cache_peak_frac" in physics
            else kv_reasons(kv[:, 1], self.physics.kv_warn_frac) if kv is not None else None
        )  # fmt: skip
        return ArmScores(values, self._verdicts(conf, pre, wanted, list(physics), kv_lines))

    def _verdicts(
        self,
        conf: dict[str, list[tuple[Confidence, list[str]]]],
        pre: list[tuple[str, ...]],
        wanted: list[str],
        physics: Sequence[str] = (),
        kv_lines: Sequence[str | None] | None = None,
    ) -> list[Verdict]:
        """Per arm: its confidence (the ranking target's, and low when it cannot be described), the
        reasons, and each target's own label (physics estimates: low)."""
        primary = PRIMARY_TARGET if PRIMARY_TARGET in conf else next(iter(conf), None)
        unfitted = [
            f"{t}: {self.manifest.unfitted.get(t, 'not predicted (no data)')}"
            for t in wanted
            if t not in self.manifest.targets and t not in physics
        ]
        out: list[Verdict] = []
        for i, why_not in enumerate(pre):
            reasons = list(why_not)
            at = len(reasons)  # a KV-cache line goes after the ranking target's own reasons
            confidence: Confidence = "low" if why_not else "high"
            per_target: dict[str, Confidence] = {}
            for target, labels in conf.items():
                label, why = labels[i]
                per_target[target] = label
                if target == primary:
                    confidence = worst(confidence, label)
                    if why:
                        reasons += [r for r in why if r not in reasons]
                    at = len(reasons)
                elif label == "low" and why:
                    # one line per secondary target; the detail is in target_confidence and its envelope
                    more = f" (+{len(why) - 1} more)" if len(why) > 1 else ""
                    reasons.append(f"{target}: low confidence: {why[0]}{more}")
            per_target.update(dict.fromkeys(physics, "low"))
            if kv_lines is not None and kv_lines[i]:
                reasons.insert(at, str(kv_lines[i]))
            if unfitted:
                reasons += unfitted
            out.append((confidence, reasons, per_target))
        return out

    def _columns(self, fields: _QueryColumns) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
        """Axis columns of the queries (numbers as arrays) and per query the reasons it cannot be
        described (model or GPU kind not in the catalog)."""
        models, gpus, regimes = fields[0], fields[1], TextColumn(fields[7])
        n = len(models)
        versions = self.manifest.train_config.get("engine_versions", {})
        resolved = [self._resolve(m, g) for m, g in zip(models, gpus, strict=True)]
        ints = np.array(fields[2:7], dtype=np.int64).reshape(5, n)
        families = [r[1] for r in resolved]
        known = [f for f in families if f is not None]
        cols: dict[str, Any] = {
            "model": TextColumn([r[0] for r in resolved]),
            # an unknown model's family is None, which the featurizer and envelope print differently
            "family": TextColumn(known) if len(known) == n else families,
            "params_b": np.array([r[2] for r in resolved], dtype=float),
            "active_params_b": np.array([r[3] for r in resolved], dtype=float),
            "gpu": TextColumn([r[4] for r in resolved]),
            "tp": ints[0],
            "precision": TextColumn(fields[8]),
            "kv_cache_dtype": TextColumn(fields[9]),
            "engine": TextColumn(fields[10]),
            "load_regime": regimes,
            "context_len": ints[1],
            "prompt_len": ints[2],
            "output_len": ints[3],
            "concurrency": ints[4],
            "engine_version": [versions.get(r) for r in regimes]
            if isinstance(versions, dict)
            else [None] * n,
        }
        return cols, [r[5] for r in resolved]

    def _resolve(self, model: str, gpu: str) -> _Resolved:
        """(catalog model name, family, params_b, active_params_b, catalog GPU name, reasons)."""
        key = (model, gpu)
        hit = self._resolved.get(key)
        if hit is None:
            reasons: list[str] = []
            spec = self.catalog.model(model)
            g = self.catalog.gpu(gpu)
            if spec is None:
                reasons.append(f"model {model!r} is not in the catalog etc/models.toml: add it to predict it")
            if g is None:
                reasons.append(f"GPU kind {gpu!r} is not in the catalog etc/gpus.toml: add it to predict it")
            hit = self._resolved[key] = (
                spec.name if spec else model,
                spec.family if spec else None,
                spec.params_b if spec else math.nan,
                spec.active_params_b if spec and spec.active_params_b else math.nan,
                g.name if g else gpu,
                tuple(reasons),
            )
        return hit


def _quantiles(v: np.ndarray) -> list[Quantiles | None]:
    """One Quantiles per row of an (n, 3) array; None where a value is not finite."""
    finite = np.isfinite(v).all(axis=1).tolist()
    return [
        construct(Quantiles, {"q10": r[0], "q50": r[1], "q90": r[2]}) if ok else None
        for r, ok in zip(v.tolist(), finite, strict=True)
    ]


_QUERY_FIELDS = operator.attrgetter(
    "model",
    "gpu",
    "tp",
    "context",
    "prompt_len",
    "output_len",
    "concurrency",
    "load_regime",
    "precision",
    "kv_cache_dtype",
    "engine",
)


def query_columns(queries: Sequence[ArmQuery]) -> _QueryColumns:
    """The queries' axes as columns, in _QUERY_FIELDS order (what CostModel._columns reads)."""
    # one C-level pass over the queries, then columns by transposing
    return tuple(zip(*map(_QUERY_FIELDS, queries), strict=True))


def _arm_fields(model: str, arms: Sequence[tuple[str, int, str]], axes: WorkloadAxes) -> _QueryColumns:
    """One model's (GPU kind, TP, precision) arms under one workload, in _QUERY_FIELDS order."""
    n = len(arms)
    gpus, tps, precisions = zip(*arms, strict=True)
    return (
        (model,) * n, gpus, tps, (axes.context,) * n, (axes.prompt_len,) * n, (axes.output_len,) * n,
        (axes.concurrency,) * n, (axes.load_regime,) * n, precisions, (axes.kv_cache_dtype,) * n,
        (axes.engine,) * n,
    )  # fmt: skip


# (model name, family, params_b, active_params_b, GPU name, reasons it cannot be described)
_Resolved = tuple[str, str | None, float, float, str, tuple[str, ...]]
# The queries as columns, in _QUERY_FIELDS order.
_QueryColumns = tuple[Sequence[Any], ...]
# score_arms' memo per arm list: the order layout, and the (GPU kind, TP, precision) arms appended
_Layout = tuple[OrderLayout, tuple[tuple[str, int, str], ...]]
# (model, arms, engine, load regime, KV cache dtype): what a request's matrix depends on but its workload
_ArmsKey = tuple[object, ...]


class _Signature:
    """A request's cache key with its hash computed once (hashing ~100 arms twice per call showed)."""

    __slots__ = ("_hash", "items")

    def __init__(self, items: tuple[object, ...]) -> None:
        self.items = items
        self._hash = hash(items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Signature) and self._hash == other._hash and self.items == other.items


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
    hardware: HardwareMode = "physics",
) -> tuple[Manifest, dict[str, list[str]]]:
    """Fit every target with enough rows from a history frame (`collectors.store.load_frame`)."""
    catalog = catalog or Catalog.load()
    config = config or TrainConfig()
    rows = select_training_rows(frame, config, catalog)
    if rows.empty:
        raise ValueError(
            f"no training rows: the history has no inference rows of engines {list(config.engines)}"
        )
    # one family column per family the rows hold: a family with no row has nothing to learn from
    spec = FeatureSpec.from_catalog(catalog, roofline, hardware, families=rows["family"].dropna().astype(str))
    featurizer = physics_spec(Featurizer(spec, catalog), rows)
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
