"""The daemon's Prometheus metrics in the mini cluster: `status --json` names the URL, each submission
counts once, the answer-time histogram fills, mode and model version are exported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from omnipilot.paths import packaged

from .conftest import Cluster

pytestmark = pytest.mark.slurm

JOB = """#!/bin/bash
#SBATCH --partition=a100 --gres=gpu:a100:1
vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 4096
"""


def _status(cluster: Cluster) -> dict[str, object]:
    res = subprocess.run(
        [sys.executable, "-m", "omnipilot.cli", "status", "--json"],
        capture_output=True, text=True, env=cluster.env, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc: dict[str, object] = json.loads(res.stdout)
    return doc


def _scrape(url: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    return {
        fam.name: [(s.name, s.labels, s.value) for s in fam.samples] for fam in text_string_to_metric_families(text)
    }


def _decisions(metrics: dict[str, list[tuple[str, dict[str, str], float]]]) -> float:
    return sum(v for name, _, v in metrics.get("omnipilot_decisions", []) if name == "omnipilot_decisions_total")


def test_status_names_the_metrics_url_and_counters_grow(cluster: Cluster) -> None:
    cluster.set_mode("suggest")
    url = _status(cluster).get("metrics_url")
    assert isinstance(url, str) and url.startswith("http://127.0.0.1:") and url.endswith("/metrics"), url
    before = _scrape(url)
    n = 3
    mark = len(cluster.decisions())
    for _ in range(n):
        cluster.answered(cluster.submit(JOB, "--hold"))
    # the counters are bumped after each reply, beside its record: once the records are written
    # (records_since waits for a sentinel's), the N jobs are counted (the sentinel may be, too)
    assert len(cluster.records_since(mark)) == n
    after = _scrape(url)
    grown = _decisions(after) - _decisions(before)
    assert grown in (n, n + 1), (grown, after.get("omnipilot_decisions"))
    suggest = [
        (labels, v) for name, labels, v in after["omnipilot_decisions"]
        if name == "omnipilot_decisions_total" and labels["mode"] == "suggest" and labels["outcome"] == "advised"
    ]  # fmt: skip
    assert suggest and all(lab["confidence"] in ("high", "medium", "low", "none") for lab, _ in suggest)

    hist = after["omnipilot_answer_seconds"]
    buckets = [(labels["le"], v) for name, labels, v in hist if name == "omnipilot_answer_seconds_bucket"]
    assert len(buckets) > 5 and dict(buckets)["+Inf"] >= n
    count = next(v for name, _, v in hist if name == "omnipilot_answer_seconds_count")
    assert count == _decisions(after)  # every counted decision has its answer time

    modes = {labels["mode"]: v for _, labels, v in after["omnipilot_mode"]}
    assert modes["suggest"] == 1.0 and sum(modes.values()) == 1.0
    (model,) = after["omnipilot_model_info"]
    assert model[1]["version"] and model[2] == 1.0
    (age,) = after["omnipilot_cluster_state_age_seconds"]
    assert 0 <= age[2] < 600
    assert "omnipilot_hook_fail_open" in after and "omnipilot_hook_late_answers" in after
    # the shipped Grafana dashboard asks only for metrics the daemon exports
    dashboard = json.loads(packaged("omnipilot.etc", "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    asked = {re.sub(r"_(total|bucket)$", "", m) for e in exprs for m in re.findall(r"omnipilot_[a-z_]+", e)}
    assert asked and asked <= set(after), asked - set(after)
