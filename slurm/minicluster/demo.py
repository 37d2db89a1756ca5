"""`omnipilot demo`: the main job on the bundled defaults, end to end with real Slurm.

Brings up the mini cluster and the daemon, submits the sample vLLM jobs in slurm/minicluster/samples/ with
real sbatch, and prints for each what the user sees (sbatch's message) and what the job carries
(its comment). Jobs run a stand-in for vLLM (slurm/minicluster/standin/vllm), since no machine here has GPUs.

Each sample says in its header what it should get (`# expect: OUTCOME`, one of EXPECTATIONS). The
demo checks every submission against it and exits non-zero, naming the sample and what it got, on
any mismatch and on any "unavailable" (the hook failed open: the daemon did not answer in time).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, computed_field

from omnipilot.daemon.control import ControlError, control_call
from omnipilot.paths import packaged
from omnipilot.slurm.minicluster.cluster import ClusterError, ClusterInfo, MiniCluster

SAMPLES = packaged("omnipilot.slurm.minicluster", "samples")
STANDIN_BIN = packaged("omnipilot.slurm.minicluster", "standin")
STANDIN_PYLIB = STANDIN_BIN / "pylib"

# What a sample's `# expect:` header may say (README.md, "The demo"). Any "unavailable" is a failure
# whatever the sample expects: it means the job went through without the daemon's answer.
EXPECTATIONS: dict[str, str] = {
    "advice": "an advised arm in the job's comment (suggest, or enforce in enforce mode)",
    "hint": "no advice for an unknown model; the job is left unchanged and sbatch says how to tag it",
    "no-fit": "no single-node arm fits; the job is left unchanged and the advice says so",
    "untouched": "not a serving job: no OmniPilot text in the comment or on sbatch's output",
}
_EXPECT = re.compile(r"^#\s*expect:\s*(\S+)", re.MULTILINE)
_TAGGED = re.compile(r"omnipilot\[\w+\] (?P<what>[a-z ]+): ")
_UNAVAILABLE = re.compile(r"omnipilot: unavailable \(([^)]*)\)")


class SampleError(ValueError):
    """A sample without a valid `# expect:` header."""


def expected_outcome(script: Path) -> str:
    """The outcome a sample's header states; SampleError when it states none or an unknown one."""
    found = _EXPECT.findall(script.read_text())
    if len(found) != 1:
        raise SampleError(
            f"{script.name}: needs exactly one `# expect: OUTCOME` line in its header "
            f"(OUTCOME one of {', '.join(EXPECTATIONS)}), found {len(found)}"
        )
    if found[0] not in EXPECTATIONS:
        raise SampleError(f"{script.name}: `# expect: {found[0]}` is not one of {', '.join(EXPECTATIONS)}")
    return str(found[0])


def outcome_of(comment: str, message: str) -> str:
    """What a submission got, in the words of the expect headers (or a short description of
    anything else, e.g. "unavailable (timeout)"), from the job's comment and sbatch's message."""
    unavailable = _UNAVAILABLE.search(comment)
    if unavailable:
        return f"unavailable ({unavailable.group(1)})"
    tagged = _TAGGED.search(comment)
    if tagged:
        what = tagged.group("what")
        if what in ("suggest", "enforce"):
            return "advice"
        if what == "cannot advise":
            # the sample's point is that the user learns how to tag the job
            return "hint" if "#OMNIPILOT" in message else "no advice and no tagging hint"
        if what == "no fit":
            return "no-fit"
        return f"other ({comment[tagged.start():][:80]})"
    if "omnipilot" not in comment.lower() and "omnipilot" not in message.lower():
        return "untouched"
    return f"other ({(comment or message.strip().splitlines()[0])[:80]})"


class Submission(BaseModel):
    """One sbatch of a sample: what its header expects and what it got (a row of `demo --json`)."""

    sample: str
    mode: str
    expected: str
    got: str
    sbatch_ms: float
    job_id: str | None = None  # None when sbatch refused the job
    comment: str = ""  # the job's comment, where OmniPilot writes its advice
    sbatch_said: list[str] = []  # sbatch's messages to the user, without the "sbatch: " prefix
    job_state: str = ""  # once the demo stopped waiting for the jobs
    nodes: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.got == self.expected

    def describe(self) -> str:
        where = f"{self.sample} ({self.mode})"
        if self.got.startswith("unavailable"):  # the hook gave up: how long sbatch took says why
            return f"{where}: expected {self.expected}, got {self.got} after {self.sbatch_ms:.0f} ms"
        return f"{where}: expected {self.expected}, got {self.got}"


class DemoResult(BaseModel):
    """What `omnipilot demo --json` prints: every submission and the overall verdict."""

    ok: bool
    verdict: str  # the demo's last line, e.g. "omnipilot demo: OK, all 8 submissions as their samples expect (...)"
    slurm_version: str
    mode: str
    state_dir: Path
    cluster_running: bool  # False with --down
    counts: dict[str, int]  # outcome -> submissions that got it
    submissions: list[Submission]


