"""Enforce respects QOS and association GPU limits (issue 13), against a real mini cluster with
accounting (MariaDB + slurmdbd, AccountingStorageEnforce=associations,limits,qos): a rewrite past
a QOS's MaxTRESPerJob would leave the job PENDING (QOSMaxGRESPerJob) forever. One accounting
cluster for the module, its own temp dir (the session cluster runs without accounting)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest

from omnipilot.slurm.minicluster.cluster import MiniCluster

from .conftest import (
    Cluster,
    _missing_prereq,
    assert_shipped_hook_settings,
    cold_cache_env,
    print_cluster_logs,
    token_of,
)
from .test_enforce import BIG_MODEL, KIND, SRUN_JOB, _gpus_of

pytestmark = [pytest.mark.slurm, pytest.mark.accounting]

QOS = "omnipilot-gpu2"


def _sacctmgr(env: dict[str, str], *args: str) -> None:
    res = subprocess.run(["sacctmgr", "-i", *args], env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Enforce mode with allow_low_confidence (the mini cluster's model is unsure of most arms) and
    allow_more_gpu_hours (so that only the QOS limit stands between a 2-GPU job and a bigger arm)."""
    reason = _missing_prereq("slurmdbd", "mariadbd", "sacctmgr")
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("limits-cluster")
    with pytest.MonkeyPatch.context() as mp:
        cold_cache_env(mp, tmp_path_factory.mktemp("cache"))
        mc = MiniCluster(state)
        try:
            info = mc.up(with_daemon=False, accounting=True)
            assert_shipped_hook_settings(info)
            env = {**os.environ, **info.env()}
            _sacctmgr(env, "add", "qos", QOS, "MaxTRESPerJob=gres/gpu=2")
            _sacctmgr(env, "modify", "user", "root", "set", f"qos+={QOS}")
            path = info.omnipilot_config
            text = path.read_text()
            assert "allow_low_confidence = false" in text
            path.write_text(
                text.replace(
                    "allow_low_confidence = false", "allow_low_confidence = true\nallow_more_gpu_hours = true"
                )
            )
            mc.start_daemon()  # after the QOS exists: its first state refresh reads the limits
            workdir = state / "jobs"
            workdir.mkdir()
            c = Cluster(mc, info, workdir)
            c.set_mode("enforce")
            yield c
        except Exception:
            print_cluster_logs(state)
            raise
        finally:
            mc.down()


SCRIPT = SRUN_JOB.format(tp=2).replace("Qwen/Qwen2.5-7B-Instruct", BIG_MODEL)  # grown to 4+ GPUs


def _unlimited_choice(c: Cluster) -> dict[str, object]:
    """The arm enforce gives the job under the default QOS: the premise of each test (it must grow
    the 2-GPU job, else the tests prove nothing)."""
    free = c.submit(SCRIPT, "--gpus=2", "--hold")
    rec = c.record(token_of(c.answered(free)["Comment"]))
    subprocess.run(["scancel", free.jobid or ""], env=c.env, check=False)
    assert rec["action"] == "enforce", rec.get("degraded")
    grown = rec["choice"]
    assert isinstance(grown, dict) and grown["tp"] > 2, grown
    return grown


def test_a_rewrite_stays_within_the_jobs_qos_gpu_limit(limited: Cluster) -> None:
    """No arm fits under the QOS's 2 GPUs per job: the job keeps its own 2 GPUs and runs; the sbatch
    message names the limit."""
    c = limited
    script = SCRIPT
    _unlimited_choice(c)

    sub = c.submit(script, "--gpus=2", f"--qos={QOS}")
    c.answered(sub)
    done = c.wait_done(sub.jobid or "", timeout_s=90)
    rec = c.record(token_of(done["Comment"]))
    assert done["JobState"] == "COMPLETED", (done["JobState"], done.get("Reason"), rec.get("set"))
    assert 0 < _gpus_of(done) <= 2, (done, rec.get("set"))
    # said why: either another arm within the limit was enforced, or enforce became a suggestion
    why = str(rec.get("limited") or rec.get("degraded"))
    assert f"QOS {QOS} allows 2 GPUs per job" in why, rec
    assert f"QOS {QOS}" in sub.stderr, sub.stderr


def test_an_arm_over_a_per_kind_limit_gives_way_to_the_best_one_within(limited: Cluster) -> None:
    """A QOS capping the advised kind (gres/gpu:KIND=2): the best arm of the other kind is enforced,
    runs, and the message says which limit moved it."""
    c = limited
    grown = _unlimited_choice(c)
    kind = KIND[str(grown["gpu"])]
    qos = f"omnipilot-no-{kind}"
    env = {**os.environ, **c.info.env()}
    _sacctmgr(env, "add", "qos", qos, f"MaxTRESPerJob=gres/gpu:{kind}=2")
    _sacctmgr(env, "modify", "user", "root", "set", f"qos+={qos}")
    c.mc.stop_daemon()  # its next state refresh would read the new QOS too; a restart reads it now
    c.mc.start_daemon()
    c.set_mode("enforce")
    sub = c.submit(SCRIPT, "--gpus=2", f"--qos={qos}")
    c.answered(sub)
    done = c.wait_done(sub.jobid or "", timeout_s=90)
    rec = c.record(token_of(done["Comment"]))
    out = c.output(sub.jobid or "")
    assert done["JobState"] == "COMPLETED", (done["JobState"], out, rec.get("set"))
    assert f"QOS {qos} allows 2 {kind} GPUs per job" in str(rec.get("limited")), rec
    assert " enforce: " in done["Comment"] and not done["NodeList"].startswith(kind), (done, rec.get("set"))
    tp = int(re.findall(r"OMNIPILOT_TP=(\d+)", out)[0])
    visible = re.search(r"CUDA_VISIBLE_DEVICES=([\d,]*)", out)
    assert tp > 2 and visible and len(visible.group(1).split(",")) == tp, out
    assert f"QOS {qos}" in sub.stderr, sub.stderr


def test_a_suggestion_names_the_limit_it_would_wait_on(limited: Cluster) -> None:
    """Suggest mode changes nothing, but does not advise an arm the job's QOS would leave pending:
    the message names the limit (here no advised arm fits under 2 GPUs per job)."""
    c = limited
    c.set_mode("suggest")
    try:
        sub = c.submit(SCRIPT, "--gpus=2", f"--qos={QOS}", "--hold")
        job = c.answered(sub)
        rec = c.record(token_of(job["Comment"]))
        subprocess.run(["scancel", sub.jobid or ""], env=c.env, check=False)
        assert rec["action"] == "suggest" and rec.get("set") == {}, rec
        assert f"QOS {QOS} allows 2 GPUs per job" in str(rec.get("limited")), rec
        assert f"limits: QOS {QOS}" in sub.stderr, sub.stderr
    finally:
        c.set_mode("enforce")
