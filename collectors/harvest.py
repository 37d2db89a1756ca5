"""The cluster-wide harvest: finished jobs from Slurm accounting → `cluster_history.jsonl`.

`sacct -X -P` (allocations only, parsable) is read because its columns are the same on 22.05 and
24.11, unlike `sacct --json`. Users and accounts are stored as salted hashes (the salt is a
site secret kept beside the output, mode 0600), the free-form comment is reduced to the OmniPilot
token it may carry, and the jobstats AdminComment blob is decoded to a few figures. Rows are keyed
by (cluster, job id, submit time), so harvesting an overlapping window again adds nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal

import structlog
from pydantic import BaseModel

from omnipilot.collectors.jobstats import JobstatsSummary, decode

log = structlog.get_logger("omnipilot.harvest")

# Comment last: it is free text and may hold the delimiter, so it takes the rest of the line
FIELDS: tuple[str, ...] = (
    "Cluster",
    "JobIDRaw",
    "User",
    "UID",
    "Account",
    "Partition",
    "State",
    "ExitCode",
    "Submit",
    "Start",
    "End",
    "ElapsedRaw",
    "TimelimitRaw",
    "AllocTRES",
    "ReqTRES",
    "NNodes",
    "JobName",
    "AdminComment",
    "Comment",
)
TERMINAL = (
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
)
_STATE_CODES = "CA,CD,F,TO,OOM,NF,PR,BF,DL"
_TOKEN_RE = re.compile(r"omnipilot\[(\w+)\]")
_GPU_TRES_RE = re.compile(r"gres/gpu(?::(?P<type>[^=,]+))?=(?P<n>\d+)")

LaunchOutcome = Literal["launched", "failed_launch", "not_started", "unknown"]


class HarvestError(RuntimeError):
    pass


class ClusterJobRow(BaseModel):
    """One finished job of any user, without personal data."""

    schema_version: int = 1
    kind: Literal["cluster_job"] = "cluster_job"
    key: str
    cluster: str
    job_id: str
    user_hash: str
    account_hash: str
    partition: str
    state: str
    cancelled_by_owner: bool | None = None
    exit_code: int | None = None
    signal: int | None = None
    submit: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    elapsed_s: int
    wait_s: int | None = None
    timelimit_min: int | None = None
    gpu_type: str | None = None
    gpu_kind: str | None = None
    gpus: int = 0
    nodes: int = 1
    serving: bool = False
    job_token: str | None = None
    jobstats: JobstatsSummary


def salted_hash(salt: bytes, value: str) -> str:
    return hashlib.sha256(salt + b"\0" + value.encode()).hexdigest()[:16]


def load_salt(path: Path) -> bytes:
    """The site's salt; created (random, mode 0600) on first use. Lose it and hashes change."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip().encode()


def sacct_command(since: str, until: str | None = None) -> list[str]:
    """Jobs that *ended* in the window. `--state` matters: without it sacct leaves out jobs that never
    became eligible (held, then cancelled while pending), which are demand all the same."""
    return [
        "sacct",
        "-X",
        "-P",
        "-n",
        "-a",
        "-S",
        since,
        "-E",
        until or "now",
        "-s",
        _STATE_CODES,
        "-o",
        ",".join(FIELDS),
    ]


def run_sacct(since: str, until: str | None = None, env: dict[str, str] | None = None) -> str:
    cmd = sacct_command(since, until)
    try:
        res = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300
        )
    except FileNotFoundError as exc:
        raise HarvestError("sacct is not installed: install slurm-client") from exc
    if res.returncode != 0:
        raise HarvestError(
            f"sacct failed ({res.returncode}): {res.stderr.strip()[:300]} "
            "(is accounting configured: AccountingStorageType=accounting_storage/slurmdbd?)"
        )
    return res.stdout


def parse_sacct(text: str) -> list[dict[str, str]]:
    """`sacct -P` lines → one dict per job (a comment holding '|' or a newline stays whole)."""
    records: list[dict[str, str]] = []
    n = len(FIELDS)
    for line in text.splitlines():
        parts = line.split("|", n - 1)
        if len(parts) < n:
            if records:  # a newline inside the previous job's comment
                records[-1]["Comment"] += "\n" + line
            continue
        records.append(dict(zip(FIELDS, parts, strict=True)))
    return records


def _time(text: str) -> datetime | None:
    if not text or text in ("Unknown", "None"):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_gpu_tres(tres: str) -> tuple[str | None, int]:
    """'billing=1,cpu=1,gres/gpu:h100=2,gres/gpu=2' → ('h100', 2); typeless 'gres/gpu=4' → (None, 4)."""
    gtype: str | None = None
    typed = untyped = 0
    for m in _GPU_TRES_RE.finditer(tres or ""):
        if m.group("type"):
            gtype = gtype or m.group("type")
            typed += int(m.group("n"))
        else:
            untyped += int(m.group("n"))
    return gtype, untyped or typed


