"""Economic utility of one arm (paper §3.3.1): the serving value it earns net of what it costs.

    utility = throughput_weight × value_per_token × tokens/s × KV factor × runtime_s
              − compute_weight × GPUs × cost per GPU-hour × runtime_h      (capex + power node-hours)
              − power_weight × predicted energy (kWh) × energy cost per kWh
              − expected queue wait (h) × queue cost per hour
              − (1 − launch-success probability) × restart cost
              − P(TTFT > SLO) × SLO cost per hour × runtime_h

The KV factor is a multiplicative throughput discount above an occupancy knee: preemptions cost
the user latency that aggregate tokens/s does not show. P(TTFT > SLO) is read off the calibrated
q10/q50/q90 with a piecewise-linear CDF in log space; an arm above `slo_max_violation` is excluded.
Every constant comes from `[utility]` in etc/omnipilot.toml (docs/configuration.md gives units).
Pure computation: the daemon calls it in the request path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from omnipilot.config import UtilitySettings
from omnipilot.plain_numbers import plain


class Quantiles(BaseModel):
    """One target's q10/q50/q90, predicted or (in backtests) measured, where q10 = q50 = q90.
    The one quantile triple of the advisor: the cost model answers in it, the utility reads it."""

    model_config = ConfigDict(frozen=True)

    q10: float
    q50: float
    q90: float


@dataclass(frozen=True)
class ArmInputs:
    """What the utility needs to know of one arm; quantiles are predicted or (in backtests) measured."""

    gpu: str
    tp: int
    cost_per_gpu_hour: float
    tokens_per_s: Quantiles | None
    kv_occupancy: float
    p_success: float = 1.0
    queue_wait_h: float = 0.0
    ttft_s: Quantiles | None = None
    power_w_per_gpu: Quantiles | None = None


class UtilityTerms(BaseModel):
    """Each term in the site's cost unit (positive numbers; the utility subtracts the costs)."""

    value: float
    compute: float
    power: float
    queue: float
    failure: float
    slo: float
    kv_factor: float
    p_success: float
    queue_wait_h: float
    p_slo_violation: float | None = None
    slo_excluded: bool = False
    utility: float
    notes: list[str] = []


def kv_factor(occupancy: float, knee: float, exponent: float) -> float:
    """1 up to the knee, then (knee / occupancy) ** exponent: saturation discounts throughput."""
    if not math.isfinite(occupancy):
        return 0.0
    if occupancy <= knee:
        return 1.0
    return float((knee / occupancy) ** exponent)


def p_exceeds(q: Quantiles, threshold: float) -> float:
    """P(X > threshold) from q10/q50/q90: a piecewise-linear CDF in log space, linear tails clipped.

    The quantile model is fitted in log space, so this is the natural interpolation between its
    quantiles; beyond q10 and q90 the adjacent segment's slope continues until 0 or 1.
    """
    if threshold <= 0:
        return 1.0
    pts = sorted((math.log(max(v, 1e-12)), p) for v, p in ((q.q10, 0.1), (q.q50, 0.5), (q.q90, 0.9)))
    xs = [x for x, _ in pts]
    ps = [0.1, 0.5, 0.9]
    t = math.log(threshold)
    if xs[2] - xs[0] < 1e-12:  # a point prediction
        return 0.0 if t >= xs[1] else 1.0
    seg = 0 if t < xs[1] else 1
    lo, hi = xs[seg], xs[seg + 1]
    if hi - lo < 1e-12:  # two quantiles coincide: use the other segment's slope
        lo, hi, seg = xs[1 - seg], xs[2 - seg], 1 - seg
    slope = (ps[seg + 1] - ps[seg]) / (hi - lo)
    cdf = ps[seg] + slope * (t - lo)
    return float(1.0 - min(max(cdf, 0.0), 1.0))


