"""Out-of-sample stress test: freeze a plan, then inflate each (class, configuration)'s latency
(and with it the time a request holds a replica, i.e. 1/μ) and error by a factor drawn from
U(1, φ) per pair, φ up to 1.5 (the paper's stress range). Requests routed where the realised
latency breaks the class's bound, or beyond a replica's realised capacity, violate their SLO;
a class whose realised average error breaks its bound violates it with all its requests.
Violating requests pay the class's unmet penalty in the realised cost. The bounds judged are the
classes' own, whatever margin the plan was made with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.plan import Plan

FACTORS: tuple[float, ...] = (1.0, 1.1, 1.2, 1.3, 1.5)


@dataclass(frozen=True)
class StressResult:
    factor: float
    violation_pct: float  # share of requests violating latency, capacity or accuracy SLOs
    accuracy_violation_pct: float  # share of requests in classes whose error bound broke
    realised_cost: float


def _one(t: Table, plan: Plan, d_mult: np.ndarray, e_mult: np.ndarray) -> tuple[float, float, float]:
    """(violating request share, accuracy-violating share, realised cost) for one realisation."""
    rates = t.rate_s
    slo = t.delay_bound
    x = plan.routing
    delay = np.where(x > 0, t.delay * d_mult, 0.0)
    late = np.where(delay > slo[:, None], x, 0.0)
    with np.errstate(invalid="ignore"):
        load = np.where(x > 0, x * rates[:, None] / np.where(t.mu > 0, t.mu, 1.0) * d_mult, 0.0)
    carried = load.sum(axis=0)
    overflow = np.where(carried > plan.replicas, 1.0 - plan.replicas / np.maximum(carried, 1e-12), 0.0)
    over = (x - late) * overflow[None, :]
    bad_err = (x * t.error * e_mult).sum(axis=1) > t.error_bound + 1e-12
    per_class = np.where(bad_err, 1.0, np.minimum(1.0, late.sum(axis=1) + over.sum(axis=1) + plan.unmet))
    weights = rates / rates.sum()
    hours = t.instance.horizon_h
    pen = np.array([c.delay_penalty for c in t.instance.classes])
    delay_cost = float(np.sum(pen * rates * 3600.0 * hours * (x * delay).sum(axis=1)))
    cost = float(t.rent @ plan.replicas) + delay_cost + float(t.unmet_cost @ per_class)
    return float(weights @ per_class), float(weights @ bad_err), cost


def stress_test(
    t: Table, plan: Plan, factors: Sequence[float] = FACTORS, samples: int = 20, seed: int = 0
) -> list[StressResult]:
    """Mean over `samples` realisations per inflation factor; the same draws for every plan
    given the same seed, so plans are compared on identical scenarios."""
    out = []
    for phi in factors:
        rng = np.random.default_rng(seed)
        rows = []
        for _ in range(samples):
            d_mult = rng.uniform(1.0, phi, size=t.allowed.shape)
            e_mult = rng.uniform(1.0, phi, size=t.allowed.shape)
            rows.append(_one(t, plan, d_mult, e_mult))
        arr = np.array(rows)
        out.append(
            StressResult(
                phi, 100 * float(arr[:, 0].mean()), 100 * float(arr[:, 1].mean()), float(arr[:, 2].mean())
            )
        )
    return out
