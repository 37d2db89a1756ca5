"""sacct parsing, jobstats decoding, privacy, idempotent appends and the launch-success rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from omnipilot.collectors import jobstats
from omnipilot.collectors.harvest import FIELDS, ClusterHistory, harvest, parse_gpu_tres, parse_sacct, to_row
from omnipilot.collectors.launch_stats import demand_shares, launch_counts, launch_outcome

SUMMARY = {"gpus": 2, "total_time": 1000, "nodes": {"della-k1g1": {
    "cpus": 4, "total_time": 2000.0, "used_memory": 10, "total_memory": 40,
    "gpu_total_memory": {"0": 100, "1": 100}, "gpu_used_memory": {"0": 80, "1": 40},
    "gpu_utilization": {"0": 90.0, "1": 70.0}}}}  # fmt: skip


def _line(
    jobid: str,
    user: str,
    state: str,
    exit_code: str,
    alloc: str,
    start: str = "2026-01-01T10:00:05",
    elapsed: str = "30",
    admin: str = "",
    comment: str = "",
    uid: str = "1000",
) -> str:
    vals = {"Cluster": "della", "JobIDRaw": jobid, "User": user, "UID": uid, "Account": "physics",
            "Partition": "gpu", "State": state, "ExitCode": exit_code, "Submit": "2026-01-01T10:00:00",
            "Start": start, "End": "2026-01-01T10:10:00", "ElapsedRaw": elapsed, "TimelimitRaw": "60",
            "AllocTRES": alloc, "ReqTRES": "cpu=1,gres/gpu:h100=1,gres/gpu=1", "NNodes": "1", "JobName": "job",
            "AdminComment": admin, "Comment": comment}  # fmt: skip
    return "|".join(vals[f] for f in FIELDS)


SACCT = "\n".join([
    _line("11", "alice", "COMPLETED", "0:0", "cpu=4,gres/gpu:h100=2,gres/gpu=2,node=1", elapsed="900",
          admin=jobstats.encode(SUMMARY), comment="notes | with a pipe; omnipilot[ab12cd] suggest"),
    _line("12", "bob", "FAILED", "3:0", "cpu=4,gres/gpu:h100=2,gres/gpu=2,node=1", admin="JS1:Short"),
    _line("13", "alice", "CANCELLED by 1000", "0:15", "cpu=4,gres/gpu:a100=1,gres/gpu=1,node=1"),
    _line("14", "carol", "CANCELLED by 0", "0:15", "cpu=4,gres/gpu:a100=1,gres/gpu=1,node=1", uid="1001"),
    _line("15", "dave", "CANCELLED by 1000", "0:0", "", start="2026-01-01T10:10:00", elapsed="0"),
    _line("16", "erin", "RUNNING", "0:0", "cpu=4,gres/gpu:h100=1,gres/gpu=1,node=1"),
    _line("17", "bob", "OUT_OF_MEMORY", "0:125", "cpu=4,gres/gpu:h100=2,gres/gpu=2,node=1", elapsed="400"),
])  # fmt: skip
KINDS = {"h100": "H100-80GB", "a100": "A100-40GB"}


def test_jobstats_round_trip_and_markers() -> None:
    s = jobstats.decode(jobstats.encode(SUMMARY))
    assert s.status == "ok" and s.gpus == 2 and s.gpu_util_mean_pct == 80.0
    assert s.gpu_mem_used_peak_frac == 0.8 and s.cpu_efficiency == 0.5 and s.cpu_mem_used_frac == 0.25
    assert jobstats.decode("JS1:Short").status == "short" and jobstats.decode("JS1:None").status == "none"
    assert jobstats.decode("").status == "absent" and jobstats.decode("admin note").status == "absent"
    bad = jobstats.decode("JS1:!!notbase64!!")
    assert bad.status == "undecodable" and bad.error


def test_sacct_lines_parse_with_pipes_and_newlines_in_comments() -> None:
    recs = parse_sacct(SACCT + "\nsecond line of job 17's comment")
    assert len(recs) == 7
    assert recs[0]["Comment"] == "notes | with a pipe; omnipilot[ab12cd] suggest"
    assert recs[-1]["Comment"].endswith("second line of job 17's comment")
    assert parse_gpu_tres("billing=1,gres/gpu:h100=2,gres/gpu=2") == ("h100", 2)
    assert parse_gpu_tres("cpu=1,gres/gpu=4") == (None, 4) and parse_gpu_tres("cpu=1") == (None, 0)


def test_rows_hash_users_and_keep_no_comment_text() -> None:
    recs = parse_sacct(SACCT)
    a = to_row(recs[0], b"salt-1", KINDS)
    assert a.gpu_kind == "H100-80GB" and a.gpus == 2 and a.job_token == "ab12cd" and a.serving
    assert a.jobstats.status == "ok" and a.wait_s == 5
    assert a.user_hash == to_row(recs[2], b"salt-1", KINDS).user_hash  # same user, same hash
    assert a.user_hash != to_row(recs[0], b"salt-2", KINDS).user_hash  # the salt matters
    text = a.model_dump_json()
    assert "alice" not in text and "physics" not in text and "pipe" not in text
    pending = to_row(recs[4], b"s", KINDS)
    assert pending.start is None and pending.gpus == 1  # cancelled while pending: what it asked for


def test_launch_rule_follows_decisions_section_7() -> None:
    rows = {r.job_id: r for r in (to_row(x, b"s", KINDS) for x in parse_sacct(SACCT))}
    assert launch_outcome(rows["11"]) == "launched"
    assert launch_outcome(rows["12"]) == "failed_launch"
    assert launch_outcome(rows["13"]) == "launched"  # cancelled by its owner
    assert launch_outcome(rows["14"]) == "unknown"  # cancelled early by someone else (an admin)
    assert launch_outcome(rows["15"]) == "not_started"
    assert launch_outcome(rows["17"]) == "launched"  # OOM, but after serving past min_serving_s
    assert launch_outcome(rows["17"], min_serving_s=600) == "failed_launch"
    counts = launch_counts(rows.values())
    assert counts == {("A100-40GB", 1): (1, 0), ("H100-80GB", 2): (2, 1)}  # 16 still runs: no verdict
    assert launch_counts(rows.values(), ready_by_token={"ab12cd": False})[("H100-80GB", 2)] == (1, 2)
    assert launch_counts(rows.values(), serving_only=True) == {("H100-80GB", 2): (1, 0)}
    shares = demand_shares(rows.values())
    assert sum(shares.values()) == pytest.approx(1.0) and shares[("H100-80GB", 2)] == pytest.approx(3 / 7)


def test_harvest_is_idempotent_and_skips_unfinished_jobs(tmp_path: Path) -> None:
    out, salt = tmp_path / "cluster_history.jsonl", tmp_path / "harvest.salt"
    first = harvest("2026-01-01", out, salt, kind_of=KINDS, sacct_text=SACCT)
    assert (first.seen, first.finished, first.added, first.skipped_running) == (7, 6, 6, 1)
    assert first.jobstats_decoded == 1 and (salt.stat().st_mode & 0o777) == 0o600
    again = harvest("2026-01-01", out, salt, kind_of=KINDS, sacct_text=SACCT)
    assert again.added == 0 and again.already_present == 6
    assert len(out.read_text().splitlines()) == 6 and len(ClusterHistory(out).rows()) == 6
    with out.open("a") as fh:
        fh.write('{"torn": ')  # a crash mid-write: that line is ignored, the others still count
    assert len(ClusterHistory(out).rows()) == 6


def test_harvest_cli_names_a_bad_date(tmp_path: Path) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "omnipilot.cli",
            "harvest",
            "--since",
            "last tuesday",
            "--out",
            str(tmp_path / "h.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "--since 'last tuesday' is not a date" in res.stderr


def test_launch_stats_cli_reads_the_harvest(tmp_path: Path) -> None:
    out = tmp_path / "cluster_history.jsonl"
    harvest("2026-01-01", out, tmp_path / "salt", kind_of=KINDS, sacct_text=SACCT)
    res = subprocess.run(
        [sys.executable, "-m", "omnipilot.cli", "launch-stats", "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    table = {(c["gpu"], c["gpus"]): c for c in json.loads(res.stdout)["configurations"]}
    assert table[("H100-80GB", 2)]["success_rate"] == pytest.approx(2 / 3, abs=1e-3)
