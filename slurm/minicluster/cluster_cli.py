"""`omnipilot cluster up|down|status|env` and `omnipilot demo`: the local mini cluster."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from omnipilot.paths import data_home

DEFAULT_STATE_DIR = data_home() / "cluster"


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir or os.environ.get("OMNIPILOT_CLUSTER_DIR") or DEFAULT_STATE_DIR)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cluster", help="the local Slurm mini cluster (demo and tests)")
    csub = p.add_subparsers(dest="cluster_cmd", required=True)
    for name, func, helptext in (
        ("up", cmd_up, "start munge, slurmctld, one slurmd per node and the OmniPilot daemon"),
        ("down", cmd_down, "stop what `up` started"),
        ("status", cmd_status, "which processes run"),
        ("env", cmd_env, "print the shell exports for sbatch/squeue against the cluster"),
    ):
        c = csub.add_parser(name, help=helptext)
        c.add_argument("--state-dir", help=f"all cluster state (default {DEFAULT_STATE_DIR})")
        if name == "up":
            c.add_argument("--no-daemon", action="store_true", help="Slurm only, no OmniPilot daemon")
            c.add_argument(
                "--accounting",
                action="store_true",
                help="also start MariaDB + slurmdbd (sacct, `omnipilot harvest`) under the state dir",
            )
        if name == "status":
            c.add_argument("--json", action="store_true")
        c.set_defaults(func=func)

    p = sub.add_parser("demo", help="bring the cluster up, submit sample vLLM jobs, show their advice")
    p.add_argument("--state-dir", help=f"cluster state (default {DEFAULT_STATE_DIR})")
    p.add_argument("--mode", default="suggest", choices=["suggest", "enforce"])
    p.add_argument("--keep", action="store_true", help="leave the cluster running afterwards (default)")
    p.add_argument("--down", action="store_true", help="stop the cluster at the end")
    p.set_defaults(func=cmd_demo)


def cmd_up(args: argparse.Namespace) -> int:
    from omnipilot.slurm.minicluster.cluster import ClusterError, MiniCluster

    try:
        info = MiniCluster(_state_dir(args)).up(with_daemon=not args.no_daemon, accounting=args.accounting)
    except ClusterError as exc:
        print(f"omnipilot cluster up: {exc}", file=sys.stderr)
        return 1
    print(f"cluster up (Slurm {info.slurm_version}) in {info.state_dir}")
    print(f'use it with:  eval "$(omnipilot cluster env --state-dir {info.state_dir})"')
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from omnipilot.slurm.minicluster.cluster import MiniCluster

    stopped = MiniCluster(_state_dir(args)).down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from omnipilot.slurm.minicluster.cluster import MiniCluster

    st = MiniCluster(_state_dir(args)).status()
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        print(f"cluster in {st['state_dir']}: {'up' if st['up'] else 'down'}")
        for name, p in st["processes"].items():  # type: ignore[attr-defined]
            print(f"  {name:24s} pid {p['pid']:<8d} {'running' if p['alive'] else 'stopped'}")
    return 0 if st["up"] else 1


def cmd_env(args: argparse.Namespace) -> int:
    from omnipilot.slurm.minicluster.cluster import MiniCluster

    info = MiniCluster(_state_dir(args)).info()
    if info is None:
        print(
            f"omnipilot cluster env: no cluster in {_state_dir(args)}; run `omnipilot cluster up`",
            file=sys.stderr,
        )
        return 1
    for k, v in info.env().items():
        print(f"export {k}={shlex.quote(v)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from omnipilot.slurm.minicluster.demo import run_demo

    return run_demo(_state_dir(args), mode=args.mode, stop_after=args.down)
