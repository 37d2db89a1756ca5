"""`omnipilot demo`: the main job on the bundled defaults, end to end with real Slurm.

Brings up the mini cluster and the daemon, submits the sample vLLM jobs in slurm/samples/ with
real sbatch, and prints for each what the user sees (sbatch's message) and what the job carries
(its comment). Jobs run a stand-in for vLLM (slurm/standin/vllm), since no machine here has GPUs.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from omnipilot.daemon.control import control_call
from omnipilot.slurm.minicluster import ClusterError, MiniCluster

SAMPLES = Path(__file__).resolve().parent / "samples"
STANDIN_BIN = Path(__file__).resolve().parent / "standin"
STANDIN_PYLIB = STANDIN_BIN / "pylib"


def _squeue(jobid: str, fmt: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", jobid, "-o", fmt], capture_output=True, text=True, env=env
    ).stdout.strip()
    return "" if out == "(null)" else out


def run_demo(state_dir: Path, *, mode: str = "suggest", stop_after: bool = False) -> int:
    cluster = MiniCluster(state_dir)
    try:
        info = cluster.up()
    except ClusterError as exc:
        print(f"omnipilot demo: {exc}")
        return 1
    cluster.stop_daemon()  # the demo shows what this checkout's code and model answer
    cluster.start_daemon()
    env = {
        **os.environ,
        **info.env(),
        "PATH": f"{STANDIN_BIN}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(STANDIN_PYLIB),
    }
    control_call(info.control_socket, {"cmd": "mode", "set": mode})
    print(f"== OmniPilot demo: Slurm {info.slurm_version}, mode {mode}, cluster in {info.state_dir}")
    print(subprocess.run(["sinfo", "-o", "%P %D %G %t"], capture_output=True, text=True, env=env).stdout)
    workdir = state_dir / "demo-jobs"
    workdir.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, str]] = []
    runs = [(s, mode) for s in sorted(SAMPLES.glob("*.sbatch"))]
    if mode == "suggest":  # then the first sample once more, as an admin who turned enforce on sees it
        runs.append((sorted(SAMPLES.glob("*.sbatch"))[0], "enforce"))
    for script, run_mode in runs:
        if run_mode != mode:
            control_call(info.control_socket, {"cmd": "mode", "set": run_mode})
            print(f"\n== mode {run_mode}: the same job again")
        t0 = time.perf_counter()
        res = subprocess.run(
            ["sbatch", "--parsable", "-D", str(workdir), "-o", f"{workdir}/%j.out", str(script)],
            capture_output=True,
            text=True,
            env=env,
        )
        ms = (time.perf_counter() - t0) * 1000
        print(f"-- {script.name}  (sbatch took {ms:.0f} ms)")
        for line in res.stderr.strip().splitlines():
            print(f"   sbatch says: {line.removeprefix('sbatch: ')}")
        if res.returncode != 0:
            print(f"   sbatch failed ({res.returncode})")
            continue
        jobid = res.stdout.strip().split(";")[0]
        jobs.append((jobid, f"{script.name} ({run_mode})"))
        comment = _squeue(jobid, "%k", env)
        print(f"   job {jobid} comment: {comment or '(none)'}")
    control_call(info.control_socket, {"cmd": "mode", "set": mode})
    print("\n== where the jobs ran (stand-in vLLM output)")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        _squeue(j, "%T", env) in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING") for j, _ in jobs
    ):
        time.sleep(0.5)
    for jobid, name in jobs:
        out = workdir / f"{jobid}.out"
        state = _squeue(jobid, "%T", env)
        nodes = _squeue(jobid, "%N", env)
        print(f"-- job {jobid} {name}: {state} on {nodes}")
        if out.exists():
            for line in out.read_text().strip().splitlines()[:4]:
                print(f"   {line}")
    print(
        "\nTry: omnipilot explain --config " + str(info.omnipilot_config) + " JOBID   (with the cluster env:)"
    )
    print(f'     eval "$(omnipilot cluster env --state-dir {info.state_dir})"')
    if stop_after:
        cluster.down()
    return 0
