"""What OmniPilot adds to `sbatch`: real submissions to the local mini cluster.

Measures, in one run: sbatch wall time for tagged vLLM jobs with the hook + daemon (suggest mode,
the shipped 50 ms timeout), the same with the job_submit plugin disabled (slurmctld restarted
without JobSubmitPlugins), their ratio, and the daemon's own time to answer (from its decision
log: receive → reply sent). Jobs are submitted held and cancelled afterwards.

    .venv/bin/python benchmarks/submit_latency.py [--jobs 60] [--state-dir DIR]

The daemon is measured twice: the same job resubmitted (its caches answer) and every job new.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omnipilot.daemon.control import control_call
from omnipilot.slurm.minicluster import MiniCluster, _alive, _terminate

SCRIPT = """#!/bin/bash
#SBATCH --partition=a100
#SBATCH --gres=gpu:a100:2
#OMNIPILOT concurrency=32
vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2 --max-model-len 4096
"""


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def submit_many(n: int, script: Path, env: dict[str, str], distinct: bool = False) -> list[float]:
    times = []
    for i in range(n):
        if distinct:  # a new request signature each time: no cache in the daemon can answer it
            script.write_text(SCRIPT.replace("concurrency=32", f"concurrency={17 + i}"))
        t0 = time.perf_counter()
        res = subprocess.run(
            ["sbatch", "--parsable", "--hold", "-o", "/dev/null", str(script)],
            capture_output=True,
            text=True,
            env=env,
        )
        times.append((time.perf_counter() - t0) * 1000)
        if res.returncode != 0:
            sys.exit(f"sbatch failed: {res.stderr}")
    return times


def restart_ctld(mc: MiniCluster, conf_text: str) -> None:
    info = mc.info()
    assert info is not None
    pid = info.pids.get("slurmctld", -1)
    if _alive(pid):
        _terminate(pid)
    info.slurm_conf.write_text(conf_text)
    env = {**os.environ, **info.env()}
    subprocess.run(["slurmctld", "-f", str(info.slurm_conf)], env=env, check=True)
    pidfile = info.state_dir / "run" / "slurmctld.pid"
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            info.pids["slurmctld"] = int(pidfile.read_text().strip())
            break
        time.sleep(0.1)
    mc._save(info)
    for _ in range(100):
        if subprocess.run(["squeue", "-h"], env=env, capture_output=True).returncode == 0:
            return
        time.sleep(0.2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=60)
    ap.add_argument("--state-dir")
    args = ap.parse_args()
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="omnipilot-bench-"))
    mc = MiniCluster(state)
    info = mc.up()
    env = {**os.environ, **info.env()}
    script = state / "bench.sbatch"
    script.write_text(SCRIPT)
    control_call(info.control_socket, {"cmd": "mode", "set": "suggest"})
    dlog = state / "omnipilot" / "decisions.jsonl"
    start_line = len(dlog.read_text().splitlines()) if dlog.exists() else 0
    try:
        submit_many(5, script, env)  # warm the hook's connection and the daemon's caches
        hook = submit_many(args.jobs, script, env)
        records = [json.loads(line) for line in dlog.read_text().splitlines()[start_line + 5 :]]
        daemon_ms = [float(r["latency_ms"]) for r in records if "latency_ms" in r]
        mark = len(dlog.read_text().splitlines())
        hook_distinct = submit_many(args.jobs, script, env, distinct=True)
        fresh = [json.loads(line) for line in dlog.read_text().splitlines()[mark:]]
        daemon_new_ms = [float(r["latency_ms"]) for r in fresh if "latency_ms" in r]
        script.write_text(SCRIPT)
        fail_open = sum(1 for r in records if r.get("outcome") != "advised")
        conf = info.slurm_conf.read_text()
        restart_ctld(
            mc,
            "\n".join(line for line in conf.splitlines() if not line.startswith("JobSubmitPlugins")) + "\n",
        )
        submit_many(5, script, env)
        plain = submit_many(args.jobs, script, env)
        restart_ctld(mc, conf)
    finally:
        subprocess.run(["scancel", "--user=root"], env=env)
        if not args.state_dir:
            mc.down()
    res = {
        "jobs": args.jobs,
        "sbatch_p50_ms_hook": round(statistics.median(hook), 2),
        "sbatch_p99_ms_hook": round(pct(hook, 0.99), 2),
        "sbatch_p50_ms_plain": round(statistics.median(plain), 2),
        "sbatch_p99_ms_plain": round(pct(plain, 0.99), 2),
        "p50_ratio": round(statistics.median(hook) / statistics.median(plain), 3),
        "hook_added_p50_ms": round(statistics.median(hook) - statistics.median(plain), 2),
        "daemon_p50_ms": round(statistics.median(daemon_ms), 3) if daemon_ms else None,
        "daemon_p99_ms": round(pct(daemon_ms, 0.99), 3) if daemon_ms else None,
        "daemon_answers": len(daemon_ms),
        "sbatch_p50_ms_hook_distinct": round(statistics.median(hook_distinct), 2),
        "daemon_p50_ms_distinct": round(statistics.median(daemon_new_ms), 3) if daemon_new_ms else None,
        "daemon_p99_ms_distinct": round(pct(daemon_new_ms, 0.99), 3) if daemon_new_ms else None,
        "not_advised": fail_open,
        "goal_hook_added_p50_ms_lt_10": statistics.median(hook) - statistics.median(plain) < 10,
        "goal_daemon_p99_ms_lt_2": bool(daemon_ms) and pct(daemon_ms, 0.99) < 2.0,
        "goal_daemon_p99_ms_lt_2_distinct": bool(daemon_new_ms) and pct(daemon_new_ms, 0.99) < 2.0,
    }
    print(
        f"sbatch (tagged vLLM job) with hook+daemon: p50 {res['sbatch_p50_ms_hook']} ms, p99 {res['sbatch_p99_ms_hook']} ms"
    )
    print(
        f"sbatch with the plugin disabled:          p50 {res['sbatch_p50_ms_plain']} ms, p99 {res['sbatch_p99_ms_plain']} ms"
    )
    print(f"ratio p50 {res['p50_ratio']}, hook adds {res['hook_added_p50_ms']} ms at p50 (goal < 10 ms)")
    print(
        f"daemon answer, resubmitted job: p50 {res['daemon_p50_ms']} ms, p99 {res['daemon_p99_ms']} ms (goal p99 < 2 ms)"
    )
    print(
        f"daemon answer, every job new:   p50 {res['daemon_p50_ms_distinct']} ms, p99 {res['daemon_p99_ms_distinct']} ms "
        f"(goal p99 < 2 ms; sbatch p50 {res['sbatch_p50_ms_hook_distinct']} ms)"
    )
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
