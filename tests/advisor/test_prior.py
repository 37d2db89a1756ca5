"""The beta-binomial launch-success prior: shrinkage toward the pool, and where its counts come from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from omnipilot.advisor.prior import LaunchCount, LaunchPrior, estimate_strength, load_prior
from omnipilot.catalog import Catalog
from omnipilot.collectors.harvest import ClusterHistory, ClusterJobRow
from omnipilot.config import settings_from_dict

# The paper's shape: success high at one GPU, falling with the GPU count (§5.2).
POOL = [
    LaunchCount(gpu="H100-80GB", gpus=1, successes=720, failures=280),
    LaunchCount(gpu="A100-40GB", gpus=1, successes=800, failures=200),
    LaunchCount(gpu="H100-80GB", gpus=4, successes=38, failures=62),
    LaunchCount(gpu="A100-40GB", gpus=2, successes=60, failures=40),
]


def test_one_of_one_configuration_is_shrunk_toward_the_pool() -> None:
    prior = LaunchPrior([*POOL, LaunchCount(gpu="H200-141GB", gpus=2, successes=1, failures=0)])
    p = prior.success("H200-141GB", 2)
    assert prior.pool < p < 1.0
    assert p - prior.pool < 0.25 * (1.0 - prior.pool), "one lucky launch must not speak for a configuration"
    # one failure out of one is shrunk the same way from below
    prior_f = LaunchPrior([*POOL, LaunchCount(gpu="H200-141GB", gpus=2, successes=0, failures=1)])
    q = prior_f.success("H200-141GB", 2)
    assert 0.0 < q < prior_f.pool and prior_f.pool - q < 0.25 * prior_f.pool


def test_well_observed_configurations_keep_their_own_rate() -> None:
    prior = LaunchPrior(POOL)
    assert prior.success("H100-80GB", 1) == pytest.approx(0.72, abs=0.02)
    assert prior.success("A100-40GB", 1) == pytest.approx(0.80, abs=0.02)
    tp4 = prior.success("H100-80GB", 4)
    assert 0.38 < tp4 < prior.pool  # 100 jobs: pulled toward the pool, still well below it
    assert prior.success("H100-80GB", 1) > tp4


def test_unseen_configuration_gets_the_pool_and_no_counts_the_default() -> None:
    prior = LaunchPrior(POOL)
    total = sum(c.jobs for c in POOL)
    assert prior.success("L40S-48GB", 8) == pytest.approx(sum(c.successes for c in POOL) / total)
    empty = LaunchPrior([], default_success=0.93)
    assert empty.success("A100-40GB", 1) == pytest.approx(0.93) and empty.source == "default"


def test_strength_follows_the_spread_between_configurations() -> None:
    alike = [
        LaunchCount(gpu=f"k{i}", gpus=1, successes=80 + (i % 2), failures=20 - (i % 2)) for i in range(6)
    ]
    apart = [
        LaunchCount(gpu=f"k{i}", gpus=1, successes=95 if i % 2 else 40, failures=5 if i % 2 else 60)
        for i in range(6)
    ]
    assert estimate_strength(alike, 4.0) > estimate_strength(apart, 4.0) >= 4.0
    fixed = LaunchPrior(POOL, strength=1000.0)
    assert fixed.success("H100-80GB", 4) > LaunchPrior(POOL).success("H100-80GB", 4)


def _job(i: int, kind: str, gpus: int, state: str, elapsed: int) -> ClusterJobRow:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return ClusterJobRow.model_validate(
        {
            "key": f"c:{i}",
            "cluster": "c",
            "job_id": str(i),
            "user_hash": "u",
            "account_hash": "a",
            "partition": "gpu",
            "state": state,
            "start": t if elapsed else None,
            "elapsed_s": elapsed,
            "gpu_type": kind,
            "gpu_kind": kind,
            "gpus": gpus,
            "jobstats": {"status": "absent"},
        }
    )


def test_counts_come_from_the_harvest_when_present(tmp_path: Path) -> None:
    path = tmp_path / "cluster_history.jsonl"
    rows = [_job(i, "H100-80GB", 1, "COMPLETED", 900) for i in range(8)]
    rows += [_job(100 + i, "H100-80GB", 4, "FAILED", 30) for i in range(6)]
    rows += [_job(200, "H100-80GB", 4, "COMPLETED", 4000), _job(201, "A100-40GB", 1, "PENDING", 0)]
    ClusterHistory(path).append(rows)
    settings = settings_from_dict(
        {
            "prior": {
                "cluster_history": str(path),
                "table": [{"gpu": "A100", "gpus": 1, "successes": 1, "failures": 99}],
            }
        }
    )
    prior = load_prior(settings, Catalog.load())
    assert prior.source.startswith("harvest")
    assert prior.estimate("H100-80GB", 1).successes == 8
    assert (prior.estimate("H100-80GB", 4).successes, prior.estimate("H100-80GB", 4).failures) == (1, 6)
    assert prior.estimate("A100-40GB", 1).successes == 0  # the config table is not mixed in
    assert prior.success("H100-80GB", 1) > prior.success("H100-80GB", 4)


def test_config_table_is_used_without_a_harvest(tmp_path: Path) -> None:
    settings = settings_from_dict(
        {
            "prior": {
                "cluster_history": str(tmp_path / "absent.jsonl"),
                "table": [
                    {"gpu": "A100", "gpus": 1, "successes": 90, "failures": 10},
                    {"gpu": "nvidia_h100_80gb", "gpus": 4, "successes": 4, "failures": 6},
                ],
            }
        }
    )
    prior = load_prior(settings, Catalog.load())
    assert prior.source == "config [prior] table"
    assert prior.estimate("A100-40GB", 1).successes == 90  # aliases resolve to catalog kinds
    assert prior.estimate("H100-80GB", 4).failures == 6
