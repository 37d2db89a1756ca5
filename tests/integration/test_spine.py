"""sbatch → job_submit.lua → ZMTP → daemon → advice, on the real local Slurm cluster, with the
shipped hook settings (a 50 ms timeout): every answer a test expects must arrive within it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import zmq

from omnipilot.config import load_settings
from omnipilot.slurm.hooksettings import write_hook_settings

from .conftest import HOOK_TIMEOUT_MS, Cluster, assert_shipped_hook_settings, token_of

pytestmark = pytest.mark.slurm

QWEN_A100 = """#!/bin/bash
#SBATCH --partition=a100
#SBATCH --gres=gpu:a100:2
#SBATCH --time=00:10:00
vllm serve Qwen/Qwen2.5-7B-Instruct \\
    --tensor-parallel-size 2 \\
    --max-model-len 8192
"""

PLAIN = """#!/bin/bash
#SBATCH --gres=gpu:1
echo training a model
"""


def _tres(job: dict[str, str]) -> str:
    return job.get("TresPerNode", "") + job.get("TresPerJob", "")


def test_suggest_appends_advice_and_leaves_the_request(cluster: Cluster) -> None:
    cluster.set_mode("suggest")
    sub = cluster.submit(QWEN_A100, "--hold", "--comment", "my own note")
    job = cluster.answered(sub)
    comment = job["Comment"]
    assert comment.startswith("my own note; omnipilot["), comment  # appended, never replaced
    assert " suggest: " in comment and ("(asked a100x2" in comment or "(as asked)" in comment)
    assert "omnipilot: Qwen/Qwen2.5-7B" in sub.stderr  # the sbatch message
    # the hint the user is told to follow carries the job's real token (never redacted away)
    assert f"omnipilot explain --token {token_of(comment)}" in sub.stderr, sub.stderr
    assert "a100:2" in _tres(job) and job["Partition"] == "a100"  # untouched
    # the daemon replies first and writes the record after: wait for this job's record
    rec = cluster.record(token_of(comment))
    request = rec["request"]
    assert rec["mode"] == "suggest" and rec["arms"] and isinstance(request, dict) and "script" not in request


def test_enforce_rewrites_gres_and_job_sees_the_arm(cluster: Cluster) -> None:
    with allow_low_confidence(cluster):
        cluster.set_mode("enforce")
        script = QWEN_A100.replace("--partition=a100", "--partition=h200").replace("gpu:a100:2", "gpu:h200:4")
        script = script.replace("--tensor-parallel-size 2", "--tensor-parallel-size 4")
        sub = cluster.submit(script)
        cluster.set_mode("suggest")
    cluster.answered(sub)
    job = cluster.wait_done(sub.jobid or "")
    rec = cluster.record(token_of(job["Comment"]))
    choice = rec["choice"]
    assert isinstance(choice, dict), rec
    assert " enforce: " in job["Comment"], (job["Comment"], rec.get("degraded"))
    kind = {"A100-40GB": "a100", "H100-80GB": "h100", "H200-141GB": "h200"}[choice["gpu"]]
    assert f"gpu:{kind}:{choice['tp']}" in _tres(job)
    assert job["NodeList"].startswith(kind)
    out = cluster.output(sub.jobid or "")
    assert f"OMNIPILOT_TP={choice['tp']}" in out
    assert f"SLURM_GPUS_ON_NODE={choice['tp']}" in out or "CUDA_VISIBLE_DEVICES=" in out
    assert f"--tensor-parallel-size {choice['tp']}" in out  # the vllm flags were rewritten to match


def test_off_mode_leaves_job_alone(cluster: Cluster) -> None:
    cluster.set_mode("off")
    try:
        sub = cluster.submit(QWEN_A100, "--hold")
    finally:
        cluster.set_mode("suggest")
    job = cluster.answered(sub)
    assert "omnipilot" not in job.get("Comment", "") and "omnipilot" not in sub.stderr
    # the daemon was asked and answered "none" (not a hook that skipped it)
    assert [r["outcome"] for r in cluster.records_since(sub.log_mark)] == ["mode_off"]


def test_untagged_job_costs_no_round_trip(cluster: Cluster) -> None:
    cluster.set_mode("suggest")
    sub = cluster.submit(PLAIN, "--hold")
    assert sub.rc == 0 and "omnipilot" not in sub.stderr
    assert "omnipilot" not in cluster.job(sub.jobid or "").get("Comment", "")
    assert cluster.records_since(sub.log_mark) == []  # the daemon never saw it


def test_malformed_tag_is_reported_and_job_untouched(cluster: Cluster) -> None:
    cluster.set_mode("enforce")
    try:
        sub = cluster.submit(
            QWEN_A100.replace("#SBATCH --time", "#OMNIPILOT concurrency=lots\n#SBATCH --time"), "--hold"
        )
    finally:
        cluster.set_mode("suggest")
    job = cluster.answered(sub)
    assert "concurrency" in sub.stderr and "lots" in sub.stderr
    assert "a100:2" in _tres(job) and job["Partition"] == "a100"


def test_model_that_fits_nowhere_is_said_plainly(cluster: Cluster) -> None:
    cluster.set_mode("enforce")
    script = """#!/bin/bash
