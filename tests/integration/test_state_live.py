"""The CLI state backend against a real mini cluster of its own (drain, resume, queue, staleness),
and what that cluster says when one of its daemons cannot start.

This module starts its own cluster (no OmniPilot daemon, no accounting) in a temp dir, so draining
nodes, filling the queue and breaking a slurmd never disturb the session cluster other tests use;
munged is shared.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnipilot.advisor.decide import gpu_pool
from omnipilot.catalog import Catalog
from omnipilot.daemon.clusterstate.cache import CliBackend, StateCache
from omnipilot.daemon.clusterstate.queue_wait import estimate_wait
from omnipilot.slurm.minicluster.cluster import (
    CGROUP_ROOT,
    ClusterError,
    ClusterInfo,
    MiniCluster,
    cgroup_conf_lines,
)

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterInfo, dict[str, str], Path]]:
    if os.geteuid() != 0:
        pytest.skip("the mini cluster runs slurmctld/slurmd/munged as root")
    for exe in ("slurmctld", "slurmd", "sbatch"):
        if shutil.which(exe) is None:
            pytest.skip(f"{exe} is not installed (run install.sh)")
    state = tmp_path_factory.mktemp("state-cluster")
    mc = MiniCluster(state)
    try:
        info = mc.up(with_daemon=False)
        (state / "etc" / "omnipilot.disabled").touch()  # the hook skips the absent daemon at once
        jobs = state / "jobs"
        jobs.mkdir()
        yield info, {**os.environ, **info.env()}, jobs
    finally:
        mc.down()


def _run(env: dict[str, str], *cmd: str) -> str:
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"{cmd}: {res.stderr}"
    return res.stdout


def test_drained_node_gpus_disappear_from_arms(live: tuple[ClusterInfo, dict[str, str], Path]) -> None:
    info, env, _ = live
    backend = CliBackend(info.env())
    cat = Catalog.load()
    before = backend.read()
    assert "A100-40GB" in gpu_pool(before.kinds_by_partition(), cat, [])[0]
    _run(env, "scontrol", "update", "nodename=a100-1", "state=drain", "reason=xid 79 GPU fallen off the bus")
    try:
        after = backend.read()
        node = after.nodes["a100-1"]
        assert not node.usable and node.health_fault and "DRAIN" in node.states
        assert "A100-40GB" not in gpu_pool(after.kinds_by_partition(), cat, [])[0]
        assert "a100" not in after.kinds_by_partition() and "a100" not in after.kinds_by_partition()["gpu"]
        summary = after.gpu_summary()["a100"]["a100"]
        assert summary.unusable == 4 and summary.free == 0 and summary.unusable_nodes == ["a100-1"]
        # draining one of two H100 nodes keeps the kind but removes its GPUs from the free count
        _run(env, "scontrol", "update", "nodename=h100-2", "state=drain", "reason=maintenance")
        h100 = backend.read().gpu_summary()["h100"]["h100"]
        assert h100.free == 8 and h100.unusable == 8 and h100.max_per_node == 8
    finally:
        _run(env, "scontrol", "update", "nodename=a100-1,h100-2", "state=resume")
    deadline = time.monotonic() + 60  # after resume slurmctld pings the node (NOT_RESPONDING until then)
    while "A100-40GB" not in gpu_pool(backend.read().kinds_by_partition(), cat, [])[0]:
        assert time.monotonic() < deadline, backend.read().nodes["a100-1"]
        time.sleep(0.5)
    # 24.11 keeps "xid 79 ..." as the Reason of the resumed, IDLE node (22.05 clears it): the node
    # serves again either way, and the old reason is not taken for a current fault
    resumed = backend.read().nodes["a100-1"]
    assert resumed.usable and not resumed.health_fault and resumed.gpus_free == 4, resumed


def _sbatch(env: dict[str, str], jobs: Path, *args: str) -> str:
    script = jobs / f"j{time.monotonic_ns()}.sh"
    script.write_text("#!/bin/bash\nsleep 300\n")
    return _run(env, "sbatch", "--parsable", "-D", str(jobs), "-o", "/dev/null", *args, str(script)).strip()


def test_pending_jobs_raise_the_queue_wait(live: tuple[ClusterInfo, dict[str, str], Path]) -> None:
    info, env, jobs = live
    backend = CliBackend(info.env())
    idle = estimate_wait(backend.read(), "h200", "h200", 1)
    assert idle.seconds == 0 and idle.freshness == "fresh" and idle.weight == 1.0
    running = _sbatch(env, jobs, "-p", "h200", "--gres=gpu:h200:8", "-t", "5")
    try:
        deadline = time.monotonic() + 30
        while _run(env, "squeue", "-h", "-j", running, "-o", "%T").strip() != "RUNNING":
            assert time.monotonic() < deadline, "the first job did not start"
            time.sleep(0.5)
        busy = backend.read()
        w1 = estimate_wait(busy, "h200", "h200", 1).seconds
        assert w1 is not None and 200 < w1 <= 300  # until the running job's 5-minute limit
        assert busy.gpu_summary()["h200"]["h200"].allocated == 8
        pending = _sbatch(env, jobs, "-p", "h200", "--gres=gpu:h200:8", "-t", "10")
        snap = backend.read()
        w2 = estimate_wait(snap, "h200", "h200", 1).seconds
        assert snap.pending_gpus.get("h200") == 8 and snap.gpu_summary()["h200"]["h200"].pending == 8
        assert w2 is not None and w2 >= w1 + 590  # behind the pending job's 10 minutes
        # other kinds are untouched by the h200 queue
        assert estimate_wait(snap, "h100", "h100", 1).seconds == 0
        _run(env, "scancel", pending)
    finally:
        _run(env, "scancel", running)


def test_a_stale_reading_is_labeled_stale(live: tuple[ClusterInfo, dict[str, str], Path]) -> None:
    info, _, _ = live
    good = CliBackend(info.env())
    cache = StateCache(good.read, refresh_s=3600)
    snap = cache.refresh()
    now = time.time()
    assert snap.freshness(30, 300, now) == "fresh" and snap.metric_freshness("nodes", now=now) == "fresh"
    cache._read = CliBackend({"SLURM_CONF": "/nonexistent/slurm.conf"}, timeout_s=2).read  # Slurm unreachable
    failed = cache.refresh()
    assert failed.error and failed.nodes == snap.nodes  # the last reading is kept, with its age
    later = now + 400
    assert failed.freshness(30, 300, later) == "stale"
    assert failed.metric_freshness("queue", now=later) == "stale"
    wait = estimate_wait(failed, "h100", "h100", 1, now=later)
    assert wait.freshness == "stale" and wait.weight == 0.0  # not trusted at face value
    assert failed.metric_freshness("nodes", now=now + 60) == "usable-stale"


def test_the_cgroup_conf_is_the_one_this_machine_needs(
    live: tuple[ClusterInfo, dict[str, str], Path],
) -> None:
    info, _, _ = live
    conf = info.slurm_conf.parent / "cgroup.conf"
    needed = cgroup_conf_lines(info.slurm_version, os.path.ismount(CGROUP_ROOT))
    # the nodes came up (the fixture waited for them) with exactly what the rule asked for
    assert conf.exists() == bool(needed), (info.slurm_version, os.path.ismount(CGROUP_ROOT))
    # 22.05's slurmd stops on `CgroupPlugin=disabled`; 24.05+ needs it where nothing is mounted
    assert cgroup_conf_lines("22.05.8", False) == [] and cgroup_conf_lines("24.11.5", True) == []
    assert "CgroupPlugin=disabled" in cgroup_conf_lines("24.11.5", False)


def test_a_slurmd_that_cannot_start_says_why(live: tuple[ClusterInfo, dict[str, str], Path]) -> None:
    """Runs last in this module: it stops h200-1's slurmd, makes its restart fail, then repairs it."""
    info, _, _ = live
    mc = MiniCluster(info.state_dir)
    key = "slurmd:h200-1"
    pid = info.pids[key]
    os.kill(pid, 15)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"slurmd {pid} did not stop"
        time.sleep(0.1)
    with socket.socket() as taken:  # another program holds the node's port: slurmd cannot listen
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("0.0.0.0", info.node_ports["h200-1"]))
        taken.listen()
        t0 = time.monotonic()
        with pytest.raises(ClusterError) as failed:
            mc.up(with_daemon=False, timeout_s=30)
        waited = time.monotonic() - t0
    message = str(failed.value)
    # the error carries slurmd's own words, not just "no pid file"
    assert "h200-1" in message and "slurmd-h200-1.log" in message, message
    assert str(info.node_ports["h200-1"]) in message or "address already in use" in message.lower(), message
    assert waited < 25, f"took {waited:.1f}s to notice"
    mc.up(with_daemon=False)  # the port is free again: the node comes back
