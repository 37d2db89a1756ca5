"""Admin commands: `omnipilot daemon|mode|status|reload|explain|config check|hook render`."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from omnipilot.config import DEFAULT_CONFIG, ConfigError, Settings, load_settings
from omnipilot.daemon.control import ControlError, control_call
from omnipilot.daemon.decisionlog import find_decision
from omnipilot.daemon.modes import MODES

_TOKEN_RE = re.compile(r"omnipilot\[([a-z0-9]{6,16})\]")


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config or os.environ.get("OMNIPILOT_CONFIG") or DEFAULT_CONFIG)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(_config_path(args))


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="omnipilot.toml (default: $OMNIPILOT_CONFIG, else etc/omnipilot.toml)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("daemon", help="run the advice daemon in the foreground")
    _add_config(p)
    p.set_defaults(func=cmd_daemon)

    p = sub.add_parser("mode", help="show or set the mode: off | observe | suggest | enforce")
    _add_config(p)
    p.add_argument("mode", nargs="?", choices=MODES)
    p.set_defaults(func=cmd_mode)

    p = sub.add_parser("status", help="daemon up?, mode, model version, counts")
    _add_config(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("reload", help="reload the cost model and catalogs (like SIGHUP)")
    _add_config(p)
    p.set_defaults(func=cmd_reload)

    p = sub.add_parser("explain", help="print the full decision behind a job's advice")
    _add_config(p)
    p.add_argument("jobid", nargs="?")
    p.add_argument("--token")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_cmd", required=True)
    c = csub.add_parser("check", help="validate omnipilot.toml and the rendered hook settings")
    _add_config(c)
    c.add_argument("--hook-dir", help="directory holding job_submit.lua and omnipilot_settings.lua")
    c.set_defaults(func=cmd_config_check)

    p = sub.add_parser("hook", help="hook tools")
    hsub = p.add_subparsers(dest="hook_cmd", required=True)
    h = hsub.add_parser(
        "render", help="write omnipilot_settings.lua beside job_submit.lua and touch the hook"
    )
    _add_config(h)
    h.add_argument("--hook-dir", required=True, help="the directory of job_submit.lua (usually /etc/slurm)")
    h.set_defaults(func=cmd_hook_render)


def cmd_daemon(args: argparse.Namespace) -> int:
    from omnipilot.daemon.main import run_daemon

    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"omnipilot daemon: {exc}", file=sys.stderr)
        return 2
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
    print(reply["mode"])
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    reply = _call(args, {"cmd": "status"})
    if reply is None:
        if args.json:
            print(json.dumps({"up": False}))
        return 1
    reply.pop("ok", None)
    reply["up"] = True
    if args.json:
        print(json.dumps(reply, indent=2))
        return 0
    c = reply.get("counts", {})
    print(f"daemon: up (pid {reply.get('pid')}, uptime {reply.get('uptime_s', 0):.0f}s)")
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


def cmd_config_check(args: argparse.Namespace) -> int:
    from omnipilot.slurm.hooksettings import check_hook_settings

    path = _config_path(args)
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        print(f"config check: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"config check: {path}: ok")
    if args.hook_dir:
        problems = check_hook_settings(settings, Path(args.hook_dir))
        for p in problems:
            print(f"config check: FAILED: {p}", file=sys.stderr)
        if problems:
            return 1
        print(f"config check: {args.hook_dir}/omnipilot_settings.lua: ok (matches {path})")
    return 0


def cmd_hook_render(args: argparse.Namespace) -> int:
    from omnipilot.slurm.hooksettings import write_hook_settings

    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"hook render: {exc}", file=sys.stderr)
        return 1
    target = write_hook_settings(settings, Path(args.hook_dir))
    print(f"wrote {target}")
    return 0
