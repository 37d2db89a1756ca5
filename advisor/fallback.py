"""The cheapest-fit rule (DECISIONS.md §7): the fallback the learned model abstains to.

Fewest GPU-hours × the kind's cost per GPU-hour among arms that fit; arms whose KV cache holds the
whole workload come first. Ties → cheaper kind, lower TP, bf16 before quantized formats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from omnipilot.advisor.arms import ArmFit

_PRECISION_ORDER = {"bf16": 0, "fp8": 1, "awq": 2, "gptq": 3}


def cheapest_fit_key(fit: ArmFit, cost_per_gpu_hour: Mapping[str, float], hours: float) -> tuple[float, ...]:
    rate = cost_per_gpu_hour.get(fit.arm.gpu, 0.0)
    saturated = 1.0 if fit.kv_occupancy > 1.0 else 0.0
    return (
        saturated,
        fit.arm.tp * rate * hours,
        rate,
        fit.arm.tp,
        _PRECISION_ORDER.get(fit.arm.precision, 9),
    )


def rank_cheapest_fit(
    fits: Sequence[ArmFit], cost_per_gpu_hour: Mapping[str, float], hours: float = 1.0
) -> list[ArmFit]:
    """Fitting arms, best first, by the cheapest-fit rule."""
    ok = [f for f in fits if f.fits]
    return sorted(ok, key=lambda f: cheapest_fit_key(f, cost_per_gpu_hour, hours))
