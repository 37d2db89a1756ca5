"""Cluster-state parsing (22.05 and 24.11 JSON), the safety shield, queue wait, freshness, backends."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from omnipilot.daemon.clusterstate.cache import CliBackend, Snapshot, StateCache, select_backend
from omnipilot.daemon.clusterstate.cli_backend import (
    jobs_from_squeue,
    nodes_from_sinfo,
    partitions_from_oneliner,
)
from omnipilot.daemon.clusterstate.pyslurm_backend import pyslurm_status
from omnipilot.daemon.clusterstate.queue_wait import estimate_wait
from omnipilot.daemon.clusterstate.snapshot import (
    NodeState,
    PartitionState,
    QueuedJob,
    is_health_fault,
    parse_gres,
)

DATA = Path(
    os.environ.get("OMNIPILOT_SHARED_DATA") or Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
)


def _sample(rel: str) -> Any:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"{path} not present (set OMNIPILOT_SHARED_DATA)")
    return json.loads(path.read_text()) if rel.endswith(".json") else path.read_text()


def test_both_sinfo_dialects_give_per_node_gpus_and_states() -> None:
    old = nodes_from_sinfo(_sample("slurm-22.05-json-samples/sinfo.json"))
    assert old["fakeh100"].gres_type == "h100" and old["fakeh100"].gpus_total == 8 and old["fakeh100"].usable
    assert not old["vm"].usable and "NOT_RESPONDING" in old["vm"].states
    new = nodes_from_sinfo(_sample("slurm-24.11-json-samples/sinfo_N.json"))
    assert (new["gpuh100"].gpus_total, new["gpuh100"].gpus_used, new["gpuh100"].states) == (8, 6, ["MIXED"])
    assert new["gpuh100"].gpus_free == 2


def test_squeue_running_and_pending_jobs_both_versions() -> None:
    jobs = jobs_from_squeue(_sample("slurm-24.11-json-samples/squeue.json"))
    running = [j for j in jobs if j.state == "RUNNING"]
    assert running and all(j.end_time and j.nodes for j in running)
    assert {j.gres_type for j in running} >= {"h100", "a100"}
    # 22.05: the sample's pending jobs are held by their users; held jobs are not competing demand
    assert jobs_from_squeue(_sample("slurm-22.05-json-samples/squeue_pending_jobs.json")) == []


def test_partition_oneliner_expands_nodes_and_limits() -> None:
    line = "PartitionName=h100 Nodes=h100-[1-2],a100-1 MaxTime=2-00:00:00 DefaultTime=01:00:00 State=UP"
    p = partitions_from_oneliner(line)["h100"]
    assert p.nodes == ["h100-1", "h100-2", "a100-1"] and p.max_time_min == 2880 and p.default_time_min == 60


@pytest.mark.parametrize("reason, fault", [
    ("xid 79 GPU has fallen off the bus", True), ("Row remap failure on GPU2", True), ("ECC errors", True),
    ("NHC: gpu unhealthy", True), ("maintenance window", False), ("", False), ("proxid upgrade", False),
])  # fmt: skip
def test_health_fault_reasons(reason: str, fault: bool) -> None:
    assert is_health_fault(reason) is fault


def _node(
    name: str, kind: str, total: int, used: int = 0, states: list[str] | None = None, reason: str = ""
) -> NodeState:
    return NodeState(
        name=name,
        partitions=["p"],
        gres_type=kind,
        gpus_total=total,
        gpus_used=used,
        states=states or ["IDLE"],
        reason=reason,
    )


def _snap(nodes: list[NodeState], jobs: list[QueuedJob] | None = None, at: float | None = None) -> Snapshot:
    t = at or time.time()
    return Snapshot(
        taken_at=t,
        nodes={n.name: n for n in nodes},
        partitions={"p": PartitionState(name="p", nodes=[n.name for n in nodes], default_time_min=60)},
        jobs=jobs or [],
        read_at={"nodes": t, "queue": t, "partitions": t},
    )


def _sinfo_2205(state: str, flags: list[str], reason: str) -> dict[str, Any]:
    """The 22.05 sample with its GPU node in the given state: one record per node, flags apart."""
    data = copy.deepcopy(_sample("slurm-22.05-json-samples/sinfo.json"))
    node = next(n for n in data["nodes"] if n["name"] == "fakeh100")
    node.update(state=state, state_flags=flags, reason=reason)
    return cast(dict[str, Any], data)


def _sinfo_2411(states: list[str], reason: str) -> dict[str, Any]:
    """The 24.11 `sinfo -N --json` sample with one node's record in the given state: upper-case lists."""
    data = copy.deepcopy(_sample("slurm-24.11-json-samples/sinfo_N.json"))
    rec = next(r for r in data["sinfo"] if r["nodes"]["nodes"] == ["gpuh100b"])
    rec["node"]["state"] = states
    rec["reason"] = {
        "description": reason,
        "time": 1764806400 if reason else 0,
        "user": "root" if reason else "",
    }
    return cast(dict[str, Any], data)


