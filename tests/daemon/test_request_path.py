"""The daemon's request path keeps one cache (the decision memo), scores new jobs with the model
directly, and keeps its heap out of the garbage collector's way without leaking. Speeds are
measured in benchmarks/submit_latency.py, not here."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnipilot.advisor.arms import Arm, Workload
from omnipilot.catalog import Catalog
from omnipilot.config import Settings
from omnipilot.daemon.clusterstate.cache import StateCache
from omnipilot.daemon.explain import format_record
from omnipilot.daemon.model_loading import load_scorer
from omnipilot.daemon.modes import ModeStore
from omnipilot.daemon.service import LAZY_KEY, AdviceService

from .test_service import QWEN, req, snapshot


@pytest.fixture
def service(tmp_path: Path) -> Iterator[AdviceService]:
    settings = Settings()
    settings.daemon.state_dir = tmp_path
    state = StateCache(snapshot, 60)
    state.refresh()
    svc = AdviceService(settings, state, ModeStore(tmp_path, "suggest"))
    svc.load_model()
    yield svc
    gc.unfreeze()  # the pytest process must not keep what a serving daemon would freeze


def _job(concurrency: int) -> str:
    return QWEN.replace("vllm serve", f"#OMNIPILOT concurrency={concurrency}\nvllm serve")


def test_a_new_job_is_scored_and_a_resubmitted_one_answered_from_the_memo(service: AdviceService) -> None:
    first, rec1 = service.answer(req(_job(17)))
    again, rec2 = service.answer(req(_job(17)))
    _, rec3 = service.answer(req(_job(18)))
    assert rec1["outcome"] == rec2["outcome"] == rec3["outcome"] == "advised"
    assert isinstance(rec1["score_ms"], float) and rec1["score_ms"] > 0
    assert rec2["score_ms"] is None  # the memo answered: the model was not asked
    assert isinstance(rec3["score_ms"], float)  # another workload is another decision
    assert first.comment and again.comment
    assert first.comment.split("]", 1)[1] == again.comment.split("]", 1)[1]  # same advice, new token


def test_the_daemons_scorer_keeps_no_cache_of_its_own() -> None:
    scorers, version = load_scorer(Settings(), Catalog.load())
    assert scorers is not None and not version.startswith("none")
    scorer = scorers.with_ttft
    spec = Catalog.load().model("Qwen/Qwen2.5-7B")
    assert spec is not None
    arms = [Arm(gpu="H100-80GB", tp=tp, precision="bf16", checkpoint=spec.name) for tp in (1, 2)]
    work = Workload(concurrency=8, context=4096, prompt_len=1024, output_len=256)
    a, b = scorer(spec, work, arms), scorer(spec, work, arms)
    assert a == b and a[0].targets["tokens_per_s"].q50 > 0
    assert a[0] is not b[0]  # computed again: the service's decision memo is the one cache


def test_a_serving_daemon_freezes_its_heap_without_leaking_cycles(service: AdviceService) -> None:
    service.warm_up()
    assert gc.get_freeze_count() > 0
    gc.disable()  # no automatic collection may clean up in its place
    try:
        for c in range(20, 40):  # new jobs: each decision is memoised, then the heap is settled
            service.answer(req(_job(c)))
    finally:
        gc.enable()
    gc.unfreeze()
    # what a request leaves in reference cycles was collected before each freeze: nothing frozen leaked
    assert gc.collect() == 0


def test_ttft_is_scored_only_for_a_request_an_slo_applies_to(service: AdviceService) -> None:
    """TTFT enters the utility only through an SLO: without one the request path skips its trees."""

    def targets(script: str) -> set[str]:
        _, rec = service.answer(req(script))
        arms = {**rec, **rec[LAZY_KEY]()}["arms"]
        return {t for a in arms for t in a["prediction"]["targets"]}

    assert targets(_job(21)) == {"tokens_per_s"}
    _, rec = service.answer(req(_job(24)))
    full = {**rec, **rec[LAZY_KEY]()}
    assert full["slo_ttft_s"] is None
    assert "no TTFT SLO applies to this job, so TTFT was not predicted" in format_record(full)
    tagged = _job(22).replace("#!/bin/bash\n", "#!/bin/bash\n#OMNIPILOT slo_ttft_ms=2000\n", 1)
    assert targets(tagged) == {"tokens_per_s", "ttft_p50_s"}
    service.settings.utility.slo_ttft_s = 1.5  # a site-wide SLO applies to every job
    assert targets(_job(23)) == {"tokens_per_s", "ttft_p50_s"}