#SBATCH -p a100 --gres=gpu:a100:4
#OMNIPILOT gpu=a100
vllm serve deepseek-ai/DeepSeek-R1-Distill-Llama-70B --tensor-parallel-size 4 --max-model-len 131072
"""
    try:
        sub = cluster.submit(script, "--hold")
    finally:
        cluster.set_mode("suggest")
    job = cluster.answered(sub)
    assert "does not fit" in sub.stderr and "elsewhere" in sub.stderr
    assert "a100:4" in _tres(job) and "no fit" in job["Comment"]


def test_unknown_model_gets_how_to_tag(cluster: Cluster) -> None:
    cluster.set_mode("suggest")
    sub = cluster.submit(
        "#!/bin/bash\n#SBATCH --gres=gpu:h100:1 -p h100\nvllm serve my-lab/secret-model\n", "--hold"
    )
    job = cluster.answered(sub)
    assert "not in the catalog" in sub.stderr and "OMNIPILOT" in sub.stderr
    assert "h100:1" in _tres(job)


def test_mode_survives_daemon_restart(cluster: Cluster) -> None:
    cluster.set_mode("observe")
    cluster.mc.stop_daemon()
    cluster.mc.start_daemon()
    try:
        assert cluster.control("mode")["mode"] == "observe"
    finally:
        cluster.set_mode("suggest")


def test_daemon_down_fails_open_within_timeout(cluster: Cluster) -> None:
    cluster.reload_hook()  # the failure below is this test's own, not an open breaker's
    cluster.mc.stop_daemon()
    try:
        plain = cluster.submit(PLAIN, "--hold")
        sub = cluster.submit(QWEN_A100, "--hold")
    finally:
        cluster.mc.start_daemon()
        cluster.set_mode("suggest")
    assert sub.rc == 0
    job = cluster.job(sub.jobid or "")
    assert "omnipilot: unavailable" in job["Comment"]
    assert "a100:2" in _tres(job)
    # the next answered request tells the restarted daemon how many jobs went through unadvised
    cluster.answered(cluster.submit(QWEN_A100, "--hold"))
    status = cluster.control("status")
    assert status["hook_failures_reported"] >= 1  # type: ignore[operator]
    # refused connect: the hook must add at most a few ms to a plain submission (generous bound for CI)
    assert sub.wall_ms < plain.wall_ms + 500, (sub.wall_ms, plain.wall_ms)


def test_new_jobs_after_a_daemon_start_are_answered_in_time(cluster: Cluster) -> None:
    """The first submissions after the daemon starts, each a job it has never seen (so no cache of
    earlier answers helps), get advice within the shipped hook timeout: no warm-up (issue 11)."""
    cluster.set_mode("suggest")
    cluster.mc.stop_daemon()
    cluster.mc.start_daemon()
    for concurrency in (3, 5, 7, 11, 13):
        script = QWEN_A100.replace("#SBATCH --time", f"#OMNIPILOT concurrency={concurrency}\n#SBATCH --time")
        job = cluster.answered(cluster.submit(script, "--hold"))
        assert " suggest: " in job["Comment"], job["Comment"]


# The slow stand-in answers this long after the request: far past the shipped hook timeout and past
# any sbatch overhead on a loaded machine, so a hook that waited for the reply cannot pass for one
# that gave up at its timeout.
SLOW_REPLY_S = 3.0


@contextmanager
def fake_daemon(cluster: Cluster, behaviour: str) -> Iterator[None]:
    """A stand-in peer at the daemon's endpoint that is slow or answers garbage."""
    cluster.reload_hook()  # the failure it provokes is the test's own, not an open breaker's
    cluster.mc.stop_daemon()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.bind(cluster.info.endpoint)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            if not sock.poll(100):
                continue
            frames = sock.recv_multipart()
            if behaviour == "slow":
                if stop.wait(SLOW_REPLY_S):
                    return
                sock.send_multipart([frames[0], b"", b'{"v":1,"id":"late","status":"ok","action":"none"}'])
            else:
                sock.send_multipart([frames[0], b"", b"\x00not json at all"])

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        sock.close(0)
        ctx.term()
        Path(cluster.info.endpoint.removeprefix("ipc://")).unlink(missing_ok=True)
        cluster.mc.start_daemon()


