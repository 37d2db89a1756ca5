"""Daemon commands: `omnipilot daemon|mode|status|reload|explain`."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omnipilot.cli_options import add_config_arg, add_json_arg
from omnipilot.config import ConfigError, Settings, is_example, load_settings
from omnipilot.daemon.clusterstate.queue_wait import estimate_wait
from omnipilot.daemon.control import ControlError, control_call, explain_socket
from omnipilot.daemon.decisionlog import find_decision
from omnipilot.daemon.modes import MODES

_TOKEN_RE = re.compile(r"omnipilot\[([a-z0-9]{6,16})\]")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def loud_config_note(settings: Settings) -> tuple[str, bool] | None:
    """(What is wrong, whether it is fatal) when the configuration is one a site would not run: an
    empty file (every default, the production paths included) or the packaged example."""
    path = settings.source
    if path is None:
        return None
    if is_example(path):
        return (
            f"{path} is the packaged EXAMPLE configuration (production paths /run/omnipilot, "
            "/var/lib/omnipilot): copy it to /etc/omnipilot/omnipilot.toml and edit it, or pass --config",
            False,
        )
    try:
        with path.open("rb") as fh:
            empty = not tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if empty:
        return (
            f"{path} is EMPTY: every setting would be its default, including the production paths "
            f"({settings.daemon.endpoint}, {settings.daemon.state_dir}); start from the example "
            "(etc/omnipilot.toml in the package)",
            True,
        )
    return None


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

    p = sub.add_parser(
        "explain",
        help="print the full decision behind a job's advice (the job's owner or an admin)",
        epilog="A user asks the daemon (it checks that the job is theirs); an admin who can read the "
        "decision log reads it directly, so --token works with the daemon down.",
    )
    _add_config(p)
    p.add_argument("jobid", nargs="?", help="a job id (its comment holds the token)")
    p.add_argument("--token", help="the token sbatch printed, e.g. omnipilot[yqta75fu] -> yqta75fu")
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
    note = loud_config_note(settings)
    if note is not None:
        # a daemon on the default production paths (/run/omnipilot, /var/lib/omnipilot) is almost
        # always a mistake on a test machine, and silently competes with a site's real one
        text, fatal = note
        print(f"omnipilot daemon: {'ERROR' if fatal else 'WARNING'}: {text}", file=sys.stderr)
        if fatal:
            return 2
    from omnipilot.daemon.main import AlreadyRunning

    try:
        return int(run_daemon(settings))
    except AlreadyRunning as exc:
        print(f"omnipilot daemon: {exc}", file=sys.stderr)
        return 1


def _call(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any] | None:
    try:
        reply: dict[str, Any] = control_call(_settings(args).daemon.control_socket, request)
        return reply
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
    print(f"metrics: {reply.get('metrics_url') or 'off ([metrics] enabled = false)'}")
    print("answered: " + (", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none yet"))
    late = reply.get("answered_too_late", 0)
    print(
        f"fail-open: {reply.get('hook_failures_reported', 0)} jobs the hook let through unadvised "
        f"(reported with its next request; {late} of them answered after the hook stopped waiting, "
        "not counted above)"
    )
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    reply = _call(args, {"cmd": "reload"})  # a failed reload is an error reply: named, exit 1
    if reply is None:
        if args.json:
            print(json.dumps({"ok": False}))
        return 1
    if args.json:
        print(json.dumps(reply))
        return 0
    print(f"reloaded: model {reply.get('model_version')}")
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


class ExplainError(RuntimeError):
    pass


def _record_for(settings: Settings, token: str) -> dict[str, Any]:
    """An admin (who can read the log) reads it directly, so this works with the daemon down;
    anyone else asks the daemon, which shows a decision only to the job's owner."""
    path = settings.decision_log_path
    if os.access(path, os.R_OK):
        found: dict[str, Any] | None = find_decision(path, token)
        if found is None:
            raise ExplainError(f"token {token} not in {path} (nor in its rotated files)")
        return found
    sock = explain_socket(settings.daemon.control_socket)
    try:
        reply = control_call(sock, {"cmd": "explain", "token": token})
    except ControlError as exc:
        if not sock.exists() or "no daemon" in str(exc) or "does not answer" in str(exc):
            raise ExplainError(
                f"the daemon does not answer on {sock} and the decision log is readable only by "
                "root and SlurmUser: ask your Slurm admin, or try again when the daemon runs"
            ) from exc
        raise ExplainError(str(exc)) from exc
    rec = reply.get("record")
    if not isinstance(rec, dict):
        raise ExplainError("the daemon sent no record")
    return rec


def cmd_explain(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"omnipilot explain: {exc}", file=sys.stderr)
        return 2
    token = args.token
    if token is not None:
        token = _TOKEN_RE.sub(lambda m: m.group(1), token.strip())
        if not token.isalnum() or len(token) > 32:
            print(f"omnipilot explain: {args.token[:40]!r} is not a token (letters and digits, as in omnipilot[yqta75fu])", file=sys.stderr)
            return 2
    else:
        if not args.jobid:
            print("omnipilot explain: give a JOBID or --token T", file=sys.stderr)
            return 2
        if not re.fullmatch(r"\d+(_\d+)?", args.jobid):
            print(f"omnipilot explain: {args.jobid[:40]!r} is not a job id (digits, or ARRAYID_INDEX)", file=sys.stderr)
            return 2
        token = token_for_job(args.jobid)
        if token is None:
            print(
                f"omnipilot explain: job {args.jobid} has no OmniPilot token in its comment "
                "(not advised, or its record expired from scontrol and accounting is off)",
                file=sys.stderr,
            )
            return 1
    try:
        rec = _record_for(settings, token)
    except ExplainError as exc:
        print(f"omnipilot explain: {exc}", file=sys.stderr)
        return 1
    from omnipilot.daemon.redact import redact

    rec = dict(redact(rec))  # records written before redaction existed must not print secrets either
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