XID = "xid 79 GPU has fallen off the bus"


@pytest.mark.parametrize("version, data, usable, fault", [
    # drained for a GPU fault: out, and the reason says why
    ("22.05", lambda: _sinfo_2205("idle", ["DRAIN"], XID), False, True),
    ("24.11", lambda: _sinfo_2411(["IDLE", "DRAIN"], XID), False, True),
    ("22.05", lambda: _sinfo_2205("down", ["NOT_RESPONDING"], XID), False, True),
    ("24.11", lambda: _sinfo_2411(["DOWN", "NOT_RESPONDING"], XID), False, True),
    ("24.11", lambda: _sinfo_2411(["MIXED", "DRAINING"], XID), False, True),
    # drained for maintenance: out, but no GPU fault
    ("22.05", lambda: _sinfo_2205("idle", ["DRAIN"], "maintenance"), False, False),
    ("24.11", lambda: _sinfo_2411(["IDLE", "DRAIN"], "maintenance"), False, False),
    # resumed: 22.05 clears the reason, 24.11 keeps the old one while the node is IDLE again
    ("22.05", lambda: _sinfo_2205("idle", [], ""), True, False),
    ("24.11", lambda: _sinfo_2411(["IDLE"], XID), True, False),
    ("24.11", lambda: _sinfo_2411(["MIXED"], XID), True, False),
])  # fmt: skip
def test_node_health_is_judged_from_state_flags_not_a_stale_reason(
    version: str, data: Callable[[], dict[str, Any]], usable: bool, fault: bool
) -> None:
    name = "fakeh100" if version == "22.05" else "gpuh100b"
    node = nodes_from_sinfo(data())[name]
    assert (node.usable, node.health_fault) == (usable, fault), (version, node)
    assert node.gpus_free == (max(node.gpus_total - node.gpus_used, 0) if usable else 0)


def test_a_resumed_node_with_a_kept_reason_serves_again() -> None:
    stale = _node("a", "h100", 8, states=["IDLE"], reason="XID 48 double-bit ECC")  # 24.11 after resume
    drained = stale.model_copy(update={"states": ["IDLE", "DRAIN"]})
    assert not stale.reason_current and drained.reason_current
    assert _snap([stale, _node("b", "a100", 4)]).kinds_by_partition() == {"p": {"a100": 4, "h100": 8}}
    snap = _snap([drained, _node("b", "a100", 4)])
    assert snap.kinds_by_partition() == {"p": {"a100": 4}}
    assert snap.gpu_summary()["p"]["h100"].unusable == 8


def test_queue_wait_grows_with_pending_demand() -> None:
    now = time.time()
    run = QueuedJob(
        job_id="1",
        state="RUNNING",
        partitions=["p"],
        gres_type="h100",
        gpus=8,
        nodes=["a"],
        end_time=now + 600,
    )
    nodes = [_node("a", "h100", 8, used=8)]
    empty = estimate_wait(_snap(nodes, [run], at=now), "p", "h100", 2, now=now)
    assert empty.seconds == pytest.approx(600)
    pend = QueuedJob(job_id="2", state="PENDING", partitions=["p"], gres_type=None, gpus=8, time_limit_min=30)
    queued = estimate_wait(_snap(nodes, [run, pend], at=now), "p", "h100", 2, now=now)
    assert queued.seconds == pytest.approx(600 + 1800)
    free = estimate_wait(_snap([_node("a", "h100", 8, used=4)], [], at=now), "p", "h100", 4, now=now)
    assert free.seconds == 0
    assert estimate_wait(_snap(nodes, at=now), "p", "h100", 16, now=now).seconds is None  # no node that large


