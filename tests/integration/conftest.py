"""The real local mini cluster (slurmctld + slurmd per node + munge + the OmniPilot daemon), once
per test session, in a temporary state directory. Tests submit with real sbatch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnipilot.config import load_settings
from omnipilot.daemon.control import control_call
from omnipilot.slurm.hooksettings import write_hook_settings
from omnipilot.slurm.minicluster import ClusterInfo, MiniCluster

HOOK_TIMEOUT_MS = 1000
STANDIN_BIN = Path(__file__).resolve().parents[2] / "slurm" / "standin"


def _missing_prereq() -> str | None:
    if os.geteuid() != 0:
        return "the mini cluster runs slurmctld/slurmd/munged as root"
    for exe in ("slurmctld", "slurmd", "sbatch", "lua5.1"):
        if shutil.which(exe) is None and not Path(f"/usr/sbin/{exe}").exists():
            return f"{exe} is not installed (run install.sh)"
    return None


@dataclass
class Submitted:
    rc: int
    stdout: str
    stderr: str
    jobid: str | None
    wall_ms: float


class Cluster:
    def __init__(self, mc: MiniCluster, info: ClusterInfo, workdir: Path) -> None:
        self.mc = mc
        self.info = info
        self.workdir = workdir
        self.env = {**os.environ, **info.env(), "PATH": f"{STANDIN_BIN}:{os.environ.get('PATH', '')}"}

    def control(self, cmd: str, **kw: object) -> dict[str, object]:
        return control_call(self.info.control_socket, {"cmd": cmd, **kw})

    def set_mode(self, mode: str) -> None:
        self.control("mode", set=mode)

    def submit(self, script: str, *args: str) -> Submitted:
        path = self.workdir / f"job-{time.monotonic_ns()}.sbatch"
        path.write_text(script)
        t0 = time.perf_counter()
        res = subprocess.run(
            [
                "sbatch",
                "--parsable",
                "-D",
                str(self.workdir),
                "-o",
                f"{self.workdir}/%j.out",
                *args,
                str(path),
            ],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        wall = (time.perf_counter() - t0) * 1000
        jobid = res.stdout.strip().split(";")[0] if res.returncode == 0 else None
        return Submitted(res.returncode, res.stdout, res.stderr, jobid, wall)

    def job(self, jobid: str) -> dict[str, str]:
        out = subprocess.run(
            ["scontrol", "show", "job", jobid, "-o"], capture_output=True, text=True, env=self.env
        ).stdout
        fields = {
            m.group(1): m.group(2)
            for m in re.finditer(r"([A-Z][A-Za-z:]*)=(.*?)(?= [A-Z][A-Za-z:]*=|$)", out.strip())
        }
        # the comment holds "key=value" text itself: read it on its own
        fields["Comment"] = subprocess.run(
            ["squeue", "-h", "-t", "all", "-j", jobid, "-o", "%k"],
            capture_output=True,
            text=True,
            env=self.env,
        ).stdout.strip()
        if fields["Comment"] == "(null)":
            fields["Comment"] = ""
        return fields

    def wait_done(self, jobid: str, timeout_s: float = 60) -> dict[str, str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            j = self.job(jobid)
            if j.get("JobState") in (
                "COMPLETED",
                "FAILED",
                "CANCELLED",
                "TIMEOUT",
                "NODE_FAIL",
                "OUT_OF_MEMORY",
            ):
                return j
            time.sleep(0.5)
        raise AssertionError(f"job {jobid} did not finish in {timeout_s}s: {self.job(jobid)}")

    def output(self, jobid: str) -> str:
        return (self.workdir / f"{jobid}.out").read_text()

    def decisions(self) -> list[str]:
        path = self.info.state_dir / "omnipilot" / "decisions.jsonl"
        return path.read_text().splitlines() if path.exists() else []


def apply_test_hook_settings(info: ClusterInfo) -> None:
    """Behaviour, not speed, is tested here: a roomy hook timeout keeps the tests stable on a loaded
    2-core machine (latency is measured by benchmarks/submit_latency.py with the shipped 50 ms)."""
    settings = load_settings(info.omnipilot_config)
    hook = settings.hook.model_copy(update={"timeout_ms": HOOK_TIMEOUT_MS})
    write_hook_settings(settings.model_copy(update={"hook": hook}), info.slurm_conf.parent)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = _missing_prereq()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("cluster")
    mc = MiniCluster(state)
    try:
        info = mc.up()
    except Exception:
        for log in sorted((state / "log").glob("*.log")):
            print(f"--- {log}\n{log.read_text()[-3000:]}")
        mc.down()
        raise
    apply_test_hook_settings(info)
    workdir = state / "jobs"
    workdir.mkdir()
    try:
        yield Cluster(mc, info, workdir)
    finally:
        mc.down()
