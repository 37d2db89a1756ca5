"""The placement policies the backtest compares (paper §4.2, Table 2).

Each policy sees one workload cell's measured arms and returns the index of the arm it would
launch; none may look at the measured outcome of the cell it chooses for. The operator
baselines are model-free rules as an admin would write them (docs/decision-layer.md gives each
rule). OmniPilot is decide.py's own ranking (`rank_by_utility`), with its honest fallback: a
public cell has no user request, so the request stands in as the size rule's arm (TP from the
model's size, bf16, the cheapest kind: the common request shape of a site).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from omnipilot.advisor.arms import ArmFit, Workload
from omnipilot.advisor.decide import Asked, Decision, Intent, Prediction, ScoredArm, rank_by_utility
from omnipilot.advisor.fallback import cheapest_fit_key
from omnipilot.advisor.prevalidated import construct
from omnipilot.advisor.prior import LaunchPrior
from omnipilot.advisor.utility import Quantiles, UtilityTerms
from omnipilot.catalog import ModelSpec
from omnipilot.config import UtilitySettings


@dataclass
class CellArm:
    """One measured arm of one cell: its axes, its fit, and its predicted and realized utility."""

    gpu: str
    tp: int
    precision: str
    rate: float  # cost per GPU-hour
    fit: ArmFit
    bf16_tflops: float
    mem_bw_gbs: float
    fp8_capable: bool
    tokens_real: float
    tokens_pred: float
    confidence: str
    realized: UtilityTerms
    predicted: UtilityTerms
    pred_q: Quantiles | None = None  # tokens/s q10/q50/q90 as the scorer would give them to decide()

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.gpu, self.tp, self.precision)


@dataclass
class Cell:
    key: tuple[str, ...]
    model: str
    family: str
    params_b: float
    concurrency: int
    prompt_len: int
    output_len: int
    regime: str
    fold: int
    arms: list[CellArm] = field(default_factory=list)
    spec: ModelSpec | None = None
    workload: Workload | None = None

    def best_realized(self) -> int:
        return max(range(len(self.arms)), key=lambda i: self.arms[i].realized.utility)


Policy = Callable[[Cell], int]
_PREC_SPEED = {"fp8": 0, "awq": 1, "gptq": 2, "bf16": 3}  # "fastest format first" of throughput-max


def cheapest_fit(cell: Cell) -> int:
    """DECISIONS.md §7: fewest GPU-hours × rate; ties → cheaper kind, lower TP, bf16."""
    rates = {a.gpu: a.rate for a in cell.arms}
    return min(range(len(cell.arms)), key=lambda i: cheapest_fit_key(cell.arms[i].fit, rates, 1.0))


def size_tp(params_b: float) -> int:
    """The common size rule: TP1 to 10B, TP2 to 35B, TP4 to 75B, else TP8."""
    return 1 if params_b <= 10 else 2 if params_b <= 35 else 4 if params_b <= 75 else 8


def size_threshold_tp(cell: Cell) -> int:
    """TP from the model's size; bf16; on the cheapest kind per GPU-hour (the general partition)."""
    want = size_tp(cell.params_b)

    def key(i: int) -> tuple[float, ...]:
        a = cell.arms[i]
        return (abs(math.log2(a.tp / want)), a.tp < want, a.precision != "bf16", a.rate, a.tp)

    return min(range(len(cell.arms)), key=key)


# The stand-in for the user's request in a public cell (none was recorded): the size rule's arm.
REQUEST: Policy = size_threshold_tp


def h100_fp8_recipe(cell: Cell) -> int:
    """The vendor recipe: H100, FP8 where there is an FP8 arm, the fewest GPUs that ran."""

    def key(i: int) -> tuple[float, ...]:
        a = cell.arms[i]
        return (
            a.gpu != "H100-80GB",
            not a.fp8_capable,
            a.precision != "fp8",
            a.precision != "bf16",
            a.tp,
            -a.bf16_tflops,
        )

    return min(range(len(cell.arms)), key=key)


def throughput_max(cell: Cell) -> int:
    """The newest, fastest kind by datasheet (BF16 TFLOP/s, then bandwidth), as many GPUs as measured."""

    def key(i: int) -> tuple[float, ...]:
        a = cell.arms[i]
        return (-a.bf16_tflops, -a.mem_bw_gbs, -a.tp, _PREC_SPEED.get(a.precision, 9))

    return min(range(len(cell.arms)), key=key)


def _arm_distance(a: CellArm, target: tuple[str, int, str]) -> float:
    gpu, tp, prec = target
    return 4.0 * (a.gpu != gpu) + abs(math.log2(a.tp / tp)) + 1.0 * (a.precision != prec)


