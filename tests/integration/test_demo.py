"""`omnipilot demo` as a user runs it (README's first command), and the samples it checks.

The demo test starts its own mini cluster through the demo itself, in a fresh state directory, with
every cache pointed at an empty directory (a new machine, or the shipped systemd unit, has none), and
brings that cluster down afterwards: the demo leaves its cluster running by design.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnipilot.slurm.minicluster.cluster import ClusterInfo, MiniCluster
from omnipilot.slurm.minicluster.demo import (
    EXPECTATIONS,
    SAMPLES,
    Submission,
    demo_result,
    expected_outcome,
    outcome_of,
)

from .conftest import _missing_prereq

STANDIN = SAMPLES.parent / "standin"
# How long the demo may take as a whole: cluster start (up to a minute on a loaded 2-core machine),
# seven submissions and up to a minute for the jobs to finish, with room to spare.
DEMO_TIMEOUT_S = 300


def test_every_sample_states_its_expected_outcome() -> None:
    samples = sorted(SAMPLES.glob("*.sbatch"))
    assert samples
    outcomes = {s.name: expected_outcome(s) for s in samples}  # SampleError names a bad header
    assert set(outcomes.values()) <= set(EXPECTATIONS)
    assert "advice" in outcomes.values()


def test_samples_and_standins_call_python3_only() -> None:
    """Debian 13 has no `python`, only `python3`: no sample or shell stand-in runs the former."""
    bare = re.compile(r"(?:^|[\s;&|(`/])python(?:\s|$)")
    shell = [p for p in STANDIN.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")]
    for path in [*SAMPLES.glob("*.sbatch"), *shell]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line if line.startswith("#!") else line.split("#", 1)[0]
            assert not bare.search(code), f"{path}:{n} calls `python`: {line}"


@pytest.mark.parametrize(
    ("comment", "message", "outcome"),
    [
        ("my note; omnipilot[ab12cd34] suggest: h100x1 fp8 tp1 ~14.1k tok/s", "", "advice"),
        ("omnipilot[ab12cd34] enforce: h100x1 fp8 tp1 ~14.1k tok/s", "", "advice"),
        (
            "omnipilot[ab12cd34] cannot advise: model 'x' is not in the catalog",
            "sbatch: omnipilot: cannot advise, job left unchanged: add `#OMNIPILOT model=<hf-name>`",
            "hint",
        ),
        ("omnipilot[ab12cd34] no fit: m does not fit on any single node this job may use", "", "no-fit"),
        ("", "", "untouched"),
        ("my note", "", "untouched"),
        ("omnipilot: unavailable (timeout)", "", "unavailable (timeout)"),
        ("omnipilot: unavailable (breaker open)", "", "unavailable (breaker open)"),
    ],
)
def test_outcome_of_reads_what_a_submission_got(comment: str, message: str, outcome: str) -> None:
    assert outcome_of(comment, message) == outcome


def test_demo_json_document_has_each_expectation_and_the_verdict(tmp_path: Path) -> None:
    """What `omnipilot demo --json` prints, for a passing and a failing run (the test below runs it)."""
    info = ClusterInfo(
        state_dir=tmp_path, slurm_conf=tmp_path / "etc" / "slurm.conf", ctld_port=6817, node_ports={"a100-1": 6818},
        endpoint=f"ipc://{tmp_path}/run/omnipilot.sock", control_socket=tmp_path / "run" / "c.sock",
        omnipilot_config=tmp_path / "etc" / "omnipilot.toml", slurm_version="22.05.8",
    )  # fmt: skip
    advised = Submission(sample="01.sbatch", mode="suggest", expected="advice", got="advice", sbatch_ms=7.25,
                         job_id="4", comment="omnipilot[ab12cd34] suggest: h100x1", sbatch_said=["omnipilot: ..."])  # fmt: skip
    late = Submission(sample="02.sbatch", mode="suggest", expected="hint", got="unavailable (timeout)", sbatch_ms=61.0)

    ok = json.loads(demo_result([advised], info, mode="suggest", cluster_running=True).model_dump_json())
    assert set(ok) == {"ok", "verdict", "slurm_version", "mode", "state_dir", "cluster_running", "counts", "submissions"}
    assert ok["ok"] is True and ok["verdict"].startswith("omnipilot demo: OK") and ok["counts"] == {"advice": 1}
    assert ok["state_dir"] == str(tmp_path) and ok["slurm_version"] == "22.05.8"
    row = ok["submissions"][0]
    assert {k: row[k] for k in ("sample", "expected", "got", "ok", "job_id")} == {
        "sample": "01.sbatch", "expected": "advice", "got": "advice", "ok": True, "job_id": "4"
    }  # fmt: skip
    bad = json.loads(demo_result([advised, late], info, mode="suggest", cluster_running=False).model_dump_json())
    assert bad["ok"] is False and bad["cluster_running"] is False
    assert bad["verdict"].startswith("omnipilot demo: FAILED, 1 of 2") and "02.sbatch" in bad["verdict"]
    assert [s["ok"] for s in bad["submissions"]] == [True, False] and bad["submissions"][1]["job_id"] is None


def _processes_carrying(marker: str) -> dict[int, str]:
    """pid -> name of every process whose environment holds `marker` (all that the demo started
    inherit the test's environment), except munged, which every mini cluster on the host shares."""
    found: dict[int, str] = {}
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in env.read_bytes():
                name = (env.parent / "comm").read_text().strip()
                if name != "munged" and int(env.parent.name) != os.getpid():
                    found[int(env.parent.name)] = name
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.mark.slurm
def test_demo_as_a_user_runs_it_from_a_fresh_state_and_cold_cache(tmp_path: Path) -> None:
    reason = _missing_prereq()
    if reason:
        pytest.skip(reason)
    exe = Path(sys.executable).with_name("omnipilot")  # .venv/bin/omnipilot, as README runs it
    assert exe.exists(), f"{exe} is missing: run install.sh"
    state, cache = tmp_path / "cluster", tmp_path / "cache"
    cache.mkdir()
    # a user's shell: nothing left from a test cluster or a site; the demo's own default state dir
    # (<checkout>/var/cluster, where a user's demo cluster may be running) is moved aside by the
    # variable `omnipilot demo` reads for it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNIPILOT_", "SLURM_"))}
    env |= {"OMNIPILOT_CLUSTER_DIR": str(state), "XDG_CACHE_HOME": str(cache)}
    env["OMNIPILOT_CACHE_DIR"] = str(cache / "omnipilot")  # in case a site's profile sets one
    try:
        t0 = time.monotonic()
        res = subprocess.run(
            [str(exe), "demo"], capture_output=True, text=True, env=env, timeout=DEMO_TIMEOUT_S,
            cwd=SAMPLES.parents[1],
        )
        out, rc = res.stdout + res.stderr, res.returncode
        tail = "\n".join(out.splitlines()[-40:])
        took = f"the demo ran {time.monotonic() - t0:.0f} s"
        assert rc == 0, f"exit {rc}, {took}:\n{tail}"
        assert "unavailable" not in out, f"{took}:\n{tail}"
        assert "Traceback" not in out and "PosixPath(" not in out, tail  # a user reads this output
        assert res.stdout.strip().splitlines()[-1].startswith("omnipilot demo: OK"), tail
        _check_jobs_in(state, env)
        # again with --json on the cluster the demo left running (seconds): stdout is one document,
        # the narrative goes to stderr
        res = subprocess.run(
            [str(exe), "demo", "--json"], capture_output=True, text=True, env=env, timeout=DEMO_TIMEOUT_S,
            cwd=SAMPLES.parents[1],
        )
        assert res.returncode == 0, res.stderr[-3000:]
        doc = json.loads(res.stdout)
        assert doc["ok"] is True and doc["verdict"].startswith("omnipilot demo: OK"), doc["verdict"]
        assert doc["cluster_running"] is True and doc["state_dir"] == str(state.resolve())
        samples = {s.name: expected_outcome(s) for s in SAMPLES.glob("*.sbatch")}
        assert {r["sample"]: r["expected"] for r in doc["submissions"]} == samples
        assert all(r["ok"] and r["got"] == r["expected"] and r["job_id"] for r in doc["submissions"]), doc
        assert "== OmniPilot demo" in res.stderr
    finally:
        MiniCluster(state).down()
        left = _stop_leftovers(str(cache))
        if left:  # shown with a failure above too
            print(f"stopped what outlived `omnipilot cluster down`: {left}")
    assert not left, f"still running after `omnipilot cluster down`: {left}"


def _check_jobs_in(state: Path, env: dict[str, str]) -> None:
    """What the jobs carry, read from the demo's own cluster rather than from the demo's verdict."""
    res = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%j|%k"],
        capture_output=True,
        text=True,
        env={**env, "SLURM_CONF": str(state / "etc" / "slurm.conf")},
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    comments: dict[str, list[str]] = {}
    for line in res.stdout.splitlines():
        name, _, comment = line.partition("|")
        comments.setdefault(name, []).append("" if comment == "(null)" else comment)
    for sample in sorted(SAMPLES.glob("*.sbatch")):
        job_name = re.search(r"^#SBATCH --job-name=(\S+)", sample.read_text(), re.MULTILINE)
        assert job_name, f"{sample.name} has no --job-name to find its job by"
        got = comments.get(job_name.group(1), [])
        assert got, f"no job {job_name.group(1)} ({sample.name}) in the demo's cluster: {res.stdout}"
        assert not any("unavailable" in c for c in got), (sample.name, got)
        if expected_outcome(sample) == "advice":
            assert any(" suggest: " in c for c in got), (sample.name, got)


def _stop_leftovers(marker: str) -> dict[int, str]:
    """The processes the demo started that outlive its cluster (the daemon and any child of it
    included), stopped here so that a failing run leaves nothing behind; the test then fails."""
    deadline = time.monotonic() + 15
    left = _processes_carrying(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)  # slurmd's job steps and a terminating daemon take a moment
        left = _processes_carrying(marker)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left
