"""The utility terms and the utility ranking in decide(): each term can change a decision."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from omnipilot.advisor.arms import Arm, Workload
from omnipilot.advisor.decide import Asked, Decision, Intent, Prediction, decide
from omnipilot.advisor.prior import LaunchCount, LaunchPrior
from omnipilot.advisor.utility import ArmInputs, Quantiles, QueueView, arm_utility, kv_factor, p_exceeds
from omnipilot.catalog import Catalog, ModelSpec
from omnipilot.config import UtilitySettings
from omnipilot.daemon.clusterstate.cache import NodeState, PartitionState, QueuedJob, Snapshot
from omnipilot.daemon.clusterstate.queue_term import SnapshotQueue

MODEL = "Qwen/Qwen2.5-7B"
KINDS = {"gpu": {"a100": 8, "h100": 8}}
RATES = {"A100-40GB": 1.0, "H100-80GB": 2.2}
# A100 cheaper per token served at low load; H100 has room for the KV cache of many more sequences.
BASE_TOKENS = {"A100-40GB": 6000.0, "H100-80GB": 7000.0}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def stub_scorer(ttft: dict[str, float] | None = None, low: set[str] | None = None) -> object:
    """Predictions that depend only on the arm (not the workload), so the utility alone decides."""

    def score(spec: ModelSpec, work: Workload, arms: Sequence[Arm]) -> list[Prediction]:
        out = []
        for a in arms:
            tok = BASE_TOKENS[a.gpu] * a.tp**0.2
            targets = {"tokens_per_s": Quantiles(q10=tok * 0.9, q50=tok, q90=tok * 1.1)}
            if ttft is not None:
                t = ttft[a.gpu]
                targets["ttft_p50_s"] = Quantiles(q10=t * 0.6, q50=t, q90=t * 1.8)
            conf = "low" if low and a.gpu in low else "high"
            out.append(
                Prediction(targets=targets, confidence=conf, reasons=["stub reason"] if conf == "low" else [])
            )
        return out

    return score


def run(
    catalog: Catalog,
    concurrency: int,
    settings: UtilitySettings,
    *,
    scorer: object,
    slo_ms: float | None = None,
    prior: LaunchPrior | None = None,
    queue: QueueView | None = None,
    asked: Asked | None = None,
) -> Decision:
    spec = catalog.model(MODEL)
    assert spec is not None
    intent = Intent(
        model_name=MODEL,
        model=spec,
        asked=asked or Asked(),
        slo_ttft_ms=slo_ms,
        workload=Workload(concurrency=concurrency, context=4096, prompt_len=3072, output_len=1024),
    )
    return decide(intent, KINDS, catalog, RATES, scorer=scorer, utility=settings, prior=prior, queue=queue)  # type: ignore[arg-type]


def label(d: Decision) -> str:
    assert d.choice is not None
    return f"{d.choice.arm.gpu}x{d.choice.arm.tp} {d.choice.arm.precision}"


def test_kv_term_flips_the_decision_where_occupancy_crosses_the_knee(catalog: Catalog) -> None:
    settings = UtilitySettings()
    below = run(catalog, 64, settings, scorer=stub_scorer())
    above = run(catalog, 128, settings, scorer=stub_scorer())
    assert below.rule == "utility" and above.rule == "utility"
    assert below.choice is not None and below.choice.fit.kv_occupancy < settings.kv_knee
    assert label(below) == "A100-40GBx1 bf16"
    a100x1 = next(
        s for s in above.ranked if (s.arm.gpu, s.arm.tp, s.arm.precision) == ("A100-40GB", 1, "bf16")
    )
    assert a100x1.fit.kv_occupancy > settings.kv_knee
    assert a100x1.utility is not None and a100x1.utility.kv_factor < 1.0
    assert label(above) != "A100-40GBx1 bf16"
    assert above.choice is not None and above.choice.fit.kv_occupancy <= settings.kv_knee
    # the same workload without the KV term keeps the cheap, saturated arm: the term made the flip
    no_kv = run(catalog, 128, UtilitySettings(kv_exponent=0.0), scorer=stub_scorer())
    assert label(no_kv) == "A100-40GBx1 bf16"


def test_slo_term_excludes_arms_whose_q90_ttft_breaks_the_slo(catalog: Catalog) -> None:
    settings = UtilitySettings()
    ttft = {"A100-40GB": 1.5, "H100-80GB": 0.5}  # q90: A100 2.7 s, H100 0.9 s
    free = run(catalog, 16, settings, scorer=stub_scorer(ttft))
    assert label(free) == "A100-40GBx1 bf16"  # without an SLO the cheaper arm wins
    bound = run(catalog, 16, settings, scorer=stub_scorer(ttft), slo_ms=2000)
    assert bound.choice is not None and bound.choice.arm.gpu == "H100-80GB"
    for s in bound.ranked:
        assert s.utility is not None and s.prediction is not None
        q90 = s.prediction.targets["ttft_p50_s"].q90
        assert s.utility.slo_excluded == (q90 > 2.0)
    kept = [s.utility.slo_excluded for s in bound.ranked if s.utility]
    assert kept == sorted(kept), "excluded arms rank after every arm that meets the SLO"


def test_an_slo_that_cannot_be_judged_is_said_on_the_chosen_arm(catalog: Catalog) -> None:
    """No TTFT prediction: the SLO term stays 0, every arm's utility notes it, and the choice's first
    reason says so in one line (what the daemon's message and `advise` show); the scorer's own
    predictions are not edited (they are shared with its cache)."""
    seen: list[Prediction] = []
    plain = stub_scorer()

    def scorer(spec: ModelSpec, work: Workload, arms: Sequence[Arm]) -> list[Prediction]:
        out = plain(spec, work, arms)  # type: ignore[operator]
        seen.extend(out)
        return out  # type: ignore[no-any-return]

    d = run(catalog, 16, UtilitySettings(), scorer=scorer, slo_ms=500)
    assert d.choice is not None and d.choice.prediction is not None
    assert d.choice.prediction.reasons[0] == "TTFT not predicted: SLO 0.5 s not checked"
    assert all(s.utility is not None and s.utility.slo == 0 and s.utility.p_slo_violation is None for s in d.ranked)
    assert all(s.utility is not None and s.utility.notes[-1] == d.choice.prediction.reasons[0] for s in d.ranked)
    assert not any(r.startswith("TTFT") for p in seen for r in p.reasons)
    # the site's SLO ([utility] slo_ttft_s) is judged the same way; with a TTFT prediction nothing is said
    site = run(catalog, 16, UtilitySettings(slo_ttft_s=2.0), scorer=stub_scorer())
    assert site.choice is not None and site.choice.prediction is not None
    assert site.choice.prediction.reasons[0] == "TTFT not predicted: SLO 2 s not checked"
    judged = run(catalog, 16, UtilitySettings(), scorer=stub_scorer({"A100-40GB": 0.2, "H100-80GB": 0.1}), slo_ms=500)
    assert judged.choice is not None and judged.choice.prediction is not None
    assert not any("not checked" in r for r in judged.choice.prediction.reasons)


def test_low_confidence_best_arm_falls_back_to_cheapest_fit(catalog: Catalog) -> None:
    # H100 is made the best-utility arm (A100 throughput too low) but the model is unsure of it
    d = run(
        catalog, 16, UtilitySettings(value_per_token=2e-6), scorer=stub_scorer(low={"H100-80GB", "A100-40GB"})
    )
    assert d.abstained and d.rule == "cheapest_fit"
    assert label(d) == "A100-40GBx1 bf16"
    assert any("low-confidence" in n for n in d.notes)
    sure = run(catalog, 16, UtilitySettings(value_per_token=2e-6), scorer=stub_scorer())
    assert not sure.abstained and sure.rule == "utility"


def test_a_low_confidence_ranking_keeps_the_request_unless_the_fallback_is_nearly_as_fast(catalog: Catalog) -> None:
    unsure = stub_scorer(low={"H100-80GB", "A100-40GB"})
    settings = UtilitySettings(value_per_token=2e-6)  # fallback_max_slowdown 0.8, the shipped value
    # 4 x H100 asked; the cheapest fit (1 x A100) is predicted at 65 % of its speed: the request stays
    big = run(catalog, 16, settings, scorer=unsure, asked=Asked(gpu_kind="H100-80GB", gpus=4, tp=4, precision="bf16"))
    assert label(big) == "H100-80GBx4 bf16" and big.abstained
    assert any("your request h100x4 bf16 tp4 is kept" in n and "65%" in n for n in big.notes), big.notes
    # 2 x A100 asked; 1 x A100 runs at 87 % of its speed for half the GPUs and, at the shipped value
    # per token, is better by the utility: the fallback is advised
    two = Asked(gpu_kind="A100-40GB", gpus=2, tp=2, precision="bf16")
    small = run(catalog, 16, UtilitySettings(), scorer=unsure, asked=two)
    assert label(small) == "A100-40GBx1 bf16"
    assert any("cheapest-fit arm is advised instead" in n and "87%" in n for n in small.notes), small.notes
    # where tokens are worth more, 1 x A100 is not better by the utility: the request stays
    valued = run(catalog, 16, settings, scorer=unsure, asked=two)
    assert label(valued) == "A100-40GBx2 bf16"
    assert any("not better by the utility" in n for n in valued.notes), valued.notes
    # a stricter site keeps the request at 87 % too
    kept = run(catalog, 16, UtilitySettings(fallback_max_slowdown=0.9), scorer=unsure, asked=two)
    assert label(kept) == "A100-40GBx2 bf16"


def test_failure_prior_penalises_unreliable_configurations(catalog: Catalog) -> None:
    settings = UtilitySettings(restart_hours=8.0)
    flaky = LaunchPrior(
        [
            LaunchCount(gpu="A100-40GB", gpus=1, successes=5, failures=995),
            LaunchCount(gpu="H100-80GB", gpus=1, successes=1000, failures=0),
        ]
    )
    assert label(run(catalog, 16, settings, scorer=stub_scorer())) == "A100-40GBx1 bf16"
    d = run(catalog, 16, settings, scorer=stub_scorer(), prior=flaky)
    assert label(d) != "A100-40GBx1 bf16"
    assert d.ranked[-1].utility is not None and d.ranked[-1].utility.failure > 0


def _snapshot(pending: int, age_s: float = 0.0) -> Snapshot:
    """Eight A100s all held by one job for 2 more hours, eight idle H100s, `pending` 8-GPU jobs."""
    now = time.time()
    nodes = {
        "a1": NodeState(name="a1", partitions=["gpu"], gres_type="a100", gpus_total=8, gpus_used=8, states=["ALLOCATED"]),
        "h1": NodeState(name="h1", partitions=["gpu"], gres_type="h100", gpus_total=8, gpus_used=0, states=["IDLE"]),
    }  # fmt: skip
    jobs = [QueuedJob(job_id="1", state="RUNNING", partitions=["gpu"], gres_type="a100", gpus=8, nodes=["a1"],
                      end_time=now + 7200)]  # fmt: skip
    jobs += [QueuedJob(job_id=str(10 + i), state="PENDING", partitions=["gpu"], gres_type="a100", gpus=8,
                       time_limit_min=60) for i in range(pending)]  # fmt: skip
    parts = {"gpu": PartitionState(name="gpu", nodes=["a1", "h1"], default_time_min=60)}
    return Snapshot(taken_at=now - age_s, nodes=nodes, partitions=parts, jobs=jobs,
                    pending_gpus={"gpu": 8 * pending})  # fmt: skip


def test_pending_demand_raises_the_queue_term(catalog: Catalog) -> None:
    settings = UtilitySettings(queue_max_wait_h=100.0)
    idle, busy = SnapshotQueue(_snapshot(0)), SnapshotQueue(_snapshot(5))
    assert idle.wait_h("h100", ["gpu"], 1, settings) == 0.0
    assert busy.wait_h("a100", ["gpu"], 1, settings) > idle.wait_h("a100", ["gpu"], 1, settings) > 0.0
    ancient = SnapshotQueue(_snapshot(5, age_s=86_400))  # a stale reading is not trusted at face value
    assert ancient.wait_h("a100", ["gpu"], 1, settings) < busy.wait_h("a100", ["gpu"], 1, settings)
    # the A100s are all busy and 40 GPUs are pending: the idle H100 wins over the cheaper kind
    d = run(catalog, 16, UtilitySettings(queue_cost_per_hour=4.0), scorer=stub_scorer(), queue=busy)
    assert d.choice is not None and d.choice.arm.gpu == "H100-80GB"
    assert d.choice.utility is not None and d.choice.utility.queue == 0.0


def test_p_exceeds_reads_the_quantiles_in_log_space() -> None:
    q = Quantiles(q10=1.0, q50=2.0, q90=4.0)
    assert p_exceeds(q, 4.0) == pytest.approx(0.1)
    assert p_exceeds(q, 2.0) == pytest.approx(0.5)
    assert p_exceeds(q, 1.0) == pytest.approx(0.9)
    assert p_exceeds(q, 2.0**1.5) == pytest.approx(0.3)  # halfway between q50 and q90 in log space
    assert p_exceeds(q, 100.0) == 0.0 and p_exceeds(q, 0.01) == 1.0
    probs = [p_exceeds(q, t) for t in (0.5, 1.0, 1.5, 3.0, 6.0, 9.0)]
    assert probs == sorted(probs, reverse=True)


def test_terms_add_up_and_power_can_outweigh_throughput() -> None:
    tok = Quantiles(q10=900.0, q50=1000.0, q90=1100.0)
    watts = Quantiles(q10=300.0, q50=350.0, q90=400.0)
    arm = ArmInputs(
        gpu="X",
        tp=2,
        cost_per_gpu_hour=1.5,
        tokens_per_s=tok,
        kv_occupancy=1.7,
        p_success=0.8,
        queue_wait_h=0.5,
        power_w_per_gpu=watts,
    )
    s = UtilitySettings(power_weight=2.0)
    t = arm_utility(arm, s, runtime_h=2.0)
    assert t.kv_factor == pytest.approx(kv_factor(1.7, 0.85, 1.0)) == pytest.approx(0.5)
    assert t.value == pytest.approx(s.value_per_token * 1000.0 * 0.5 * 7200.0)
    assert t.compute == pytest.approx(2 * 2.0 * 1.5)
    assert t.power == pytest.approx(2.0 * 0.35 * 2 * 2.0 * s.energy_cost_per_kwh)
    assert t.failure == pytest.approx(0.2 * s.restart_hours * 2 * 1.5)
    assert t.queue == pytest.approx(0.5 * s.queue_cost_per_hour)
    assert t.utility == pytest.approx(t.value - t.compute - t.power - t.queue - t.failure - t.slo)
    frugal = ArmInputs(
        gpu="Y",
        tp=2,
        cost_per_gpu_hour=1.5,
        tokens_per_s=Quantiles(q10=800, q50=900, q90=1000),
        kv_occupancy=0.5,
        power_w_per_gpu=Quantiles(q10=100, q50=120, q90=140),
    )
    hungry = ArmInputs(
        gpu="Z",
        tp=2,
        cost_per_gpu_hour=1.5,
        tokens_per_s=Quantiles(q10=900, q50=1000, q90=1100),
        kv_occupancy=0.5,
        power_w_per_gpu=Quantiles(q10=600, q50=700, q90=800),
    )
    vpt = UtilitySettings(value_per_token=1e-5)
    assert arm_utility(hungry, vpt, 1.0).utility > arm_utility(frugal, vpt, 1.0).utility
    green = UtilitySettings(value_per_token=1e-5, power_weight=50.0)
    assert arm_utility(frugal, green, 1.0).utility > arm_utility(hungry, green, 1.0).utility


def test_an_arm_that_cannot_hold_the_load_far_below_the_requests_speed_is_not_advised(catalog: Catalog) -> None:
    """At the shipped value per token the cheapest arm can win on cost alone, even when its KV cache
    cannot hold the job's sequences (vLLM then preempts). Such an arm, predicted below
    min_share_of_request of the job's own request's speed, is advised only when nothing else fits."""
    asked = Asked(gpu_kind="H100-80GB", gpus=4, tp=4, precision="bf16")  # stub: 9,190 tok/s
    ask = 7000.0 * 4**0.2
    # without the KV discount (kv_exponent 0) cost alone picks the cheapest arm, starved or not
    off = run(catalog, 512, UtilitySettings(min_share_of_request=0.0, kv_exponent=0.0), scorer=stub_scorer(), asked=asked)
    assert off.choice is not None and off.choice.fit.kv_occupancy > 1.0, "premise: the cheapest arm starves"
    starved = off.choice
    share = (starved.prediction.targets["tokens_per_s"].q50 / ask) + 0.05  # type: ignore[union-attr]
    floor = run(catalog, 512, UtilitySettings(min_share_of_request=share, kv_exponent=0.0), scorer=stub_scorer(), asked=asked)
    assert floor.choice is not None and floor.choice.arm != starved.arm
    fast = floor.choice.prediction.targets["tokens_per_s"].q50 >= share * ask  # type: ignore[union-attr]
    assert floor.choice.fit.kv_occupancy <= 1.0 or fast
    assert any(f"{starved.arm.label} tp{starved.arm.tp} is better by the utility" in n for n in floor.notes)
    below = [s for s in floor.ranked if s.fit.kv_occupancy > 1.0
             and s.prediction and s.prediction.targets["tokens_per_s"].q50 < share * ask]  # fmt: skip
    assert below and floor.ranked[-len(below):] == below, "starved arms rank after every other arm"
    # an arm that holds the load is never moved, however slow: cost may rightly win there
    light = run(catalog, 16, UtilitySettings(min_share_of_request=1.0), scorer=stub_scorer(), asked=asked)
    assert label(light) == "A100-40GBx1 bf16" and not any("min_share" in n for n in light.notes)

