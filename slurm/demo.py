"""`omnipilot demo`: the main job on the bundled defaults, end to end with real Slurm.

Brings up the mini cluster and the daemon, submits the sample vLLM jobs in slurm/samples/ with
real sbatch, and prints for each what the user sees (sbatch's message) and what the job carries
(its comment). Jobs run a stand-in for vLLM (slurm/standin/vllm), since no machine here has GPUs.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from omnipilot.daemon.control import control_call
from omnipilot.slurm.minicluster import ClusterError, MiniCluster

SAMPLES = Path(__file__).resolve().parent / "samples"
STANDIN_BIN = Path(__file__).resolve().parent / "standin"


def _job_field(jobid: str, field: str, env: dict[str, str]) -> str:
    out = subprocess.run(["scontrol", "show", "job", jobid, "-o"], capture_output=True, text=True, env=env).stdout
    m = re.search(rf"\b{field}=(.*?)(?= [A-Z][A-Za-z]+=|$)", out)
    return m.group(1) if m else ""


def run_demo(state_dir: Path, *, mode: str = "suggest", stop_after: bool = False) -> int:
    cluster = MiniCluster(state_dir)
    try:
        info = cluster.up()
    except ClusterError as exc:
        print(f"omnipilot demo: {exc}")
        return 1
    env = {**os.environ, **info.env(), "PATH": f"{STANDIN_BIN}:{os.environ.get('PATH', '')}"}
    control_call(info.control_socket, {"cmd": "mode", "set": mode})
    print(f"== OmniPilot demo: Slurm {info.slurm_version}, mode {mode}, cluster in {info.state_dir}")
    print(subprocess.run(["sinfo", "-o", "%P %D %G %t"], capture_output=True, text=True, env=env).stdout)
    workdir = state_dir / "demo-jobs"
    workdir.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, str]] = []
    for script in sorted(SAMPLES.glob("*.sbatch")):
        t0 = time.perf_counter()
        res = subprocess.run(["sbatch", "--parsable", "-D", str(workdir), "-o", f"{workdir}/%j.out", str(script)],
                             capture_output=True, text=True, env=env)
        ms = (time.perf_counter() - t0) * 1000
        print(f"-- {script.name}  (sbatch took {ms:.0f} ms)")
        for line in res.stderr.strip().splitlines():
            print(f"   sbatch says: {line}")
        if res.returncode != 0:
            print(f"   sbatch failed ({res.returncode})")
            continue
        jobid = res.stdout.strip().split(";")[0]
        jobs.append((jobid, script.name))
        comment = _job_field(jobid, "Comment")
        print(f"   job {jobid} comment: {comment or '(none)'}")
    print("\n== where the jobs ran (stand-in vLLM output)")
    time.sleep(3)
    for jobid, name in jobs:
        out = workdir / f"{jobid}.out"
        state = _job_field(jobid, "JobState")
        nodes = _job_field(jobid, "NodeList")
        print(f"-- job {jobid} {name}: {state} on {nodes}")
        if out.exists():
            for line in out.read_text().strip().splitlines()[:4]:
                print(f"   {line}")
    print("\nTry: omnipilot explain --config " + str(info.omnipilot_config) + " JOBID   (with the cluster env:)")
    print(f"     eval \"$(omnipilot cluster env --state-dir {info.state_dir})\"")
    if stop_after:
        cluster.down()
    return 0