@pytest.mark.parametrize("behaviour", ["slow", "garbage"])
def test_slow_or_garbage_daemon_fails_open(cluster: Cluster, behaviour: str) -> None:
    with fake_daemon(cluster, behaviour):
        plain = cluster.submit(PLAIN, "--hold")  # no round trip: sbatch's own time, for the bound below
        sub = cluster.submit(QWEN_A100, "--hold")
    assert sub.rc == 0
    job = cluster.job(sub.jobid or "")
    reason = "timeout" if behaviour == "slow" else "bad reply"
    assert f"omnipilot: unavailable ({reason})" in job["Comment"] and "a100:2" in _tres(job), job["Comment"]
    if behaviour == "slow":
        # gave up at the hook's timeout, not after the slow reply (generous bound for a loaded machine)
        timing = f"sbatch took {sub.wall_ms:.0f} ms, plain {plain.wall_ms:.0f} ms, timeout {HOOK_TIMEOUT_MS} ms"
        assert sub.wall_ms >= HOOK_TIMEOUT_MS, timing
        assert sub.wall_ms < min(plain.wall_ms + HOOK_TIMEOUT_MS + 500, SLOW_REPLY_S * 1000), timing


def test_fail_closed_rejects_with_message(cluster: Cluster) -> None:
    settings = load_settings(cluster.info.omnipilot_config)  # the shipped hook settings
    etc = cluster.info.slurm_conf.parent
    closed = settings.model_copy(update={"hook": settings.hook.model_copy(update={"fail_closed": True})})
    cluster.mc.stop_daemon()
    write_hook_settings(closed, etc)
    time.sleep(1.1)  # slurmctld compares the hook's mtime in whole seconds
    try:
        sub = cluster.submit(QWEN_A100, "--hold")
        plain = cluster.submit(PLAIN, "--hold")
    finally:
        write_hook_settings(settings, etc)
        time.sleep(1.1)
        cluster.mc.start_daemon()
    assert sub.rc != 0 and "omnipilot" in sub.stderr.lower() and sub.jobid is None
    assert plain.rc == 0  # only OmniPilot's candidates are affected