def arm_utility(
    arm: ArmInputs, settings: UtilitySettings, runtime_h: float, slo_ttft_s: float | None = None
) -> UtilityTerms:
    """The utility of one arm and each of its terms (see the module docstring)."""
    notes: list[str] = []
    factor = kv_factor(arm.kv_occupancy, settings.kv_knee, settings.kv_exponent)
    if factor < 1.0:
        notes.append(
            f"KV occupancy {arm.kv_occupancy:.2f} above knee {settings.kv_knee:g}: throughput x{factor:.2f}"
        )
    tokens = arm.tokens_per_s.q50 if arm.tokens_per_s is not None else 0.0
    if arm.tokens_per_s is None:
        notes.append("tokens/s not predicted: no value term")
    value = settings.throughput_weight * settings.value_per_token * tokens * factor * runtime_h * 3600.0
    gpu_hours = arm.tp * runtime_h
    compute = settings.compute_weight * gpu_hours * arm.cost_per_gpu_hour
    power = 0.0
    if settings.power_weight > 0:
        if arm.power_w_per_gpu is None:
            notes.append("power not predicted: no power term")
        else:
            kwh = arm.power_w_per_gpu.q50 * gpu_hours / 1000.0
            power = settings.power_weight * kwh * settings.energy_cost_per_kwh
    queue = arm.queue_wait_h * settings.queue_cost_per_hour
    failure = (1.0 - arm.p_success) * settings.restart_hours * arm.tp * arm.cost_per_gpu_hour
    slo_s = slo_ttft_s if slo_ttft_s is not None else (settings.slo_ttft_s or None)
    p_viol: float | None = None
    slo = 0.0
    excluded = False
    if slo_s:
        if arm.ttft_s is None:
            notes.append(slo_not_judged(slo_s))
        else:
            p_viol = p_exceeds(arm.ttft_s, slo_s)
            slo = p_viol * settings.slo_cost_per_hour * runtime_h
            excluded = p_viol > settings.slo_max_violation
            if excluded:
                notes.append(
                    f"P(TTFT > {slo_s:g} s) = {p_viol:.2f} (q90 {plain(arm.ttft_s.q90)} s): breaks the SLO"
                )
    total = value - compute - power - queue - failure - slo
    return UtilityTerms(
        value=value,
        compute=compute,
        power=power,
        queue=queue,
        failure=failure,
        slo=slo,
        kv_factor=factor,
        p_success=arm.p_success,
        queue_wait_h=arm.queue_wait_h,
        p_slo_violation=p_viol,
        slo_excluded=excluded,
        utility=total,
        notes=notes,
    )


def judged_slo_s(slo_ttft_ms: float | None, settings: UtilitySettings) -> float | None:
    """The TTFT SLO a job is judged by, in seconds: its own `slo_ttft_ms` tag, else the site's
    `slo_ttft_s`; None when neither sets one (then TTFT is neither scored nor judged)."""
    if slo_ttft_ms:
        return slo_ttft_ms / 1000.0
    return settings.slo_ttft_s or None


def slo_not_judged(slo_s: float) -> str:
    """The one line that says a TTFT SLO could not be judged (no TTFT prediction for the arm)."""
    return f"TTFT not predicted: SLO {slo_s:g} s not checked"


def utility_order(terms: Sequence[UtilityTerms]) -> list[int]:
    """Indices best first: arms within the SLO before excluded ones, then higher utility.

    Stable, so equal utilities keep the incoming (cheapest-fit) order as the tie-break.
    """
    return sorted(range(len(terms)), key=lambda i: (terms[i].slo_excluded, -terms[i].utility))


class QueueView(Protocol):
    """Expected hours before `tp` GPUs of a kind start, best over the arm's partitions, already scaled
    down when the reading is stale (the daemon's implementation: daemon/clusterstate/queue_term.py)."""

    def wait_h(self, gres_type: str, partitions: Sequence[str], tp: int, settings: UtilitySettings) -> float: ...