def _cell_distance(a: Cell, b: Cell) -> float:
    if a.regime != b.regime:
        return math.inf
    d = abs(math.log(a.params_b / b.params_b)) * 2.0 + 0.5 * (a.family != b.family)
    for x, y in ((a.concurrency, b.concurrency), (a.prompt_len, b.prompt_len), (a.output_len, b.output_len)):
        d += abs(math.log(x / y)) * 0.5
    return d


def nearest_neighbor(training: Sequence[Cell]) -> Policy:
    """The arm that won the most similar measured cell of the training folds (no model)."""

    def choose(cell: Cell) -> int:
        pool = [c for c in training if c.fold != cell.fold and len(c.arms) > 1]
        if not pool:
            return cheapest_fit(cell)
        near = min(pool, key=lambda c: _cell_distance(cell, c))
        target = near.arms[near.best_realized()].key
        return min(
            range(len(cell.arms)), key=lambda i: (_arm_distance(cell.arms[i], target), cell.arms[i].rate)
        )

    return choose


class OmniPilot:
    """decide.py's `rank_by_utility` on a cell's measured arms: highest predicted utility, and when
    the best arm is low-confidence the honest fallback (keep the request unless the cheapest fit is
    predicted at >= `fallback_max_slowdown` of its speed and is better by the utility). The request
    is `request(cell)`'s arm; the same code and settings decide live, nothing is copied here."""

    def __init__(
        self,
        settings: UtilitySettings,
        prior: LaunchPrior | None,
        runtime_h: float,
        request: Policy | None,
        bf16_only: bool = False,
    ) -> None:
        self.settings, self.prior, self.runtime_h = settings, prior, runtime_h
        self.request, self.bf16_only = request, bf16_only

    def decision(self, cell: Cell) -> tuple[Decision, int, int | None]:
        """decide()'s Decision, the index of its choice in `cell.arms`, and of the asked arm."""
        idx = [i for i, a in enumerate(cell.arms) if a.precision == "bf16"] if self.bf16_only else []
        idx = idx or list(range(len(cell.arms)))
        rates = {a.gpu: a.rate for a in cell.arms}
        idx.sort(key=lambda i: cheapest_fit_key(cell.arms[i].fit, rates, 1.0))  # decide's input order
        asked_i = self.request(cell) if self.request is not None else None
        asked = Asked()
        if asked_i is not None:
            a = cell.arms[asked_i]
            asked = Asked(gpu_kind=a.gpu, tp=a.tp, precision=a.precision)
        assert cell.spec is not None and cell.workload is not None, "cells come from build_cells"
        intent = Intent(
            model_name=cell.model,
            model=cell.spec,
            workload=cell.workload,
            asked=asked,
            runtime_h=self.runtime_h,
        )
        ranked = [_scored(cell.arms[i]) for i in idx]
        d = rank_by_utility(intent, ranked, [], self.settings, self.prior, None)
        chosen = next(i for i, s in zip(idx, ranked, strict=True) if s is d.choice)
        return d, chosen, asked_i

    def __call__(self, cell: Cell) -> int:
        return self.decision(cell)[1]


def _scored(a: CellArm) -> ScoredArm:
    """A cell's arm as decide() sees one: its fit, cost and predicted tokens/s with the envelope's word."""
    conf = a.confidence if a.confidence in ("high", "medium") else "low"
    targets = {"tokens_per_s": a.pred_q} if a.pred_q is not None else {}
    pred = construct(Prediction, {"targets": targets, "confidence": conf, "reasons": [f"{conf} confidence"]})
    return construct(ScoredArm, {"arm": a.fit.arm, "gres_type": a.gpu, "partitions": [], "fit": a.fit,
                                 "cost_per_hour": a.tp * a.rate, "prediction": pred, "utility": None})  # fmt: skip


def policies(
    training: Sequence[Cell],
    settings: UtilitySettings,
    prior: LaunchPrior | None = None,
    runtime_h: float = 1.0,
) -> Mapping[str, Policy]:
    return {
        "omnipilot": OmniPilot(settings, prior, runtime_h, REQUEST),
        "omnipilot_bf16_only": OmniPilot(settings, prior, runtime_h, REQUEST, bf16_only=True),
        "cheapest_fit": cheapest_fit,
        "size_threshold_tp": size_threshold_tp,
        "h100_fp8_recipe": h100_fp8_recipe,
        "throughput_max": throughput_max,
        "nearest_neighbor": nearest_neighbor(training),
    }