@contextmanager
def allow_low_confidence(cluster: Cluster) -> Iterator[None]:
    """Enforce the rule-based choice even where the model abstains (enforce.allow_low_confidence)."""
    path = cluster.info.omnipilot_config
    original = path.read_text()
    path.write_text(original.replace("allow_low_confidence = false", "allow_low_confidence = true"))
    cluster.mc.stop_daemon()
    cluster.mc.start_daemon()
    try:
        yield
    finally:
        path.write_text(original)
        cluster.mc.stop_daemon()
        cluster.mc.start_daemon()


def test_kill_switch_skips_the_daemon_entirely(cluster: Cluster) -> None:
    switch = cluster.info.slurm_conf.parent / "omnipilot.disabled"  # hook.kill_switch of this cluster
    cluster.set_mode("suggest")
    switch.touch()
    try:
        sub = cluster.submit(QWEN_A100, "--hold")
    finally:
        switch.unlink()
    assert sub.rc == 0 and "omnipilot" not in sub.stderr
    assert "omnipilot" not in cluster.job(sub.jobid or "")["Comment"]
    assert cluster.records_since(sub.log_mark) == []  # the daemon never saw it


def test_explain_and_status_commands(cluster: Cluster) -> None:
    import subprocess
    import sys

    cluster.set_mode("suggest")
    sub = cluster.submit(QWEN_A100, "--hold")
    cluster.record(token_of(cluster.answered(sub)["Comment"]))  # explain reads the written record
    cmd = [sys.executable, "-m", "omnipilot.cli"]
    cfg = ["--config", str(cluster.info.omnipilot_config)]
    out = subprocess.run(
        [*cmd, "explain", *cfg, sub.jobid or ""], capture_output=True, text=True, env=cluster.env
    )
    assert out.returncode == 0, out.stderr
    assert "ranking" in out.stdout and "Qwen/Qwen2.5-7B" in out.stdout
    status = subprocess.run([*cmd, "status", *cfg, "--json"], capture_output=True, text=True, env=cluster.env)
    st = json.loads(status.stdout)
    assert st["up"] and st["mode"] == "suggest" and st["counts"].get("advised", 0) >= 1
    missing = subprocess.run(
        [*cmd, "explain", *cfg, "--token", "nosuchtk"], capture_output=True, text=True, env=cluster.env
    )
    assert missing.returncode == 1 and "not in" in missing.stderr


def test_cluster_up_twice_is_harmless(cluster: Cluster) -> None:
    before = dict(cluster.mc.info().pids)  # type: ignore[union-attr]
    info = cluster.mc.up()
    assert_shipped_hook_settings(info)  # up() renders the shipped hook settings again, unchanged
    assert info.pids == before
    assert cluster.mc.status()["up"] is True


def test_job_array_gets_one_decision(cluster: Cluster) -> None:
    cluster.set_mode("suggest")
    sub = cluster.submit(QWEN_A100, "--hold", "--array=0-3")
    cluster.answered(sub)
    comment = cluster.job(f"{sub.jobid}_0")["Comment"]
    assert " suggest: " in comment
    # slurmctld runs the hook once for the whole array: one record, this array's
    assert [r["token"] for r in cluster.records_since(sub.log_mark)] == [token_of(comment)]


def test_job_modify_passes_through(cluster: Cluster) -> None:
    import subprocess

    cluster.set_mode("enforce")
    try:
        sub = cluster.submit(QWEN_A100, "--hold")
        before = cluster.answered(sub)
        res = subprocess.run(
            ["scontrol", "update", f"JobId={sub.jobid}", "TimeLimit=00:05:00"],
            capture_output=True,
            text=True,
            env=cluster.env,
        )
    finally:
        cluster.set_mode("suggest")
    after = cluster.job(sub.jobid or "")
    assert res.returncode == 0, res.stderr
    assert (
        after["TimeLimit"] == "00:05:00"
        and _tres(after) == _tres(before)
        and after["Comment"] == before["Comment"]
    )