def demo_result(
    results: list[Submission], info: ClusterInfo, *, mode: str, cluster_running: bool
) -> DemoResult:
    """The demo's verdict on its submissions: OK when every one got what its sample's header expects."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.got] = counts.get(r.got, 0) + 1
    bad = [r for r in results if not r.ok]
    if bad:
        verdict = (
            f"omnipilot demo: FAILED, {len(bad)} of {len(results)} submissions not as their sample expects: "
            + "; ".join(r.describe() for r in bad)
        )
    else:
        verdict = (
            f"omnipilot demo: OK, all {len(results)} submissions as their samples expect ("
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + ")"
        )
    return DemoResult(
        ok=not bad, verdict=verdict, slurm_version=info.slurm_version, mode=mode,
        state_dir=info.state_dir, cluster_running=cluster_running, counts=counts, submissions=results,
    )  # fmt: skip


def _squeue(jobid: str, fmt: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", jobid, "-o", fmt], capture_output=True, text=True, env=env
    ).stdout.strip()
    return "" if out == "(null)" else out


def run_demo(
    state_dir: Path, *, mode: str = "suggest", stop_after: bool = False, json_out: bool = False
) -> tuple[int, DemoResult | None]:
    """Run the demo; its narrative goes to stdout, or to stderr with `json_out` (then the caller
    prints the result). The result is None when the demo could not run at all (named in one line)."""
    out: TextIO = sys.stderr if json_out else sys.stdout

    def say(*text: str) -> None:
        print(*text, file=out)

    samples = sorted(SAMPLES.glob("*.sbatch"))
    try:
        expected = {s: expected_outcome(s) for s in samples}
    except SampleError as exc:
        say(f"omnipilot demo: {exc}")
        return 1, None
    cluster = MiniCluster(state_dir)
    try:
        info = cluster.up()
        cluster.stop_daemon()  # the demo shows what this checkout's code and model answer
        cluster.start_daemon()
        control_call(info.control_socket, {"cmd": "mode", "set": mode})
    except (ClusterError, ControlError) as exc:
        say(f"omnipilot demo: {exc}")
        return 1, None
    env = {
        **os.environ,
        **info.env(),
        "PATH": f"{STANDIN_BIN}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(STANDIN_PYLIB),
    }
    say(f"== OmniPilot demo: Slurm {info.slurm_version}, mode {mode}, cluster in {info.state_dir}")
    say(subprocess.run(["sinfo", "-o", "%P %D %G %t"], capture_output=True, text=True, env=env).stdout)
    workdir = state_dir / "demo-jobs"
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[Submission] = []
    runs = [(s, mode) for s in samples]
    if mode == "suggest":  # then the first sample once more, as an admin who turned enforce on sees it
        runs.append((samples[0], "enforce"))
    try:
        for script, run_mode in runs:
            if run_mode != mode:
                control_call(info.control_socket, {"cmd": "mode", "set": run_mode})
                say(f"\n== mode {run_mode}: the same job again")
            t0 = time.perf_counter()
            res = subprocess.run(
                ["sbatch", "--parsable", "-D", str(workdir), "-o", f"{workdir}/%j.out", str(script)],
                capture_output=True,
                text=True,
                env=env,
            )
            ms = (time.perf_counter() - t0) * 1000
            said = [line.removeprefix("sbatch: ") for line in res.stderr.strip().splitlines()]
            say(f"-- {script.name}  (sbatch took {ms:.0f} ms; expect {expected[script]})")
            for line in said:
                say(f"   sbatch says: {line}")
            jobid: str | None = None
            comment = ""
            if res.returncode != 0:
                say(f"   sbatch failed (exit {res.returncode})")
                got = f"sbatch failed (exit {res.returncode})"
            else:
                jobid = res.stdout.strip().split(";")[0]
                comment = _squeue(jobid, "%k", env)
                say(f"   job {jobid} comment: {comment or '(none)'}")
                got = outcome_of(comment, res.stderr)
            sub = Submission(sample=script.name, mode=run_mode, expected=expected[script], got=got,
                             sbatch_ms=round(ms, 1), job_id=jobid, comment=comment, sbatch_said=said)  # fmt: skip
            results.append(sub)
            if not sub.ok:
                say(f"   NOT AS EXPECTED: {sub.describe()}")
        control_call(info.control_socket, {"cmd": "mode", "set": mode})
    except ControlError as exc:
        say(f"omnipilot demo: {exc}")
        return 1, None
    say("\n== where the jobs ran (stand-in vLLM output)")
    jobs = [(r, r.job_id) for r in results if r.job_id is not None]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        _squeue(jobid, "%T", env) in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING") for _, jobid in jobs
    ):
        time.sleep(0.5)
    for r, jobid in jobs:
        r.job_state = _squeue(jobid, "%T", env)
        r.nodes = _squeue(jobid, "%N", env)
        say(f"-- job {jobid} {r.sample} ({r.mode}): {r.job_state} on {r.nodes}")
        job_out = workdir / f"{jobid}.out"
        if job_out.exists():
            for line in job_out.read_text().strip().splitlines()[:4]:
                say(f"   {line}")
    if stop_after:
        cluster.down()
    else:  # the cluster keeps running: how to look further
        say("\nTry: omnipilot explain --config " + str(info.omnipilot_config) + " JOBID   (with the cluster env:)")
        say(f'     eval "$(omnipilot cluster env --state-dir {info.state_dir})"')
    say()
    result = demo_result(results, info, mode=mode, cluster_running=not stop_after)
    say(result.verdict)  # last, where a user looks first; with --json the document carries it too
    return (0 if result.ok else 1), result
