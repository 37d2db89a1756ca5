"""Harvest against real Slurm accounting: MariaDB + slurmdbd + slurmctld + slurmd on this host.

This module starts its own mini cluster with accounting in its own temp dir (the lead's session
cluster runs without it); munged is shared. Jobs really run: some succeed, some `exit 3`, one is
cancelled while running and one while pending.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.collectors.harvest import ClusterHistory, harvest
from omnipilot.collectors.launch_stats import demand_shares, launch_counts
from omnipilot.slurm.minicluster.cluster import ClusterInfo, MiniCluster

from .conftest import _missing_prereq, print_cluster_logs

pytestmark = [pytest.mark.slurm, pytest.mark.accounting]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def acct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterInfo, dict[str, str], Path]]:
    reason = _missing_prereq("slurmdbd", "mariadbd", "mariadb-install-db", "sacct", "sacctmgr")
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("acct-cluster")
    mc = MiniCluster(state)
    try:
        info = mc.up(with_daemon=False, accounting=True)
        (state / "etc" / "omnipilot.disabled").touch()  # the hook skips the (absent) daemon at once
        jobs = state / "jobs"
        jobs.mkdir()
        yield info, {**os.environ, **info.env()}, jobs
    except Exception:
        print_cluster_logs(state)
        raise
    finally:
        mc.down()


def _sbatch(env: dict[str, str], jobs: Path, body: str, *args: str) -> str:
    script = jobs / f"j{time.monotonic_ns()}.sh"
    script.write_text(f"#!/bin/bash\n{body}\n")
    res = subprocess.run(
        ["sbatch", "--parsable", "-D", str(jobs), "-o", "/dev/null", *args, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().split(";")[0]


def _wait(pred: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _squeue_states(env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], env=env, capture_output=True, text=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def test_jobs_run_are_harvested_once_with_rates_per_configuration(
    acct: tuple[ClusterInfo, dict[str, str], Path], tmp_path: Path
) -> None:
    info, env, jobs = acct
    ran = {("H100-80GB", 2): (3, 1), ("A100-40GB", 1): (1, 2)}
    for (kind, n), (ok, bad) in ran.items():
        gres = f"gpu:{kind.split('-')[0].lower()}:{n}"
        for _ in range(ok):
            _sbatch(
                env, jobs, "echo served", f"--gres={gres}", "--comment=vllm stand-in; omnipilot[tok1] suggest"
            )
        for _ in range(bad):
            _sbatch(env, jobs, "exit 3", f"--gres={gres}")
    long = _sbatch(env, jobs, "sleep 120", "--gres=gpu:h200:4", "--comment=vllm serve")
    held = _sbatch(env, jobs, "echo never", "--gres=gpu:h100:1", "--hold")
    _wait(lambda: _squeue_states(env).get(long) == "RUNNING", 60, "the long job to run")
    subprocess.run(["scancel", long, held], env=env, check=True)
    _wait(lambda: not _squeue_states(env), 90, "every job to finish")
    n_jobs = sum(ok + bad for ok, bad in ran.values()) + 2

    since = (date.today() - timedelta(days=1)).isoformat()
    out, salt = tmp_path / "cluster_history.jsonl", tmp_path / "harvest.salt"
    kind_of = {t: g.name for g in Catalog.load().gpus for t in g.gres_types}
    res = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # slurmdbd receives job ends a little after they happen
        res = harvest(since, out, salt, env=info.env(), kind_of=kind_of)
        if len(ClusterHistory(out).rows()) >= n_jobs:
            break
        time.sleep(1)
    rows = ClusterHistory(out).rows()
    assert res is not None and len(rows) == n_jobs, [(r.job_id, r.state) for r in rows]

    counts = launch_counts(rows)
    assert counts == {**ran, ("H200-141GB", 4): (1, 0)}  # cancelled while running, by its owner: launched
    assert sum(1 for r in rows if r.start is None) == 1  # the held job: harvested, but no launch
    assert {r.state for r in rows} == {"COMPLETED", "FAILED", "CANCELLED"}
    assert all(r.exit_code == 3 for r in rows if r.state == "FAILED")
    shares = demand_shares(rows)
    with_gpus = sum(1 for r in rows if r.gpus > 0)  # a job cancelled while pending may show no GPU request
    assert with_gpus >= n_jobs - 1 and shares[("H100-80GB", 2)] == pytest.approx(4 / with_gpus)
    from omnipilot.collectors.harvest import parse_sacct as _ps
    from omnipilot.collectors.harvest import run_sacct as _rs

    print([(r["JobIDRaw"], r["JobName"]) for r in _ps(_rs(since, None, info.env()))])
    tagged = sum(ok for ok, _ in ran.values())  # the jobs submitted with an OmniPilot token in the comment
    assert (
        sum(1 for r in rows if r.job_token == "tok1") == tagged and sum(r.serving for r in rows) == tagged + 1
    )

    again = harvest(since, out, salt, env=info.env(), kind_of=kind_of)
    assert again.added == 0 and again.already_present == n_jobs
    cli = subprocess.run(
        [str(REPO / ".venv" / "bin" / "omnipilot"), "harvest", "--since", since, "--out", str(out), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["added"] == 0
    assert len(out.read_text().splitlines()) == n_jobs

    text = out.read_text()
    assert "root" not in text and "stand-in" not in text  # no user or account name, no comment text
    assert len({r.user_hash for r in rows}) == 1 and all(len(r.user_hash) == 16 for r in rows)
    assert (salt.stat().st_mode & 0o777) == 0o600
