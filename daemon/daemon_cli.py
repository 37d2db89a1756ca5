"""Daemon commands: `omnipilot daemon|mode|status|reload|explain`."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omnipilot.cli_options import add_config_arg, add_json_arg
from omnipilot.config import ConfigError, Settings, is_example, load_settings
from omnipilot.daemon.clusterstate.queue_wait import estimate_wait
from omnipilot.daemon.control import ControlError, control_call
from omnipilot.daemon.decisionlog import find_decision
from omnipilot.daemon.modes import MODES

_TOKEN_RE = re.compile(r"omnipilot\[([a-z0-9]{6,16})\]")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _add_config(p: argparse.ArgumentParser) -> None:
    add_config_arg(p)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("daemon", help="run the advice daemon in the foreground")
    _add_config(p)
    p.set_defaults(func=cmd_daemon)

    p = sub.add_parser("mode", help="show or set the mode: off | observe | suggest | enforce")
    _add_config(p)
    add_json_arg(p)
    p.add_argument("mode", nargs="?", choices=MODES)
    p.set_defaults(func=cmd_mode)

    p = sub.add_parser("status", help="daemon up?, mode, model version, counts")
    _add_config(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("reload", help="reload the cost model and catalogs (like SIGHUP)")
    _add_config(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_reload)

    p = sub.add_parser("explain", help="print the full decision behind a job's advice")
    _add_config(p)
    p.add_argument("jobid", nargs="?")
    p.add_argument("--token")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)

    _register_state(sub)


def _register_state(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("state", help="read the cluster state once (GPUs per partition and kind, queue wait)")
    p.add_argument("--backend", choices=["auto", "cli", "pyslurm"], default="auto")
    p.add_argument("--export", help="also write the snapshot as JSON to this file (atomically)")
    add_json_arg(p)
    p.set_defaults(func=cmd_state)


def cmd_daemon(args: argparse.Namespace) -> int:
    from omnipilot.daemon.main import run_daemon

    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"omnipilot daemon: {exc}", file=sys.stderr)
        return 2
    print(f"omnipilot daemon: config {settings.source}", file=sys.stderr)
    if settings.source is not None and is_example(settings.source):
        # a daemon on the example's production paths (/run/omnipilot, /var/lib/omnipilot) is almost
        # always a mistake on a test machine, and silently competes with a site's real one
        print(
            "omnipilot daemon: this is the packaged example configuration; copy it to "
            "/etc/omnipilot/omnipilot.toml (or pass --config) to run a site's daemon",
            file=sys.stderr,
        )
    return run_daemon(settings)


def _call(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return control_call(_settings(args).daemon.control_socket, request)
    except (ControlError, ConfigError) as exc:
        print(f"omnipilot: {exc}", file=sys.stderr)
        return None


def cmd_mode(args: argparse.Namespace) -> int:
    reply = _call(args, {"cmd": "mode", "set": args.mode} if args.mode else {"cmd": "mode"})
    if reply is None:
        return 1
    if args.json:
        print(json.dumps({"mode": reply["mode"]}))
    else:
        print(reply["mode"])
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"omnipilot status: {exc}", file=sys.stderr)
        return 2
    try:
        reply: dict[str, Any] = control_call(settings.daemon.control_socket, {"cmd": "status"})
    except ControlError as exc:
        if args.json:
            print(json.dumps({"up": False, "config": str(settings.source), "error": str(exc)}))
        else:
            print(f"daemon: down ({exc})")
            print(f"config: {settings.source}")
        return 1
    reply.pop("ok", None)
    reply["up"] = True
    reply["config"] = str(settings.source)
    if args.json:
        print(json.dumps(reply, indent=2))
        return 0
    c = reply.get("counts", {})
    print(f"daemon: up (pid {reply.get('pid')}, uptime {reply.get('uptime_s', 0):.0f}s)")
    print(f"config: {settings.source}")
    print(f"mode: {reply.get('mode')}")
    print(f"model: {reply.get('model_version')}")
    print(f"cluster state: {reply.get('state_freshness')} (age {reply.get('state_age_s')}s)")
    print("counts: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    print(f"fail-open: {reply.get('hook_failures_reported', 0)} jobs the hook let through unadvised (reported with its next request)")
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    reply = _call(args, {"cmd": "reload"})
    if reply is None:
        return 1
    if args.json:
        print(json.dumps(reply))
        return 0
    print(
        f"reloaded: model {reply.get('model_version')}"
        + (f" ({reply['warning']})" if reply.get("warning") else "")
    )
    return 0


def token_for_job(jobid: str, env: dict[str, str] | None = None) -> str | None:
    """Find the advice token in a job's comment: scontrol for live jobs, sacct for finished ones."""
    run_env = {**os.environ, **(env or {})}
    for cmd in (
        ["scontrol", "show", "job", jobid, "-o"],
        ["sacct", "-X", "-n", "-P", "-j", jobid, "-o", "Comment"],
    ):
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=15, env=run_env)
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = _TOKEN_RE.search(res.stdout)
        if m:
            return m.group(1)
    return None


def cmd_explain(args: argparse.Namespace) -> int:
    settings = _settings(args)
    token = args.token
    if token is None:
        if not args.jobid:
            print("omnipilot explain: give a JOBID or --token T", file=sys.stderr)
            return 2
        token = token_for_job(args.jobid)
        if token is None:
            print(
                f"omnipilot explain: job {args.jobid} has no OmniPilot token in its comment "
                "(not advised, or its record expired from scontrol and accounting is off)",
                file=sys.stderr,
            )
            return 1
    rec = find_decision(settings.decision_log_path, token)
    if rec is None:
        print(f"omnipilot explain: token {token} not in {settings.decision_log_path}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(rec, indent=2))
        return 0
    from omnipilot.daemon.explain import format_record

    print(format_record(rec))
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    from omnipilot.daemon.clusterstate.cache import select_backend

    try:
        snap = select_backend(args.backend).read()
    except RuntimeError as exc:
        print(f"omnipilot state: {exc}", file=sys.stderr)
        return 1
    summary = {p: {k: v.model_dump() for k, v in kinds.items()} for p, kinds in snap.gpu_summary().items()}
    waits = {p: {k: estimate_wait(snap, p, k, 1).model_dump() for k in kinds} for p, kinds in summary.items()}
    unhealthy = {n.name: n.reason for n in snap.nodes.values() if not n.usable}
    doc = {
        "taken_at": datetime.fromtimestamp(snap.taken_at, UTC).isoformat(),
        "backend": snap.backend,
        "error": snap.error,
        "gpus": summary,
        "queue_wait_1gpu": waits,
        "unhealthy_nodes": unhealthy,
    }
    if args.export:
        path = Path(args.export)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps({**doc, "snapshot": snap.model_dump(mode="json")}))
        tmp.replace(path)
    if args.json:
        print(json.dumps(doc))
        return 0
    print(
        f"cluster state via {snap.backend} at {doc['taken_at']}"
        + (f" (errors: {snap.error})" if snap.error else "")
    )
    for p, kinds in summary.items():
        for k, v in kinds.items():
            w = waits[p][k]["seconds"]
            print(
                f"  {p:10s} {k:8s} {v['free']:>3}/{v['configured']:<3} free, {v['allocated']} allocated, "
                f"{v['unusable']} unusable, {v['pending']} pending; wait(1 GPU) "
                f"{'n/a' if w is None else f'{w / 60:.0f} min'}"
            )
    for name, reason in unhealthy.items():
        print(f"  excluded: {name} ({reason or 'down/drained'})")
    return 0
