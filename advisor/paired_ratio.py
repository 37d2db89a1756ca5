"""The H200 ÷ H100 check (issue 15, item 1): predicted ratio against the paired TensorRT-LLM rows.

No public vLLM cell measures an H200 beside another GPU kind, so the model's H200 numbers are
judged by ratio: NVIDIA's TensorRT-LLM performance tables publish H200 and H100 side by side for
the same model, TP, precision and ISL/OSL. Their throughput counts output tokens only and the
engine is not vLLM, but both cancel in a ratio of the two kinds on the same arm. Only rows at
maximum load are paired (the offline table, and the online table at an unbounded request rate);
the model is asked at MAX_LOAD_CONCURRENCY sequences, its stand-in for "the engine picks the
batch". Pairs whose model the catalog does not describe are counted and left out.
"""

from __future__ import annotations

import csv
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from omnipilot.advisor.costmodel import ArmQuery, CostModel, save, train
from omnipilot.advisor.features import HardwareMode
from omnipilot.advisor.training import TrainConfig
from omnipilot.catalog import Catalog
from omnipilot.paths import shared_data_dir

TRTLLM_CSV = Path("tensorrt-llm-perf-overview") / "trtllm_perf_overview.csv"
MAX_LOAD_CONCURRENCY = 256
# A predicted ratio within this factor of the measured one counts as agreeing.
AGREE_FACTOR = 1.25
# The physics test's slack: a ratio at or above this is "not predicted slower".
NOT_SLOWER = 0.95
# TensorRT-LLM's short names the catalog's aliases do not cover.
_MODEL_NAMES = {
    "Mistral-7B": "mistralai/Mistral-7B-v0.1",
    "Mixtral-8x7B": "mistralai/Mixtral-8x7B-v0.1",
    "Mixtral-8x22B": "mistralai/Mixtral-8x22B-v0.1",
    "Llama-4-Scout": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    "Llama-4-Maverick": "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
}
_PRECISIONS = {"FP8": "fp8", "BF16": "bf16"}
_PAIR_KEYS = ("source_commit", "table", "model", "tp", "pp", "precision", "isl", "osl", "qps_setting")


class Pair(NamedTuple):
    """One published (H200, H100) pair on the same arm, and their measured throughput ratio."""

    model: str
    tp: int
    precision: str
    isl: int
    osl: int
    measured_ratio: float


def load_pairs(
    data_dir: Path, catalog: Catalog, faster: str = "H200", slower: str = "H100"
) -> tuple[list[Pair], int]:
    """The paired rows at maximum load, and how many pairs were left out (model or precision not
    described). An empty list when the table is not there."""
    path = Path(data_dir) / TRTLLM_CSV
    if not path.is_file():
        return [], 0
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if _max_load(r)]
    by_key: dict[tuple[str, ...], dict[str, float]] = {}
    for r in rows:
        value = _number(r.get("output_tok_s_total"))
        if r["gpu_kind"] in (faster, slower) and math.isfinite(value) and value > 0:
            by_key.setdefault(tuple(r[k] for k in _PAIR_KEYS), {})[r["gpu_kind"]] = value
    pairs: list[Pair] = []
    skipped = 0
    for key, kinds in sorted(by_key.items()):
        if faster not in kinds or slower not in kinds:
            continue
        k = dict(zip(_PAIR_KEYS, key, strict=True))
        spec = catalog.model(_MODEL_NAMES.get(k["model"], k["model"]))
        precision = _PRECISIONS.get(k["precision"])
        if spec is None or precision is None or k["pp"] not in ("", "1"):
            skipped += 1
            continue
        pairs.append(
            Pair(
                spec.name,
                int(k["tp"]),
                precision,
                int(k["isl"]),
                int(k["osl"]),
                kinds[faster] / kinds[slower],
            )
        )
    return pairs, skipped


def check(
    model: CostModel, pairs: Sequence[Pair], faster: str = "H200-141GB", slower: str = "H100-80GB"
) -> dict[str, Any]:
    """Predicted faster ÷ slower tokens/s (q50) per pair against the measured ratio."""
    if not pairs:
        return {"n_pairs": 0, "reason": "no paired rows (TensorRT-LLM tables not found)"}

    def query(p: Pair, gpu: str) -> ArmQuery:
        return ArmQuery(
            model=p.model,
            gpu=gpu,
            tp=p.tp,
            precision=p.precision,
            concurrency=MAX_LOAD_CONCURRENCY,
            context=p.isl + p.osl,
            prompt_len=p.isl,
            output_len=p.osl,
        )

    preds = model.predict([query(p, g) for p in pairs for g in (faster, slower)], ["tokens_per_s"])
    q50 = np.array(
        [pr.targets["tokens_per_s"].q50 if "tokens_per_s" in pr.targets else math.nan for pr in preds]
    ).reshape(len(pairs), 2)
    predicted = q50[:, 0] / q50[:, 1]
    measured = np.array([p.measured_ratio for p in pairs])
    ok = np.isfinite(predicted)
    log_err = np.abs(np.log(predicted[ok] / measured[ok]))
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        if ok[i]:
            groups.setdefault(f"{p.model} tp{p.tp} {p.precision}", []).append(i)
    return {
        "n_pairs": len(pairs),
        "n_predicted": int(ok.sum()),
        "concurrency_asked": MAX_LOAD_CONCURRENCY,
        "measured_ratio_median": float(np.median(measured)),
        "predicted_ratio_median": float(np.median(predicted[ok])) if ok.any() else math.nan,
        "predicted_not_slower": float(np.mean(predicted[ok] >= NOT_SLOWER)) if ok.any() else math.nan,
        "measured_not_slower": float(np.mean(measured >= NOT_SLOWER)),
        "median_abs_log_error": float(np.median(log_err)) if ok.any() else math.nan,
        f"within_{AGREE_FACTOR:g}x": float(np.mean(log_err <= math.log(AGREE_FACTOR)))
        if ok.any()
        else math.nan,
        "by_arm": {
            label: {
                "n": len(idx),
                "measured": float(np.median(measured[idx])),
                "predicted": float(np.median(predicted[idx])),
            }
            for label, idx in sorted(groups.items())
        },
    }


def _max_load(row: dict[str, str]) -> bool:
    return row.get("table") == "offline_max_throughput" or row.get("qps_setting", "").upper() == "INF"


def _number(text: str | None) -> float:
    try:
        return float(text) if text else math.nan
    except ValueError:
        return math.nan


def check_layout(
    frame: pd.DataFrame,
    catalog: Catalog,
    config: TrainConfig,
    hardware: HardwareMode,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Train a model of this hardware layout on the frame (no conformal CV) and run `check` on it."""
    data_dir = data_dir or shared_data_dir()
    pairs, skipped = load_pairs(data_dir, catalog) if data_dir else ([], 0)
    if not pairs:
        return {"n_pairs": 0, "reason": f"no paired H200/H100 rows under {data_dir}"}
    manifest, texts = train(frame, catalog=catalog, config=config, conformal=False, hardware=hardware)
    with tempfile.TemporaryDirectory() as tmp:
        save(Path(tmp), manifest, texts)
        model = CostModel.load(Path(tmp), catalog)
    return {"hardware": hardware, "n_pairs_left_out": skipped, **check(model, pairs)}
