"""A daemon a site can trust, on the real mini cluster with the shipped hook settings (issue 13, items
2-7): one user cannot switch advice off for others, a second daemon does not take the sockets,
secrets never reach the decision log, the job's owner (a real unprivileged user) can run
`omnipilot explain` and another user cannot, and SIGKILL right after answers leaves every answered
job its record.

Its own cluster, in a directory every user may traverse (pytest's temp directories are root's
alone): ordinary users submit with sbatch and reach the daemon's explain socket there.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnipilot.daemon.control import ControlError, explain_socket
from omnipilot.slurm.minicluster.cluster import MiniCluster

from .conftest import Cluster, _missing_prereq, assert_shipped_hook_settings, cold_cache_env, token_of

pytestmark = pytest.mark.slurm

QWEN = """#!/bin/bash
#SBATCH --partition=a100
#SBATCH --gres=gpu:a100:2
#SBATCH --time=00:10:00
vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2 --max-model-len 8192
"""
OWNER, OTHER = "omnipilot-t1", "omnipilot-t2"  # created if absent: ordinary users, no privileges


def _user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = _missing_prereq() or (None if shutil.which("runuser") and shutil.which("useradd") else "no runuser/useradd")
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="omnipilot-trust-", dir="/tmp"))
    base.chmod(0o755)  # users traverse it to slurm.conf and to the explain socket, as to /run/omnipilot
    with pytest.MonkeyPatch.context() as mp:
        cold_cache_env(mp, tmp_path_factory.mktemp("cache"))
        mc = MiniCluster(base / "cluster")
        try:
            info = mc.up()
            workdir = base / "jobs"
            workdir.mkdir(mode=0o1777)
            workdir.chmod(0o1777)  # every user's job writes its output here
            assert_shipped_hook_settings(info)
            c = Cluster(mc, info, workdir)
            c.set_mode("suggest")
            yield c
        finally:
            mc.down()
            shutil.rmtree(base, ignore_errors=True)


def _as(user: str, cluster: Cluster, *cmd: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": cluster.env["PATH"], "SLURM_CONF": str(cluster.info.slurm_conf), "LANG": "C.UTF-8", "HOME": "/tmp"}
    return subprocess.run(
        ["runuser", "-u", user, "--", *cmd], capture_output=True, text=True, env=env, cwd=cluster.workdir, timeout=120
    )  # fmt: skip


def _submit_as(user: str, cluster: Cluster, script: str, *args: str) -> str:
    path = cluster.workdir / f"{user}-{time.monotonic_ns()}.sbatch"
    path.write_text(script)
    path.chmod(0o644)
    res = _as(user, cluster, "sbatch", "--parsable", "--hold", "-D", str(cluster.workdir), *args, str(path))
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().split(";")[0]


def _explain(user: str, cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return _as(user, cluster, sys.executable, "-m", "omnipilot.cli", "explain", "--config", str(cluster.info.omnipilot_config), *args)


def test_oversize_control_byte_scripts_leave_the_breaker_closed_for_others(trust: Cluster) -> None:
    """A 60 KB script of control bytes used to become a ~360 KB request that libzmq dropped unanswered:
    three such jobs opened the breaker for everyone. Nor may 3,000 tag lines cost a timeout."""
    trust.reload_hook()  # a fresh breaker: what follows is this test's own doing
    junk = QWEN + "# " + "\x01\x02\x1b" * 20_000 + "\n"  # 60 KB, 6x once escaped by cjson
    tags = QWEN + "#OMNIPILOT concurrency=8 context=4k\n" * 3_000
    for script in (junk, junk, junk, tags, tags, tags):
        sub = trust.submit(script, "--hold")
        assert sub.rc == 0, sub.stderr
        comment = trust.job(sub.jobid or "")["Comment"]
        assert "breaker open" not in comment, comment
    other = trust.answered(trust.submit(QWEN, "--hold"))  # another job right after: advised
    assert " suggest: " in other["Comment"], other["Comment"]


def test_a_second_daemon_refuses_and_leaves_the_sockets(trust: Cluster) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "omnipilot.cli", "daemon", "--config", str(trust.info.omnipilot_config)],
        capture_output=True, text=True, env=trust.env, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1 and "already serves" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert Path(trust.info.endpoint.removeprefix("ipc://")).exists() and trust.info.control_socket.exists()
    assert trust.control("status")["pid"] == trust.mc.info().pids["omnipilot-daemon"]
    trust.answered(trust.submit(QWEN, "--hold"))  # the real daemon still answers the hook


def test_secrets_in_arguments_and_tags_never_reach_the_log(trust: Cluster) -> None:
    secrets = ["sk-proj-Zq8xT3secretA1", "hf_SecretTokenValue42", "plainpass-7781"]
    script = QWEN.replace("#SBATCH --time", f"#OMNIPILOT concurrency={secrets[1]}\n#SBATCH --time")
    sub = trust.submit(
        script, "--hold", "--comment", f"omnipilot: api_key={secrets[2]}", "--export", f"ALL,HF_TOKEN={secrets[1]}"
    )
    # job arguments after the script: sbatch passes them to the hook as argv
    path = trust.workdir / "argv.sbatch"
    path.write_text(script)
    res = subprocess.run(
        ["sbatch", "--parsable", "--hold", "-D", str(trust.workdir), str(path), "--api-key", secrets[0],
         "--token", secrets[2]],
        capture_output=True, text=True, env=trust.env, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    tokens = [token_of(trust.answered(sub)["Comment"]), token_of(trust.job(res.stdout.strip())["Comment"])]
    recs = [trust.record(t) for t in tokens]
    request = recs[1]["request"]
    assert isinstance(request, dict)
    assert request["argv"][-4:] == ["--api-key", "[redacted]", "--token", "[redacted]"]
    # Slurm's argv[0] is the script itself (AdviseRequest.script_args relies on it)
    assert len(request["argv"]) == 5 and request["argv"][0].endswith("argv.sbatch"), request["argv"]
    log = "\n".join(trust.decisions())
    for s in secrets:
        assert s not in log, f"{s} is in the decision log"
        # every user can read a job's comment: what OmniPilot appends to it holds no secret
        assert s not in trust.job(sub.jobid or "")["Comment"].split("omnipilot[", 1)[1]


def test_explain_for_the_jobs_owner_and_not_for_another_user(trust: Cluster) -> None:
    owner, other = _user(OWNER), _user(OTHER)
    jobid = _submit_as(OWNER, trust, QWEN)
    token = token_of(trust.job(jobid)["Comment"])
    rec = trust.record(token)
    assert rec["uid"] == owner.pw_uid
    assert explain_socket(trust.info.control_socket).exists()
    log = trust.info.state_dir / "omnipilot" / "decisions.jsonl"
    assert not os.access(log, os.R_OK) or os.geteuid() == 0  # users go through the daemon
    for args in ([jobid], ["--token", token]):
        res = _explain(OWNER, trust, *args)
        assert res.returncode == 0, res.stderr
        out = res.stdout
        assert "ranking" in out and "utility" in out and "compute" in out and "queue" in out, out
        assert "Traceback" not in res.stderr and "e+0" not in out and "{'" not in out, out
    res = _explain(OTHER, trust, "--token", token)
    assert res.returncode == 1 and "another user's job" in res.stderr, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr and other.pw_uid != owner.pw_uid
    # an admin reads the log directly: --token works with the daemon down
    trust.mc.stop_daemon()
    try:
        res = subprocess.run(
            [sys.executable, "-m", "omnipilot.cli", "explain", "--config", str(trust.info.omnipilot_config), "--token", token],
            capture_output=True, text=True, env=trust.env, timeout=120,
        )  # fmt: skip
        assert res.returncode == 0 and "ranking" in res.stdout, res.stderr
        res = _explain(OWNER, trust, "--token", token)
        assert res.returncode == 1 and "ask your Slurm admin" in res.stderr and "Traceback" not in res.stderr
    finally:
        trust.mc.start_daemon()


def test_sigkill_after_answers_leaves_a_record_for_every_answered_job(trust: Cluster) -> None:
    trust.reload_hook()
    subs = [
        trust.submit(QWEN.replace("#SBATCH --time", f"#OMNIPILOT concurrency={n}\n#SBATCH --time"), "--hold")
        for n in (3, 5, 7, 9, 11)
    ]
    tokens = [token_of(trust.answered(s)["Comment"]) for s in subs]
    pid = trust.mc.info().pids["omnipilot-daemon"]
    os.kill(pid, signal.SIGKILL)  # right after the last answer: no chance to flush anything
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = "\n".join(trust.decisions())
    missing = [t for t in tokens if f'"token":"{t}"' not in text]
    trust.mc.start_daemon()  # a stale lock and stale sockets do not stop the next start
    assert missing == [], f"no record for {missing} after SIGKILL"
    # start_daemon returns once the hook's socket file exists, which the killed daemon left behind
    deadline = time.monotonic() + 60
    while True:
        try:
            status = trust.control("status")
            break
        except ControlError:
            assert time.monotonic() < deadline, "the daemon did not start again after SIGKILL"
            time.sleep(0.2)
    assert status["pid"] != pid
    assert json.loads(trust.decisions()[-1])["token"] in tokens
