"""Roofline and cost-model-backed rates: memory fit, the latency bound, abstention fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from omnipilot.advisor.planner.rates import CostModelRates, RateQuery, RooflineRates, max_batch
from omnipilot.catalog import Catalog


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog.load()


def query(
    cat: Catalog, model: str, gpu: str, tp: int = 1, prec: str = "bf16", slo: float = 10.0
) -> RateQuery:
    m, g = cat.model(model), cat.gpu(gpu)
    assert m is not None and g is not None
    return RateQuery(m, g, tp, prec, 1000, 200, 1500, slo)


def test_70b_bf16_does_not_fit_one_80gb_gpu_but_fits_four(cat: Catalog) -> None:
    assert max_batch(query(cat, "meta-llama/Llama-3.1-70B", "H100", tp=1)) == 0
    assert max_batch(query(cat, "meta-llama/Llama-3.1-70B", "H100", tp=4)) > 0
    assert RooflineRates().estimate([query(cat, "meta-llama/Llama-3.1-70B", "H100", tp=1)]) == [None]


def test_faster_gpu_and_looser_bound_give_more_throughput(cat: Catalog) -> None:
    rr = RooflineRates()
    a100, h100, loose = rr.estimate(
        [
            query(cat, "meta-llama/Llama-3.1-8B", "A100-80GB"),
            query(cat, "meta-llama/Llama-3.1-8B", "H100"),
            query(cat, "meta-llama/Llama-3.1-8B", "A100-80GB", slo=30.0),
        ]
    )
    assert a100 and h100 and loose
    assert h100.requests_per_s > a100.requests_per_s
    assert loose.requests_per_s >= a100.requests_per_s
    assert a100.latency_s <= 10.0 and loose.latency_s <= 30.0


def test_impossible_bound_gives_none(cat: Catalog) -> None:
    assert RooflineRates().estimate([query(cat, "meta-llama/Llama-3.1-8B", "A100-80GB", slo=0.01)]) == [None]


@dataclass
class FakeCostModel:
    """Stands in for omnipilot.advisor.costmodel.CostModel: throughput grows with concurrency
    sub-linearly, so the provider's choice of concurrency is a real trade-off."""

    abstain: bool = False
    seen: list[object] = field(default_factory=list)

    def predict(self, queries: list[object], targets: list[str] | None = None) -> list[object]:
        self.seen.extend(queries)
        out = []
        for q in queries:
            conc = q.concurrency  # type: ignore[attr-defined]
            rps = 2.0 * conc**0.5
            targets_ = (
                {}
                if self.abstain
                else {"requests_per_s": SimpleNamespace(q10=rps * 0.8, q50=rps, q90=rps * 1.2)}
            )
            out.append(SimpleNamespace(targets=targets_, confidence="low" if self.abstain else "high"))
        return out


def test_costmodel_provider_picks_largest_concurrency_within_bound(cat: Catalog) -> None:
    prov = CostModelRates(model=FakeCostModel())
    q = query(cat, "meta-llama/Llama-3.1-8B", "H100", slo=5.0)
    (est,) = prov.estimate([q])
    assert est is not None
    # latency = c / (2 sqrt c) = sqrt(c)/2 <= 5  ->  c <= 100: the ladder's 96
    assert est.concurrency == 96
    assert est.latency_s <= 5.0
    robust = CostModelRates(model=FakeCostModel(), quantile="q10").estimate([q])[0]
    assert robust is not None and robust.requests_per_s < est.requests_per_s


def test_costmodel_abstention_falls_back_to_roofline(cat: Catalog) -> None:
    prov = CostModelRates(model=FakeCostModel(abstain=True))
    (est,) = prov.estimate([query(cat, "meta-llama/Llama-3.1-8B", "H100")])
    assert est is not None and est.source == "roofline"
    assert prov.abstained == 1
