"""`omnipilot cluster up|down|status|env` and `omnipilot demo`: the local mini cluster.

With `--json` (up, down, status, demo) stdout is one JSON document; what the text mode says goes to
stderr or nowhere, and errors stay one line on stderr with the same exit status."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from pydantic import BaseModel

from omnipilot.cli_options import add_json_arg, print_json
from omnipilot.paths import data_home

DEFAULT_STATE_DIR = data_home() / "cluster"


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir or os.environ.get("OMNIPILOT_CLUSTER_DIR") or DEFAULT_STATE_DIR)


class ClusterUpResult(BaseModel):
    """What `cluster up --json` prints: where the cluster lives, how to reach it, what this call started."""

    state_dir: Path
    slurm_version: str
    slurm_conf: Path
    omnipilot_config: Path
    ctld_port: int
    node_ports: dict[str, int]
    endpoint: str  # the daemon's ZMTP endpoint the hook uses (ipc://SOCKET)
    control_socket: Path
    accounting: bool
    db_port: int | None
    dbd_port: int | None
    processes: dict[str, int]  # name -> pid of everything the cluster runs
    started: list[str]  # started by this call
    already_running: list[str]
    env: dict[str, str]  # the exports of `omnipilot cluster env`


class ClusterDownResult(BaseModel):
    state_dir: Path
    stopped: list[str]  # empty when nothing was running


def _alive_now(state_dir: Path) -> set[str]:
    from omnipilot.slurm.minicluster.cluster import MiniCluster

    procs = MiniCluster(state_dir).status()["processes"]
    assert isinstance(procs, dict)
    return {name for name, p in procs.items() if p["alive"]}


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
        if name != "env":
            add_json_arg(c)
        if name == "up":
            c.add_argument("--no-daemon", action="store_true", help="Slurm only, no OmniPilot daemon")
            c.add_argument(
                "--accounting",
                action="store_true",
                help="also start MariaDB + slurmdbd (sacct, `omnipilot harvest`) under the state dir",
            )
        c.set_defaults(func=func)

    p = sub.add_parser("demo", help="bring the cluster up, submit sample vLLM jobs, show their advice")
    p.add_argument("--state-dir", help=f"cluster state (default {DEFAULT_STATE_DIR})")
    p.add_argument("--mode", default="suggest", choices=["suggest", "enforce"])
    p.add_argument("--keep", action="store_true", help="leave the cluster running afterwards (default)")
    p.add_argument("--down", action="store_true", help="stop the cluster at the end")
    add_json_arg(p)
    p.set_defaults(func=cmd_demo)


def cmd_up(args: argparse.Namespace) -> int:
    from omnipilot.slurm.minicluster.cluster import ClusterError, MiniCluster

    state_dir = _state_dir(args)
    before = _alive_now(state_dir)
    try:
        info = MiniCluster(state_dir).up(with_daemon=not args.no_daemon, accounting=args.accounting)
    except ClusterError as exc:
        print(f"omnipilot cluster up: {exc}", file=sys.stderr)
        return 1
    if args.json:
        after = _alive_now(state_dir)
        print_json(ClusterUpResult(
            **info.model_dump(include={"state_dir", "slurm_version", "slurm_conf", "omnipilot_config", "ctld_port",
                                       "node_ports", "endpoint", "control_socket", "accounting", "db_port", "dbd_port"}),
            processes=info.pids, started=sorted(after - before), already_running=sorted(after & before),
            env=info.env(),
        ))  # fmt: skip
        return 0
    print(f"cluster up (Slurm {info.slurm_version}) in {info.state_dir}")
    print(f'use it with:  eval "$(omnipilot cluster env --state-dir {info.state_dir})"')
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from omnipilot.slurm.minicluster.cluster import MiniCluster

    mc = MiniCluster(_state_dir(args))
    stopped = mc.down()
    if args.json:
        print_json(ClusterDownResult(state_dir=mc.dir, stopped=stopped))
        return 0
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

    rc, result = run_demo(_state_dir(args), mode=args.mode, stop_after=args.down, json_out=args.json)
    if args.json and result is not None:
        print_json(result)
    return int(rc)