def test_freshness_labels_per_metric_and_weights() -> None:
    now = time.time()
    snap = _snap([_node("a", "h100", 8)], at=now).model_copy(
        update={"read_at": {"nodes": now - 10, "queue": now - 100, "partitions": now - 5000}}
    )
    assert snap.metric_freshness("nodes", now=now) == "fresh"
    assert snap.metric_freshness("queue", now=now) == "usable-stale" and snap.weight("queue", now=now) == 0.5
    assert (
        snap.metric_freshness("partitions", now=now) == "stale" and snap.weight("partitions", now=now) == 0.0
    )
    assert Snapshot().metric_freshness("nodes") == "missing" and Snapshot().freshness(30, 300) == "missing"
    assert estimate_wait(snap, "p", "h100", 1, now=now).weight == 0.5  # worst of nodes and queue


class _Scripted(CliBackend):
    """The CLI backend reading recorded Slurm output instead of running commands."""

    def __init__(self, outputs: dict[str, str]) -> None:
        super().__init__()
        self.outputs = outputs

    def _run(self, *cmd: str) -> str:
        out = self.outputs.get(cmd[0])
        if out is None:
            raise RuntimeError(
                f"{cmd[0]} failed (1): slurm_load_jobs error: Unable to contact slurm controller"
            )
        return out


def test_a_part_that_fails_keeps_its_last_reading_and_age(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {
        "sinfo": json.dumps(_sample("slurm-24.11-json-samples/sinfo_N.json")),
        "scontrol": "PartitionName=h100 Nodes=gpuh100,gpuh100b State=UP",
        "squeue": json.dumps(_sample("slurm-24.11-json-samples/squeue.json")),
    }
    backend = _Scripted(outputs)
    t0 = 1_000_000.0
    monkeypatch.setattr(time, "time", lambda: t0)
    first = backend.read()
    assert first.error is None and first.jobs
    del outputs["squeue"]
    monkeypatch.setattr(time, "time", lambda: t0 + 100)
    second = backend.read()
    assert second.jobs == first.jobs and "queue:" in (second.error or "")
    assert second.read_at["queue"] == t0 and second.read_at["nodes"] == t0 + 100
    assert second.taken_at == t0  # the snapshot is as old as its oldest part
    outputs.clear()
    with pytest.raises(RuntimeError, match=r"nodes:.*partitions:.*queue:"):
        backend.read()


def test_cache_keeps_the_old_snapshot_when_reading_fails() -> None:
    calls = {"n": 0}

    def read() -> Snapshot:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("slurmctld down")
        return _snap([_node("a", "h100", 8)])

    cache = StateCache(read, refresh_s=3600)
    good = cache.refresh()
    bad = cache.refresh()
    assert bad.nodes == good.nodes and bad.taken_at == good.taken_at and bad.error == "slurmctld down"


def test_request_path_reads_never_call_slurm(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*a: object, **k: object) -> None:
        raise AssertionError("Slurm was called from the request path")

    monkeypatch.setattr(subprocess, "run", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    snap = _snap([_node("a", "h100", 8, used=2)])
    snap.kinds_by_partition()
    snap.gpu_summary()
    estimate_wait(snap, "p", "h100", 4)
    snap.metric_freshness("nodes")


def test_parse_gres_reads_every_version_form() -> None:
    assert parse_gres("gres:gpu:h100:2") == ("h100", 2) and parse_gres("gres/gpu:h100:2") == ("h100", 2)
    assert parse_gres("gpu:a100:4(S:0-1)") == ("a100", 4) and parse_gres("gpu:2") == (None, 2)


def test_pyslurm_is_chosen_only_when_it_matches() -> None:
    ok, why = pyslurm_status()
    if not ok:
        assert why  # the reason names what is missing or mismatched
        with pytest.raises(RuntimeError, match="pyslurm"):
            select_backend("pyslurm")
        assert select_backend("auto").name == "cli"
    assert select_backend("cli").name == "cli"
    assert not pyslurm_status("1.0.0")[0]


def test_pyslurm_backend_reads_the_cluster() -> None:
    ok, why = pyslurm_status()
    if not ok:
        pytest.skip(why)
    snap = select_backend("pyslurm").read()  # pragma: no cover - only where a matching pyslurm exists
    assert snap.backend == "pyslurm" and snap.nodes
