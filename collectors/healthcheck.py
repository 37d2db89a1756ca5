"""GPU health of this node, the Slurm way: run as slurmd's HealthCheckProgram (or from LBNL NHC), it
drains the node when a GPU is faulty and resumes it when healthy again, but only a drain it set.

Faults (../shared/GPU_NOTES.md):
- NVML remapped rows pending (a reset is needed) or failed (the row could not be remapped);
- NVML uncorrectable ECC errors (volatile count, since the last driver load);
- critical XID errors the kernel log shows since the last run. A periodic one-shot program misses
  NVML's XID events between its runs, so the driver's `NVRM: Xid` lines are read instead, from
  where the previous run stopped (a small state file). An XID fault stays until the node reboots
  or an admin resumes the node (a resume says the admin has dealt with it).

The drain reason starts with `omnipilot-healthcheck:` (so only this program's drains are cleared)
and names the fault in words the daemon's state layer reads as a GPU fault (xid, row remap, ECC).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel

log = structlog.get_logger("omnipilot.healthcheck")

REASON_PREFIX = "omnipilot-healthcheck:"
# XIDs that mean the GPU (not the job) is at fault: NVIDIA's XID catalogue marks these as hardware,
# memory, NVLink, bus or firmware errors needing a reset or a reboot. Application XIDs (13, 31, 43,
# 45, ...) are reported but never drain a node.
CRITICAL_XIDS = frozenset({48, 61, 62, 63, 64, 74, 79, 92, 94, 95, 119, 120, 123, 140})
# `dmesg` lines: "[12345.678901] NVRM: Xid (PCI:0000:18:00): 79, pid=..., GPU has fallen off the bus."
# /dev/kmsg records: "3,1234,12345678901,-;NVRM: Xid (PCI:0000:18:00): 79, ..."
_DMESG_TS = re.compile(r"^\[\s*(\d+\.\d+)\]")
_KMSG_TS = re.compile(r"^\d+,\d+,(\d+),[^;]*;")
_XID = re.compile(r"NVRM: Xid \(PCI:([0-9A-Fa-f:.]+)\): (\d+)")
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class Fault(BaseModel):
    kind: str  # row_remap_pending | row_remap_failure | ecc_uncorrectable | xid
    gpu: str  # index or PCI address
    detail: str


class XidEvent(BaseModel):
    t: float  # seconds since boot (kernel log time)
    pci: str
    xid: int
    line: str


class XidState(BaseModel):
    """What the previous run saw: where it stopped reading, and the XID faults still standing."""

    boot_id: str = ""
    last_t: float = -1.0
    standing: list[Fault] = []
    drained: bool = False  # the previous run drained the node


class HealthReport(BaseModel):
    node: str
    nvml: str  # "ok", "stand-in", or why NVML could not be read
    gpus: int = 0
    faults: list[Fault] = []
    ignored_xids: list[str] = []
    action: str = "none"  # none | drained | resumed | left (drained by someone else)
    reason: str = ""


def parse_kernel_log(lines: Iterable[str]) -> list[XidEvent]:
    events = []
    for line in lines:
        m = _XID.search(line)
        if not m:
            continue
        ts = _DMESG_TS.match(line)
        km = _KMSG_TS.match(line)
        t = float(ts.group(1)) if ts else int(km.group(1)) / 1e6 if km else 0.0
        events.append(XidEvent(t=t, pci=m.group(1), xid=int(m.group(2)), line=line.strip()))
    return events


def read_kernel_log(path: Path | None) -> list[str]:
    """The kernel log: a file (tests, a saved log) or `dmesg` (root; the driver's NVRM lines are there)."""
    if path is not None:
        return path.read_text(errors="replace").splitlines()
    try:
        res = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("kernel_log_unreadable", error=str(exc))
        return []
    if res.returncode != 0:
        log.warning("kernel_log_unreadable", error=res.stderr.strip()[:200])
        return []
    return res.stdout.splitlines()


def boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def load_state(path: Path) -> XidState:
    try:
        return XidState.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return XidState()


def save_state(path: Path, state: XidState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(state.model_dump_json())
    tmp.replace(path)


def new_xid_faults(
    events: Sequence[XidEvent], state: XidState, boot: str, critical: frozenset[int] = CRITICAL_XIDS
) -> tuple[list[Fault], list[str], XidState]:
    """Critical XIDs logged after the previous run's last line (all of this boot's on a first run or
    after a reboot), the others as text, and the state to save."""
    if state.boot_id != boot:  # rebooted (or first run): kernel time restarted, old faults are gone
        state = XidState(boot_id=boot)
    fresh = [e for e in events if e.t > state.last_t]
    faults = [Fault(kind="xid", gpu=e.pci, detail=f"XID {e.xid}") for e in fresh if e.xid in critical]
    ignored = [f"XID {e.xid} on {e.pci} (not a GPU fault)" for e in fresh if e.xid not in critical]
    last = max((e.t for e in events), default=state.last_t)
    known = {(f.gpu, f.detail) for f in state.standing}
    standing = [*state.standing, *(f for f in faults if (f.gpu, f.detail) not in known)]
    return faults, ignored, XidState(boot_id=boot, last_t=max(last, state.last_t), standing=standing)


def nvml_faults(nv: Any) -> tuple[list[Fault], int]:
    """Remapped rows and uncorrectable ECC of every GPU NVML sees; a counter a GPU lacks is skipped."""
    faults: list[Fault] = []
    count = int(nv.nvmlDeviceGetCount())
    for i in range(count):
        h = nv.nvmlDeviceGetHandleByIndex(i)
        try:
            _corr, _unc, pending, failure = nv.nvmlDeviceGetRemappedRows(h)
            if failure:
                faults.append(Fault(kind="row_remap_failure", gpu=str(i), detail="row remap failure"))
            if pending:
                faults.append(Fault(kind="row_remap_pending", gpu=str(i), detail="row remap pending (reset needed)"))
        except Exception as exc:  # NotSupported before Ampere: retired pages are the older signal
            log.debug("remapped_rows_unsupported", gpu=i, error=str(exc))
        try:
            n = int(nv.nvmlDeviceGetTotalEccErrors(h, nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, nv.NVML_VOLATILE_ECC))
            if n > 0:
                faults.append(Fault(kind="ecc_uncorrectable", gpu=str(i), detail=f"{n} uncorrectable ECC errors"))
        except Exception as exc:  # ECC off or unsupported
            log.debug("ecc_unsupported", gpu=i, error=str(exc))
    return faults, count


def reason_text(faults: Sequence[Fault]) -> str:
    """The drain reason: short (Slurm shows it in sinfo -R), naming the fault as the daemon reads it."""
    parts = [f"GPU {f.gpu} {f.detail}" for f in faults[:3]]
    more = f" (+{len(faults) - 3} more)" if len(faults) > 3 else ""
    return f"{REASON_PREFIX} {'; '.join(parts)}{more}"


# --- the node and Slurm -------------------------------------------------------------------------


def node_name(explicit: str | None = None) -> str:
    """--node, else $SLURMD_NODENAME (slurmd sets it for its HealthCheckProgram, on 22.05 and 24.11,
    and per node on the one-host mini cluster's `slurmd -N`), else the short host name."""
    return explicit or os.environ.get("SLURMD_NODENAME") or socket.gethostname().split(".")[0]


def node_state(node: str) -> tuple[list[str], str]:
    """(state flags, reason) from `scontrol show node -o`."""
    res = subprocess.run(["scontrol", "show", "node", node, "-o"], capture_output=True, text=True, timeout=30)
    if res.returncode != 0 or "NodeName=" not in res.stdout:
        raise RuntimeError(f"scontrol does not know node {node!r}: {res.stderr.strip() or res.stdout.strip()}")
    out = res.stdout.strip()
    state = re.search(r"\bState=(\S+)", out)
    reason = re.search(r"\bReason=(.*?)(?: \[[^\]]*\])?(?= [A-Z][A-Za-z]*=|$)", out)
    flags = re.split(r"[+*]", state.group(1)) if state else []
    return [f for f in flags if f], (reason.group(1).strip() if reason else "")


def _scontrol_update(node: str, *args: str) -> None:
    res = subprocess.run(["scontrol", "update", f"NodeName={node}", *args], capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise RuntimeError(f"scontrol update {node} {' '.join(args)} failed: {res.stderr.strip()}")


def _drained(flags: Sequence[str]) -> bool:
    return bool({"DRAIN", "DRAINED", "DRAINING"} & set(flags))


def apply(report: HealthReport, flags: Sequence[str], reason: str, dry_run: bool = False) -> HealthReport:
    """Drain on faults, resume when healthy: only a drain this program set is ever cleared, and a
    node someone else drained is left as it is (its reason kept)."""
    ours = _drained(flags) and reason.startswith(REASON_PREFIX)
    if report.faults:
        text = reason_text(report.faults)
        if _drained(flags) and not ours:
            return report.model_copy(update={"action": "left", "reason": reason})
        if ours and reason == text:
            return report.model_copy(update={"action": "drained", "reason": text})
        if not dry_run:
            _scontrol_update(report.node, "State=DRAIN", f"Reason={text}")
        return report.model_copy(update={"action": "drained", "reason": text})
    if ours:
        if not dry_run:
            _scontrol_update(report.node, "State=RESUME")
        return report.model_copy(update={"action": "resumed", "reason": reason})
    return report


def run_check(
    node: str, nv: Any, nvml_note: str, kernel_lines: Sequence[str], state_path: Path,
    critical: frozenset[int] = CRITICAL_XIDS, dry_run: bool = False,
) -> HealthReport:  # fmt: skip
    """Read NVML and the kernel log, drain or resume the node, save the XID state."""
    flags, reason = node_state(node)
    ours = _drained(flags) and reason.startswith(REASON_PREFIX)
    state = load_state(state_path)
    if state.drained and not ours:  # an admin resumed the node this check had drained: dealt with
        state = state.model_copy(update={"standing": []})
    faults, gpus = nvml_faults(nv) if nv is not None else ([], 0)
    _new, ignored, state = new_xid_faults(parse_kernel_log(kernel_lines), state, boot_id(), critical)
    report = HealthReport(node=node, nvml=nvml_note, gpus=gpus, faults=faults + state.standing, ignored_xids=ignored)
    report = apply(report, flags, reason, dry_run)
    if not dry_run:
        save_state(state_path, state.model_copy(update={"drained": report.action == "drained"}))
    return report


def render(report: HealthReport) -> str:
    lines = [f"node {report.node}: {len(report.faults)} GPU fault(s), {report.gpus} GPU(s) via NVML ({report.nvml})"]
    lines += [f"  fault: GPU {f.gpu}: {f.detail}" for f in report.faults]
    lines += [f"  noted: {x}" for x in report.ignored_xids]
    action = {
        "none": "healthy: node left alone",
        "drained": f"drained: {report.reason}",
        "resumed": f"resumed (its drain was this check's: {report.reason})",
        "left": f"already drained by someone else ({report.reason}): left alone",
    }[report.action]
    lines.append(f"  action: {action}")
    return "\n".join(lines)


def as_json(report: HealthReport) -> str:
    return json.dumps(report.model_dump())