def to_row(rec: dict[str, str], salt: bytes, kind_of: dict[str, str] | None = None) -> ClusterJobRow:
    state_text = rec["State"].strip()
    state = state_text.split()[0] if state_text else "UNKNOWN"
    by = re.match(r"CANCELLED by (\d+)", state_text)
    code, _, sig = rec["ExitCode"].partition(":")
    gtype, gpus = parse_gpu_tres(rec["AllocTRES"])
    if gpus == 0:  # never allocated (cancelled while pending): what was asked
        gtype, gpus = parse_gpu_tres(rec["ReqTRES"])
    submit, start, end = _time(rec["Submit"]), _time(rec["Start"]), _time(rec["End"])
    if not rec["AllocTRES"].strip():
        start = None  # cancelled while pending: sacct shows its end time as Start, but it never ran
    comment = rec["Comment"]
    token = _TOKEN_RE.search(comment)
    cluster = rec["Cluster"] or "unknown"
    return ClusterJobRow(
        key=f"{cluster}:{rec['JobIDRaw']}:{rec['Submit']}",
        cluster=cluster,
        job_id=rec["JobIDRaw"],
        user_hash=salted_hash(salt, rec["User"]),
        account_hash=salted_hash(salt, rec["Account"]),
        partition=rec["Partition"],
        state=state,
        cancelled_by_owner=(by.group(1) == rec["UID"]) if by else None,
        exit_code=_int(code),
        signal=_int(sig),
        submit=submit,
        start=start,
        end=end,
        elapsed_s=_int(rec["ElapsedRaw"]) or 0,
        wait_s=int((start - submit).total_seconds()) if start and submit else None,
        timelimit_min=_int(rec["TimelimitRaw"]),
        gpu_type=gtype,
        gpu_kind=(kind_of or {}).get(gtype or "", gtype),
        gpus=gpus,
        nodes=_int(rec["NNodes"]) or 1,
        serving=bool(token) or "vllm" in (rec["JobName"] + comment).lower(),
        job_token=token.group(1) if token else None,
        jobstats=decode(rec["AdminComment"]),
    )


class ClusterHistory:
    """Append-only `cluster_history.jsonl`; appends are idempotent by row key, under an flock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self) -> list[ClusterJobRow]:
        if not self.path.exists():
            return []
        out = []
        for i, line in enumerate(self.path.read_text().splitlines(), start=1):
            if line.strip():
                try:
                    out.append(ClusterJobRow.model_validate_json(line))
                except ValueError as exc:
                    log.warning("cluster_history_bad_line", path=str(self.path), line=i, error=str(exc)[:200])
        return out

    def append(self, rows: Iterable[ClusterJobRow]) -> tuple[int, int]:
        """→ (added, already present)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            keys = {_key_of(line) for line in fh.read().splitlines()}
            new: list[ClusterJobRow] = []
            present = 0
            for r in rows:
                if r.key in keys:
                    present += 1
                    continue
                keys.add(r.key)
                new.append(r)
            if new:
                fh.write("".join(r.model_dump_json() + "\n" for r in new))
                fh.flush()
                os.fsync(fh.fileno())
        return len(new), present


def _key_of(line: str) -> str | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None  # a torn line: its job is harvested again
    return data.get("key") if isinstance(data, dict) else None


class HarvestResult(BaseModel):
    seen: int
    finished: int
    added: int
    already_present: int
    skipped_running: int
    jobstats_decoded: int
    output: str


def harvest(
    since: str,
    out: Path,
    salt_path: Path,
    *,
    until: str | None = None,
    env: dict[str, str] | None = None,
    kind_of: dict[str, str] | None = None,
    sacct_text: str | None = None,
) -> HarvestResult:
    text = sacct_text if sacct_text is not None else run_sacct(since, until, env)
    salt = load_salt(salt_path)
    records = parse_sacct(text)
    finished = [r for r in records if r["State"].split(" ")[0] in TERMINAL]
    rows = [to_row(r, salt, kind_of) for r in finished]
    added, present = ClusterHistory(out).append(rows)
    result = HarvestResult(
        seen=len(records),
        finished=len(finished),
        added=added,
        already_present=present,
        skipped_running=len(records) - len(finished),
        jobstats_decoded=sum(1 for r in rows if r.jobstats.status == "ok"),
        output=str(out),
    )
    log.info("harvested", **result.model_dump())
    return result
