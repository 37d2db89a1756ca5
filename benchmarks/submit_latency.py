"""What OmniPilot adds to `sbatch`, and how fast the daemon answers: real submissions to the local
mini cluster, from a fresh state directory and a cold cache (issue 11, DECISIONS.md §3).

Measures, in one run:
- daemon start: seconds until it is ready (model loaded, sockets bound) and its answer to the first
  job after that, over `--restarts` starts; whether a start left any child process behind;
- every job new: `--jobs` submissions that miss every cache (the model, its context and its
  concurrency change, so neither the daemon's decision memo nor anything below it can answer):
  the daemon's whole answer (receive → reply sent) and the cost model's part of it (scoring);
- a resubmitted job (the memo answers): the daemon's answer and sbatch's wall time with the hook
  (suggest mode, the shipped 50 ms timeout);
- sbatch with the job_submit plugin disabled (slurmctld restarted without JobSubmitPlugins).

The daemon's own times come from its decision log (`latency_ms`, `score_ms`). Jobs are submitted
held and cancelled afterwards. Needs root (it starts a Slurm cluster).

    .venv/bin/python benchmarks/submit_latency.py [--jobs 60] [--restarts 3] [--state-dir DIR]

The last line printed is one JSON object; goals not reached are reported as not reached.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from omnipilot.daemon.control import control_call
from omnipilot.slurm.minicluster.cluster import ClusterInfo, MiniCluster, _alive, _terminate

SCRIPT = """#!/bin/bash
#SBATCH --partition=a100
#SBATCH --gres=gpu:a100:2
#OMNIPILOT concurrency={concurrency}
vllm serve {model} --tensor-parallel-size 2 --max-model-len {context}
"""
# Catalog models a site serves on 2 GPUs; rotating them also changes the arms of a new job.
MODELS = (
    "Qwen/Qwen2.5-7B-Instruct",
    "meta-llama/Meta-Llama-3-8B",
    "mistralai/Mistral-7B-v0.1",
    "Qwen/Qwen2.5-14B",
)
RESUBMITTED = SCRIPT.format(concurrency=32, model=MODELS[0], context=4096)
GOALS = {  # issue 11
    "score_p99_ms_distinct<=1": ("score_p99_ms_distinct", 1.0),
    "daemon_p99_ms_distinct<=2": ("daemon_p99_ms_distinct", 2.0),
    "daemon_first_ms<=10": ("daemon_first_ms", 10.0),
    "daemon_ready_s<=3": ("daemon_ready_s", 3.0),
    "hook_added_p50_ms<=5": ("hook_added_p50_ms", 5.0),
    "hook_added_p50_ms_distinct<=5": ("hook_added_p50_ms_distinct", 5.0),  # the same for new jobs
}


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


class NewJobs:
    """Job scripts whose request signature no earlier job had."""

    def __init__(self) -> None:
        self.k = 0

    def next(self) -> str:
        k, self.k = self.k, self.k + 1
        return SCRIPT.format(concurrency=17 + k, model=MODELS[k % len(MODELS)], context=2048 + 64 * k)


def sbatch(script: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(
        ["sbatch", "--parsable", "--hold", "-o", "/dev/null", str(script)],
        capture_output=True,
        text=True,
        env=env,
    )
    ms = (time.perf_counter() - t0) * 1000
    if res.returncode != 0:
        sys.exit(f"sbatch failed: {res.stderr}")
    return ms


def submit_many(n: int, script: Path, env: dict[str, str], new: NewJobs | None = None) -> list[float]:
    times = []
    for _ in range(n):
        if new is not None:
            script.write_text(new.next())
        times.append(sbatch(script, env))
    return times


class DecisionLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> int:
        return len(self.path.read_text().splitlines()) if self.path.exists() else 0

    def since(self, mark: int, want: int, wait_s: float = 5.0) -> list[dict[str, Any]]:
        """The records after line `mark`, waiting for `want` of them (the log's writer thread runs
        just after each reply)."""
        deadline = time.monotonic() + wait_s
        while True:
            lines = self.path.read_text().splitlines()[mark:] if self.path.exists() else []
            if len(lines) >= want or time.monotonic() > deadline:
                return [json.loads(line) for line in lines]
            time.sleep(0.02)


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (a compile child of old left one behind)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def start_daemon(mc: MiniCluster) -> tuple[float, int]:
    """Seconds from launch until the daemon is ready (model loaded, sockets bound, the control
    socket answering with the model's version), and its pid."""
    t0 = time.perf_counter()
    mc.start_daemon()  # returns once the request socket exists (bound after the model is loaded)
    info = mc.info()
    assert info is not None
    while True:
        status = control_call(info.control_socket, {"cmd": "status"})
        if status.get("ok"):
            break
        time.sleep(0.01)
    ready = time.perf_counter() - t0
    if str(status.get("model_version", "")).startswith("none"):
        sys.exit(f"the daemon serves without a cost model: {status}")
    return ready, info.pids["omnipilot-daemon"]


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


def measure(mc: MiniCluster, info: ClusterInfo, args: argparse.Namespace, state: Path) -> dict[str, Any]:
    env = {**os.environ, **info.env()}
    script = state / "bench.sbatch"
    dlog = DecisionLog(state / "omnipilot" / "decisions.jsonl")
    new = NewJobs()
    ready: list[float] = []
    first: list[float] = []
    first_sbatch: list[float] = []
    children: list[int] = []
    for i in range(args.restarts):
        if i:
            mc.stop_daemon()
        secs, pid = start_daemon(mc)
        ready.append(secs)
        if i == 0:
            control_call(info.control_socket, {"cmd": "mode", "set": "suggest"})
        mark = dlog.lines()
        script.write_text(new.next())
        first_sbatch.append(sbatch(script, env))
        recs = dlog.since(mark, 1)
        if not recs or recs[0].get("outcome") != "advised" or "latency_ms" not in recs[0]:
            sys.exit(f"the first job after start was not advised: {recs[:1]}")
        first.append(float(recs[0]["latency_ms"]))
        children += children_of(pid)

    mark = dlog.lines()
    hook_distinct = submit_many(args.jobs, script, env, new)
    fresh = dlog.since(mark, args.jobs)
    daemon_new = [float(r["latency_ms"]) for r in fresh if "latency_ms" in r]
    score_new = [float(r["score_ms"]) for r in fresh if r.get("score_ms") is not None]
    new_not_advised = sum(1 for r in fresh if r.get("outcome") != "advised")

    script.write_text(RESUBMITTED)
    submit_many(5, script, env)  # the memo learns this job
    mark = dlog.lines()
    hook = submit_many(args.jobs, script, env)
    again = dlog.since(mark, args.jobs)
    daemon_again = [float(r["latency_ms"]) for r in again if "latency_ms" in r]
    not_advised = sum(1 for r in again if r.get("outcome") != "advised")

    # a job the hook gave up on (over the shipped timeout, or the breaker open) says so in its comment
    comments = subprocess.run(["squeue", "-h", "-o", "%k"], env=env, capture_output=True, text=True).stdout
    unavailable = sum("omnipilot: unavailable" in line for line in comments.splitlines())

    conf = info.slurm_conf.read_text()
    restart_ctld(
        mc, "\n".join(line for line in conf.splitlines() if not line.startswith("JobSubmitPlugins")) + "\n"
    )
    submit_many(5, script, env)
    plain = submit_many(args.jobs, script, env)
    restart_ctld(mc, conf)

    def r(x: float, nd: int = 3) -> float:
        return round(x, nd)

    res: dict[str, Any] = {
        "jobs": args.jobs,
        "restarts": args.restarts,
        "score_p50_ms_distinct": r(statistics.median(score_new)) if score_new else None,
        "score_p99_ms_distinct": r(pct(score_new, 0.99)) if score_new else None,
        "daemon_p50_ms_distinct": r(statistics.median(daemon_new)) if daemon_new else None,
        "daemon_p99_ms_distinct": r(pct(daemon_new, 0.99)) if daemon_new else None,
        "daemon_max_ms_distinct": r(max(daemon_new)) if daemon_new else None,
        "daemon_first_ms": r(max(first)),
        "daemon_first_ms_each": [r(x) for x in first],
        "daemon_ready_s": r(max(ready)),
        "daemon_ready_s_each": [r(x) for x in ready],
        "daemon_children_left": len(children),
        "daemon_p50_ms": r(statistics.median(daemon_again)) if daemon_again else None,
        "daemon_p99_ms": r(pct(daemon_again, 0.99)) if daemon_again else None,
        "sbatch_first_ms_each": [r(x, 2) for x in first_sbatch],
        "sbatch_p50_ms_hook_distinct": r(statistics.median(hook_distinct), 2),
        "sbatch_p50_ms_hook": r(statistics.median(hook), 2),
        "sbatch_p99_ms_hook": r(pct(hook, 0.99), 2),
        "sbatch_p50_ms_plain": r(statistics.median(plain), 2),
        "sbatch_p99_ms_plain": r(pct(plain, 0.99), 2),
        "p50_ratio": r(statistics.median(hook) / statistics.median(plain)),
        "hook_added_p50_ms": r(statistics.median(hook) - statistics.median(plain), 2),
        "hook_added_p50_ms_distinct": r(statistics.median(hook_distinct) - statistics.median(plain), 2),
        "not_advised": new_not_advised + not_advised,
        "hook_unavailable": unavailable,
        "load_avg_1m": r(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    res["goals"] = {
        name: res[key] is not None and res[key] <= limit for name, (key, limit) in GOALS.items()
    } | {
        "no_child_process_left": not children,
        "every_job_advised": res["not_advised"] == 0 and unavailable == 0,
    }
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=60)
    ap.add_argument("--restarts", type=int, default=3, help="daemon starts timed (ready, first answer)")
    ap.add_argument("--state-dir", help="keep the cluster here (default: a fresh temporary one)")
    args = ap.parse_args()
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="omnipilot-bench-"))
    # Cold cache: the daemon gets an empty cache folder of its own, and must leave it empty (the
    # shipped systemd unit makes the home directory unwritable: nothing may depend on a cache there).
    cache = Path(tempfile.mkdtemp(prefix="omnipilot-bench-cache-"))
    os.environ["XDG_CACHE_HOME"] = str(cache)
    mc = MiniCluster(state)
    info = mc.up(with_daemon=False)
    try:
        res = measure(mc, info, args, state)
    finally:
        subprocess.run(["scancel", "--user=root"], env={**os.environ, **info.env()})
        if not args.state_dir:
            mc.down()
    res["cache_written"] = any(cache.iterdir())
    shutil.rmtree(cache, ignore_errors=True)
    if not args.state_dir:
        shutil.rmtree(state, ignore_errors=True)
    res["goals"]["cache_left_empty"] = not res["cache_written"]
    print(
        f"daemon start: ready in {res['daemon_ready_s_each']} s, first answer {res['daemon_first_ms_each']} ms, "
        f"{res['daemon_children_left']} child processes left"
    )
    print(
        f"every job new:   score p50 {res['score_p50_ms_distinct']} ms, p99 {res['score_p99_ms_distinct']} ms; "
        f"daemon answer p50 {res['daemon_p50_ms_distinct']} ms, p99 {res['daemon_p99_ms_distinct']} ms"
    )
    print(f"resubmitted job: daemon answer p50 {res['daemon_p50_ms']} ms, p99 {res['daemon_p99_ms']} ms")
    print(
        f"sbatch p50: {res['sbatch_p50_ms_hook']} ms with hook+daemon ({res['sbatch_p50_ms_hook_distinct']} ms "
        f"for new jobs), {res['sbatch_p50_ms_plain']} ms without (ratio {res['p50_ratio']}, hook adds "
        f"{res['hook_added_p50_ms']} ms, {res['hook_added_p50_ms_distinct']} ms for new jobs)"
    )
    print("goals: " + ", ".join(f"{k} {'reached' if v else 'NOT reached'}" for k, v in res["goals"].items()))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
