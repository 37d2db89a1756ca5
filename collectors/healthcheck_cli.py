"""`omnipilot healthcheck`: GPU health of this node; drains it on a fault (collectors/healthcheck.py).

Exit status: 0 healthy (or resumed), 1 a fault was found, 2 bad input or Slurm could not be asked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omnipilot.cli_options import add_json_arg

DEFAULT_STATE = Path("/var/lib/omnipilot/healthcheck.json")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "healthcheck",
        help="GPU health of this node (NVML, kernel-log XIDs): drain on a fault, resume when healthy",
        description="Run from slurm.conf (HealthCheckProgram=/path/to/omnipilot-healthcheck, a wrapper "
        "that runs `omnipilot healthcheck`) or as a check inside LBNL NHC. Drains this node on a GPU fault "
        "with a reason OmniPilot's daemon reads as one; resumes only a drain it set itself.",
    )
    p.add_argument("--node", help="the Slurm node name (default: $SLURMD_NODENAME, else the short host name)")
    p.add_argument("--kernel-log", type=Path, help="read this file instead of `dmesg` (a saved kernel log)")
    p.add_argument("--state-file", type=Path, default=DEFAULT_STATE,
                   help=f"where the last run stopped reading the kernel log (default {DEFAULT_STATE})")  # fmt: skip
    p.add_argument("--xids", help="comma-separated XIDs that drain the node (default: the hardware ones)")
    p.add_argument("--dry-run", action="store_true", help="report only: never drain or resume")
    add_json_arg(p)
    p.set_defaults(func=cmd_healthcheck)


def cmd_healthcheck(args: argparse.Namespace) -> int:
    from omnipilot.collectors import healthcheck as hc
    from omnipilot.collectors.nvml import load_nvml

    critical = hc.CRITICAL_XIDS
    if args.xids:
        try:
            critical = frozenset(int(x) for x in args.xids.split(",") if x.strip())
        except ValueError:
            print(f"omnipilot healthcheck: --xids {args.xids!r}: give numbers, e.g. 48,79,94", file=sys.stderr)
            return 2
    try:
        lines = hc.read_kernel_log(args.kernel_log)
    except OSError as exc:
        print(f"omnipilot healthcheck: kernel log {args.kernel_log}: {exc}", file=sys.stderr)
        return 2
    nv, why = load_nvml()
    note = "stand-in" if getattr(nv, "STANDIN", False) else "ok" if nv is not None else why
    try:
        report = hc.run_check(hc.node_name(args.node), nv, note, lines, args.state_file, critical, args.dry_run)
    except (RuntimeError, OSError) as exc:
        print(f"omnipilot healthcheck: {exc}", file=sys.stderr)
        return 2
    print(hc.as_json(report) if args.json else hc.render(report))
    return 1 if report.faults else 0
